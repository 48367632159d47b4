"""Rebuild the deployment reference that ships with evalrefine for the embedded model.

It holds scores only (each prompt's id, dataset, token count and sentence log-probabilities), never
prompt text. Sources: ../shared/data/deploy_prompts.jsonl (450 WildChat first turns, ODC-BY) and
../shared/data/eval_prompts.jsonl (544 public benchmark prompts); see that folder's ATTRIBUTION.md.

The headline monitor is chosen by leave-one-dataset-out AUROC (core/calibration/reference_build.py) and the
figures, per held-out dataset next to prompt length and a TF-IDF classifier, are stored in the
reference's provenance; the script alone does the whole rebuild (scores come from the score cache
when the monitor's identity has not changed).

Usage: python benchmarks/build_default_reference.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _common import SHARED_DATA

from evalrefine.backends.registry import load_backend
from evalrefine.config import load_settings
from evalrefine.core.calibration.reference_build import build_reference
from evalrefine.core.io.prompt_sets import read_prompt_set
from evalrefine.core.scoring.batch import PromptScored, score_records
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache

NAME = "smollm2-wildchat"
TARGET = Path(__file__).resolve().parents[1] / "evalrefine" / "references" / f"{NAME}.json"


def main() -> None:
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    sentences = list(dict.fromkeys([*settings.monitor.sentences, *settings.monitor.joint_sentences]))
    monitor = StartOfCotMonitor(backend, sentences)
    cache = ScoreCache(settings.cache_dir / "scores.sqlite")

    def scored(name: str) -> list[PromptScored]:
        records = read_prompt_set(SHARED_DATA / name)
        order = sorted(range(len(records)), key=lambda i: len(records[i].conversation.as_dicts()[-1]["content"]))
        # similar lengths batch well; the reference keeps the file's order
        events = score_records(monitor, [records[i] for i in order], cache, batch_size=8)
        done = {order[e.index]: e for e in events if isinstance(e, PromptScored)}
        return [done[i] for i in sorted(done)]

    t0 = time.perf_counter()
    deploy, evals = scored("deploy_prompts.jsonl"), scored("eval_prompts.jsonl")
    provenance = {
        "description": "Scores (no text) of real user first turns and public eval prompts, for percentiles.",
        "deploy_source": "WildChat (allenai/WildChat-1M, ODC-BY): 450 English first user turns from two public "
        "samples, deduplicated",
        "eval_source": "StrongREJECT, HarmBench, AdvBench (MIT), anthropics/evals advanced-ai-risk and persona "
        "(CC-BY-4.0): 544 prompts",
        "built_with": "benchmarks/build_default_reference.py",
        "model": backend.name,
        "model_weights": backend.fingerprint,
        "identity": monitor.identity,
        "sentence_choice": "DEFAULT_JOINT_SENTENCES were chosen by benchmarks/bench_ood.py on these same prompts, so "
        "the held-out figures below are optimistic about that choice; bench_ood.py's nested row is not",
    }
    ref, report = build_reference(
        NAME,
        backend.name,
        monitor.model_fingerprint,
        deploy,
        evals,
        settings.monitor.sentences,
        settings.monitor.joint_sentences,
        provenance,
        settings.calibration.folds,
    )
    ref.save(TARGET)
    print(f"wrote {TARGET} ({len(deploy)} deploy, {len(evals)} eval, headline {ref.joint_method()})")
    if report:
        print(report.recommendation())
        for h in report.held_out:
            cells = ", ".join(f"{k} {v.auroc:.3f}" for k, v in h.results.items())
            print(f"  held out {h.name}: {cells}")
    if ref.joint is not None:
        print("headline weights (standardised, all >= 0):", ref.joint.active())
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
