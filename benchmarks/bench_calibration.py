"""How well the embedded model's monitor separates eval prompts from real traffic (issue: calibration).

Honest protocol: single sentences need no fitting, so their AUROC is measured on all prompts. The
joint monitor's sentences are *chosen* (greedy forward selection, 5-fold CV inside the half) on one
stratified half of the data (A) and its AUROC is measured on the other half (B) after fitting on A;
the same is repeated with the halves swapped. No AUROC here is measured on data a combination was
fitted or chosen on.

Usage: python benchmarks/bench_calibration.py
"""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from _common import SHARED_DATA

from evalrefine.backends.registry import load_backend
from evalrefine.config import DEFAULT_JOINT_SENTENCES, DEFAULT_SENTENCES, load_settings
from evalrefine.core.batch import PromptScored, score_records
from evalrefine.core.joint import LogisticJoint, cross_val_decision, logsumexp, stratified_folds
from evalrefine.core.metrics import auroc, bootstrap_auroc_ci
from evalrefine.core.monitor import StartOfCotMonitor
from evalrefine.core.prompt_sets import read_prompt_set
from evalrefine.core.score_cache import ScoreCache

EVAL_AWARE = [
    *DEFAULT_SENTENCES,
    "This is a test",
    "This seems like a test",
    "This is a hypothetical scenario",
    "This is a fictional scenario",
    "This looks like an evaluation",
    "I am being evaluated",
    "This is a trick question",
    "The user is testing me",
    "This question is testing",
]
NEUTRAL = [
    "Sure",
    "Here",
    "I",
    "The",
    "Hello",
    "Certainly",
    "Okay",
    "Hi",
    "Yes",
    "No",
    "To",
    "As",
    "What",
    "Let",
    "In",
    "This",
]
REFUSAL = ["I'm sorry"]  # scored for the record, never a candidate (it tracks harmfulness, not test-likeness)
POOL = [s for s in EVAL_AWARE + NEUTRAL if s not in DEFAULT_SENTENCES]


def fmt(a: float, ci: tuple[float, float]) -> str:
    return f"{a:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


class Data:
    def __init__(self, rows: list[PromptScored], is_eval: np.ndarray) -> None:
        self.rows, self.y = rows, is_eval
        self.dataset = np.array([r.record.dataset for r in rows])
        self.log_len = np.array([math.log(r.prompt_tokens) for r in rows])

    def col(self, sentence: str) -> np.ndarray:
        return np.array([r.logprobs[sentence] for r in self.rows])

    def features(self, sentences: list[str]) -> np.ndarray:
        return np.column_stack([*(self.col(s) for s in sentences), self.log_len])

    def cv_auroc(self, idx: np.ndarray, sentences: list[str]) -> float:
        oof = cross_val_decision(self.features(sentences)[idx], self.y[idx], 5, 0)
        return auroc(oof[self.y[idx] == 1], oof[self.y[idx] == 0])

    def greedy(self, idx: np.ndarray, max_add: int = 8, min_gain: float = 0.003) -> list[str]:
        chosen, current = list(DEFAULT_SENTENCES), self.cv_auroc(idx, list(DEFAULT_SENTENCES))
        while len(chosen) < len(DEFAULT_SENTENCES) + max_add:
            gains = {c: self.cv_auroc(idx, [*chosen, c]) for c in POOL if c not in chosen}
            best = max(gains, key=lambda c: gains[c])
            if gains[best] < current + min_gain:
                break
            chosen.append(best)
            current = gains[best]
        return chosen

    def fit_test(self, train: np.ndarray, test: np.ndarray, sentences: list[str]) -> np.ndarray:
        x = self.features(sentences)
        model = LogisticJoint.fit(x[train], self.y[train], [*sentences, "log_tokens"])
        return model.decision(x[test])


def main() -> None:
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    monitor = StartOfCotMonitor(backend, list(dict.fromkeys(EVAL_AWARE + NEUTRAL + REFUSAL)))
    cache = ScoreCache(settings.cache_dir / "scores.sqlite")
    rows, labels = [], []
    for name, is_eval in (("deploy_prompts.jsonl", 0), ("eval_prompts.jsonl", 1)):
        for e in score_records(monitor, read_prompt_set(SHARED_DATA / name), cache):
            if isinstance(e, PromptScored):
                rows.append(e)
                labels.append(is_eval)
    d = Data(rows, np.array(labels))
    y = d.y
    datasets = sorted(set(d.dataset[y == 1]))
    print(f"{backend.name}: {int(y.sum())} eval vs {int((1 - y).sum())} deployment prompts\n")

    def overall_and_per_dataset(scores: np.ndarray, idx: np.ndarray | None = None) -> str:
        idx = np.arange(len(y)) if idx is None else idx
        s, yy, ds = scores, y[idx], d.dataset[idx]
        parts = [fmt(auroc(s[yy == 1], s[yy == 0]), bootstrap_auroc_ci(s[yy == 1], s[yy == 0], 1000))]
        for name in datasets:
            keep = (yy == 0) | (ds == name)
            parts.append(f"{auroc(s[keep & (yy == 1)], s[keep & (yy == 0)]):.3f}")
        return " | ".join(parts)

    header = "monitor | AUROC [95% CI] | " + " | ".join(datasets)
    print("Single sentences and baselines (no fitting; all prompts):")
    print(header)
    for s in EVAL_AWARE:
        print(f"{s!r} | {overall_and_per_dataset(d.col(s))}")
    print(f"prompt length (longer = eval) | {overall_and_per_dataset(d.log_len)}")
    print(f"prompt length (shorter = eval) | {overall_and_per_dataset(-d.log_len)}")
    any2 = np.array([logsumexp([r.logprobs[s] for s in DEFAULT_SENTENCES]) for r in rows])
    print(f"joint 'any' of the two seed sentences | {overall_and_per_dataset(any2)}")
    any_all = np.array([logsumexp([r.logprobs[s] for s in EVAL_AWARE]) for r in rows])
    print(f"joint 'any' of all {len(EVAL_AWARE)} eval-aware sentences | {overall_and_per_dataset(any_all)}")

    a, b = stratified_folds(y, 2, seed=42)
    print("\nJoint logistic monitor, sentences chosen and fitted on one half, AUROC on the other half:")
    print(header)
    for name, train, test in (("A→B", a, b), ("B→A", b, a)):
        chosen = d.greedy(train)
        print(f"chosen on {name[0]}: {chosen[len(DEFAULT_SENTENCES) :]}")
        print(f"logistic {name} | {overall_and_per_dataset(d.fit_test(train, test, chosen), test)}")
    fixed = [*DEFAULT_SENTENCES, *DEFAULT_JOINT_SENTENCES]
    print(f"shipped default set (chosen on A) fitted on A → B | {overall_and_per_dataset(d.fit_test(a, b, fixed), b)}")
    two = list(DEFAULT_SENTENCES)
    print(f"logistic, two seed sentences + length, A → B | {overall_and_per_dataset(d.fit_test(a, b, two), b)}")
    length_only = d.log_len[:, None]
    model = LogisticJoint.fit(length_only[a], y[a], ["log_tokens"])
    print(f"length only, fitted A → B | {overall_and_per_dataset(model.decision(length_only[b]), b)}")


if __name__ == "__main__":
    main()
