"""Rebuild the deployment reference that ships with evalrefine for the embedded model.

It holds scores only (each prompt's id, dataset, token count and sentence log-probabilities), never
prompt text. Sources: ../shared/data/deploy_prompts.jsonl (450 WildChat first turns, ODC-BY) and
../shared/data/eval_prompts.jsonl (544 public benchmark prompts); see that folder's ATTRIBUTION.md.

Usage: python benchmarks/build_default_reference.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from _common import SHARED_DATA

from evalrefine.backends.registry import load_backend
from evalrefine.config import load_settings
from evalrefine.core.batch import PromptScored, score_records
from evalrefine.core.monitor import StartOfCotMonitor
from evalrefine.core.prompt_sets import read_prompt_set
from evalrefine.core.reference_build import build_reference
from evalrefine.core.score_cache import ScoreCache

NAME = "smollm2-wildchat"
TARGET = Path(__file__).resolve().parents[1] / "evalrefine" / "references" / f"{NAME}.json"


def main() -> None:
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    sentences = list(dict.fromkeys([*settings.monitor.sentences, *settings.monitor.joint_sentences]))
    monitor = StartOfCotMonitor(backend, sentences)
    cache = ScoreCache(settings.cache_dir / "scores.sqlite")

    def scored(name: str) -> list[PromptScored]:
        events = score_records(monitor, read_prompt_set(SHARED_DATA / name), cache)
        return [e for e in events if isinstance(e, PromptScored)]

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
    print(f"wrote {TARGET} ({len(deploy)} deploy, {len(evals)} eval, joint {ref.joint_method()})")
    if report:
        print(report.recommendation())


if __name__ == "__main__":
    main()
