"""How well the embedded model's monitor separates eval prompts from real traffic, in distribution.

Random stratified folds (every eval dataset on both sides of each split), with each monitor next to
the two format baselines (prompt length; a TF-IDF + logistic text classifier) and its gain over them.
This is the optimistic figure: benchmarks/bench_ood.py holds out whole eval datasets, which is what
the shipped reference's headline is chosen by.

Usage: python benchmarks/bench_calibration.py
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _common import SHARED_DATA

from evalrefine.backends.registry import load_backend
from evalrefine.config import load_settings
from evalrefine.core.calibration.reference_build import to_scored
from evalrefine.core.calibration.validation import validate
from evalrefine.core.io.prompt_sets import read_prompt_set
from evalrefine.core.scoring.batch import PromptScored, score_records
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache


def main() -> None:
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    sentences = list(dict.fromkeys([*settings.monitor.sentences, *settings.monitor.joint_sentences]))
    monitor = StartOfCotMonitor(backend, sentences)
    cache = ScoreCache(settings.cache_dir / "scores.sqlite")

    def scored(name: str) -> list[PromptScored]:
        events = score_records(monitor, read_prompt_set(SHARED_DATA / name), cache, batch_size=8)
        return [e for e in events if isinstance(e, PromptScored)]

    prompts = to_scored(scored("deploy_prompts.jsonl"), scored("eval_prompts.jsonl"))
    report = validate(prompts, settings.monitor.sentences, settings.monitor.joint_sentences)
    print(f"{backend.name}: {report.n_eval} eval vs {report.n_deploy} deployment prompts, {report.protocol}")
    print("monitor | AUROC [95% CI] | gain over length | gain over TF-IDF")
    for r in report.monitors:
        gains = " | ".join(f"{r.controlled[b]:+.3f}" if b in r.controlled else "" for b in ("length", "tfidf"))
        print(f"{r.name} | {r.auroc:.3f} [{r.ci[0]:.3f}, {r.ci[1]:.3f}] | {gains}")
    print(report.recommendation())


if __name__ == "__main__":
    main()
