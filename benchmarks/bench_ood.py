"""Out-of-distribution AUROC of the monitor on the shared data: leave one eval dataset out (issue 15).

Each eval dataset is held out in turn together with a disjoint share of WildChat traffic; every fitted
score (the headline, the length and TF-IDF baselines, the old free-signed logistic) is fitted on the
other datasets and the rest of the traffic only. Single sentences need no fitting.

The sentence sets are chosen here too, honestly: greedy forward selection (start: the two seed
sentences; add the eval-aware sentence or neutral opener that most raises the mean inner
leave-one-dataset-out AUROC) runs *inside* each outer split, on the training datasets only, and the
"selected" row is measured on the held-out dataset. The set selected on all data is the one to ship
as ``DEFAULT_JOINT_SENTENCES``.

Usage: python benchmarks/bench_ood.py [--cached-only]
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from _common import SHARED_DATA
from _ood_pool import ALL, EVAL_AWARE, NEUTRAL

from evalrefine.backends.registry import load_backend
from evalrefine.config import DEFAULT_JOINT_SENTENCES, DEFAULT_SENTENCES, load_settings
from evalrefine.core.calibration.heldout import (
    Data,
    JointMonitor,
    LengthBaseline,
    Monitor,
    Split,
    TfidfBaseline,
    any_monitor,
    lodo_splits,
    score_splits,
    sentence_monitor,
)
from evalrefine.core.calibration.joint import all_terms, split_sentences
from evalrefine.core.calibration.metrics import auroc, bootstrap_auroc_ci
from evalrefine.core.calibration.reference_build import prompt_text
from evalrefine.core.io.prompt_sets import read_prompt_set
from evalrefine.core.scoring.batch import PromptScored, score_records
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache

OLD_JOINT = ["Hello", "Sure", "I", "This looks like an evaluation", "In", "I am being evaluated", "To"]
OLD_JOINT += ["This question is testing"]


def load(cached_only: bool) -> tuple[Data, str]:
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    monitor = StartOfCotMonitor(backend, ALL)
    cache = ScoreCache(settings.cache_dir / "scores.sqlite")
    rows, y, tokens, texts, datasets = [], [], [], [], []
    for name, label in (("deploy_prompts.jsonl", 0), ("eval_prompts.jsonl", 1)):
        records = read_prompt_set(SHARED_DATA / name)
        if cached_only:
            records = [r for r in records if cache.get(monitor.model_fingerprint, r.content_hash, ALL)]
        for e in score_records(monitor, records, cache, batch_size=8):
            if isinstance(e, PromptScored):
                rows.append(dict(e.logprobs))
                y.append(label)
                tokens.append(e.prompt_tokens)
                texts.append(prompt_text(e))
                datasets.append(e.record.dataset)
    return Data.of(rows, y, tokens, texts, datasets), backend.name


def sub(data: Data, idx: np.ndarray) -> Data:
    return Data(
        [data.rows[i] for i in idx],
        data.y[idx],
        data.log_len[idx],
        [data.texts[i] for i in idx],
        [data.datasets[i] for i in idx],
    )


def lodo_mean(data: Data, aware: list[str], neutral: list[str]) -> float:
    splits = lodo_splits(data.y, data.datasets)
    scores = score_splits([JointMonitor(all_terms(aware, neutral))], [], data, splits, controlled=False).scores
    return float(np.mean([_auc(data.y[s.test], p) for s, p in zip(splits, scores["headline"], strict=True)]))


def select(data: Data, max_sentences: int = 8, min_gain: float = 0.003) -> tuple[list[str], list[str]]:
    """Greedy forward selection of eval-aware sentences and neutral openers by mean LODO AUROC."""
    aware, neutral = list(DEFAULT_SENTENCES), list[str]()
    current = lodo_mean(data, aware, neutral)
    while len(aware) + len(neutral) < max_sentences:
        options = [(a, "aware") for a in EVAL_AWARE if a not in aware] + [(n, "neutral") for n in NEUTRAL]
        options = [(s, kind) for s, kind in options if s not in neutral]
        gains = {
            (s, kind): lodo_mean(data, aware + [s] * (kind == "aware"), neutral + [s] * (kind == "neutral"))
            for s, kind in options
        }
        (best, kind), value = max(gains.items(), key=lambda kv: kv[1])
        if value < current + min_gain:
            break
        (aware if kind == "aware" else neutral).append(best)
        current = value
    return aware, neutral


def best_single(data: Data, idx: np.ndarray) -> float:
    """The best AUROC any one eval-aware sentence, or its contrast with one neutral opener, reaches on ``idx``."""
    y = data.y[idx]

    def column(name: str) -> np.ndarray:
        return np.array([data.rows[i][name] for i in idx])

    best = 0.0
    for aware in EVAL_AWARE:
        best = max(best, _auc(y, column(aware)), *(_auc(y, column(aware) - column(n)) for n in NEUTRAL))
    return best


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    return auroc(s[y == 1], s[y == 0])


def old_logistic(data: Data, split: Split) -> np.ndarray:
    """The shipped free-signed logistic (sentences, neutral openers, log length), for comparison."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feats = [*DEFAULT_SENTENCES, *OLD_JOINT]
    x = np.column_stack([[r[f] for r in data.rows] for f in feats] + [data.log_len])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[split.train], data.y[split.train])
    return np.asarray(model.decision_function(x[split.test]))


def main() -> None:
    t0 = time.time()
    data, model = load("--cached-only" in sys.argv)
    splits = lodo_splits(data.y, data.datasets)
    print(f"{model}: {int(data.y.sum())} eval vs {int((1 - data.y).sum())} deployment prompts; leave one dataset out")
    aware_cfg, neutral_cfg = split_sentences(DEFAULT_SENTENCES, DEFAULT_JOINT_SENTENCES)
    monitors: list[Monitor] = [sentence_monitor(data, s) for s in EVAL_AWARE]
    monitors += [any_monitor(data, aware_cfg), JointMonitor(all_terms(aware_cfg, neutral_cfg))]
    fitted = score_splits(monitors, [LengthBaseline(), TfidfBaseline()], data, splits, controlled=True)
    table: dict[str, list[str]] = {}
    for name, parts in fitted.scores.items():
        table[name] = [f"{_auc(data.y[s.test], p):.3f}" for s, p in zip(splits, parts, strict=True)]
    table["old free-signed logistic"] = [f"{_auc(data.y[s.test], old_logistic(data, s)):.3f}" for s in splits]
    selected, chosen = [], []
    for s in splits:  # nested: sentences chosen on the training datasets only
        aware, neutral = select(sub(data, s.train))
        chosen.append((aware, neutral))
        model_scores = JointMonitor(all_terms(aware, neutral)).fit(data, s.train)(s.test)
        selected.append(f"{_auc(data.y[s.test], model_scores):.3f}")
    table["headline, sentences selected inside the split"] = selected
    # What no honest headline can exceed: fitted or chosen on the held-out dataset itself, in hindsight.
    # Where these stay below length, the goal "beat length on every dataset" is out of reach of any
    # monotone score of these sentences on this model.
    pool = all_terms(EVAL_AWARE, NEUTRAL)
    table["upper bound: monotone fit on the held-out set"] = [
        f"{_auc(data.y[s.test], JointMonitor(pool).fit(data, s.test)(s.test)):.3f}" for s in splits
    ]
    table["upper bound: best sentence or contrast for the held-out set"] = [
        f"{best_single(data, s.test):.3f}" for s in splits
    ]
    header = ["monitor", *(f"{s.name} ({int(data.y[s.test].sum())}+{int((1 - data.y[s.test]).sum())})" for s in splits)]
    print(" | ".join([*header, "mean"]))
    for name, cells in table.items():
        mean = float(np.mean([float(c) for c in cells]))
        print(" | ".join([repr(name) if name in EVAL_AWARE else name, *cells, f"{mean:.3f}"]))
    print("\n95% bootstrap CIs on each held-out dataset:")
    for name in ("headline", "length", "tfidf"):
        cis = []
        for s, p in zip(splits, fitted.scores[name], strict=True):
            yy = data.y[s.test]
            lo, hi = bootstrap_auroc_ci(p[yy == 1], p[yy == 0])
            cis.append(f"{lo:.3f}–{hi:.3f}")
        print(" | ".join([name, *cis]))
    print("\nheadline after controlling for a baseline (held-out AUROC of headline + baseline minus baseline):")
    for b in ("length", "tfidf"):
        gains = []
        for i, s in enumerate(splits):
            yy = data.y[s.test]
            gains.append(_auc(yy, fitted.stacks[("headline", b)][i]) - _auc(yy, fitted.scores[b][i]))
        print(" | ".join([f"gain over {b}", *(f"{g:+.3f}" for g in gains), f"{np.mean(gains):+.3f}"]))
    for s, (aware, neutral) in zip(splits, chosen, strict=True):
        print(f"selected without {s.name}: aware {aware}, neutral {neutral}")
    aware, neutral = select(data)
    print(f"\nselected on all data: aware {aware}, neutral {neutral}")
    extra = [x for x in aware + neutral if x not in DEFAULT_SENTENCES]
    print(f"DEFAULT_JOINT_SENTENCES = {tuple(extra)!r}")
    print(f"configured now: aware {aware_cfg}, neutral {neutral_cfg}; {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
