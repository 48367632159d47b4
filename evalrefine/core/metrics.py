"""Separation and placement statistics, in plain numpy so the core stays light.

AUROC is the Mann-Whitney statistic with mid-ranks for ties (what scikit-learn's
``roc_auc_score`` computes); confidence intervals are stratified percentile bootstraps with a fixed
seed, so reports are reproducible; percentiles follow ``scipy.stats.percentileofscore(kind="mean")``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def midranks(values: ArrayLike) -> FloatArray:
    """1-based ranks, ties sharing the mean of their ranks."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    # boundaries of runs of equal values
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return ranks


def auroc(positive: ArrayLike, negative: ArrayLike) -> float:
    """P(score of a random positive > a random negative), ties counting one half."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUROC needs at least one positive and one negative score")
    ranks = midranks(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def bootstrap_auroc_ci(
    positive: ArrayLike, negative: ArrayLike, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI, resampling positives and negatives separately (stratified)."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        stats[b] = auroc(rng.choice(pos, len(pos)), rng.choice(neg, len(neg)))
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [tail, 1.0 - tail])
    return float(lo), float(hi)


def roc_curve(positive: ArrayLike, negative: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.asarray(negative, dtype=np.float64)
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    tpr = np.r_[0.0, [(pos >= t).mean() for t in thresholds]]
    fpr = np.r_[0.0, [(neg >= t).mean() for t in thresholds]]
    return fpr, tpr


def percentile_of(score: float, reference: Sequence[float] | FloatArray) -> float:
    """Where ``score`` falls in ``reference``, 0–100: the share below it plus half the share equal."""
    ref = np.asarray(reference, dtype=np.float64)
    if len(ref) == 0:
        raise ValueError("empty reference")
    below = np.count_nonzero(ref < score)
    equal = np.count_nonzero(ref == score)
    return float(100.0 * (below + 0.5 * equal) / len(ref))
