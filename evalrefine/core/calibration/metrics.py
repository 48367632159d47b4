"""Separation and placement statistics, from scikit-learn and scipy (imported when first used, so
that starting the CLI stays fast).

AUROC is scikit-learn's ``roc_auc_score``; its confidence interval is ``scipy.stats.bootstrap``
resampling eval and deployment scores separately (a stratified bootstrap) with a fixed seed, so
reports are reproducible; percentiles are ``scipy.stats.percentileofscore(kind="mean")`` and their
interval is the exact (Clopper–Pearson) binomial interval of the share of the reference below.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _labelled(positive: ArrayLike, negative: ArrayLike) -> tuple[FloatArray, FloatArray]:
    pos = np.asarray(positive, dtype=np.float64).ravel()
    neg = np.asarray(negative, dtype=np.float64).ravel()
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUROC needs at least one positive and one negative score")
    return np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]


def auroc(positive: ArrayLike, negative: ArrayLike) -> float:
    """P(score of a random positive > a random negative), ties counting one half."""
    from sklearn.metrics import roc_auc_score

    y, scores = _labelled(positive, negative)
    return float(roc_auc_score(y, scores))


def bootstrap_auroc_ci(
    positive: ArrayLike, negative: ArrayLike, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI, resampling positives and negatives separately (stratified)."""
    from scipy.stats import bootstrap, mannwhitneyu  # type: ignore[import-untyped]

    pos = np.asarray(positive, dtype=np.float64).ravel()
    neg = np.asarray(negative, dtype=np.float64).ravel()
    _labelled(pos, neg)

    def statistic(p: FloatArray, n: FloatArray, axis: int = -1) -> FloatArray:
        # the Mann-Whitney U of the positives, divided by the pairs, is the AUROC (vectorised)
        u = mannwhitneyu(p, n, axis=axis, method="asymptotic", use_continuity=False).statistic
        auc: FloatArray = np.asarray(u, dtype=np.float64) / (p.shape[axis] * n.shape[axis])
        return auc

    res = bootstrap(
        (pos, neg),
        statistic,
        n_resamples=n_boot,
        confidence_level=level,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=True,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def roc_curve(positive: ArrayLike, negative: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    y, scores = _labelled(positive, negative)
    fpr, tpr, _ = sk_roc_curve(y, scores, drop_intermediate=False)
    return np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)


def percentile_of(score: float, reference: Sequence[float] | FloatArray) -> float:
    """Where ``score`` falls in ``reference``, 0–100: the share below it plus half the share equal.
    scipy's ``percentileofscore(kind="mean")`` to the bit (its formula), without importing
    scipy.stats: that import alone is about 0.4 s of a fully cached lint."""
    ref = np.asarray(reference, dtype=np.float64)
    if len(ref) == 0:
        raise ValueError("empty reference")
    if np.isnan(score) or np.isnan(ref).any():
        return float("nan")
    left, right = np.count_nonzero(ref < score), np.count_nonzero(ref <= score)
    return float((left + right) * (50.0 / len(ref)))


def percentile_ci(percentile: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Where the percentile could lie given only ``n`` reference prompts: the exact binomial CI of
    the share below (ties counted half, rounded), in percent. Wide for a small reference."""
    from scipy.stats import binomtest  # type: ignore[import-untyped]

    k = round(percentile / 100.0 * n)
    ci = binomtest(min(max(k, 0), n), n).proportion_ci(confidence_level=level, method="exact")
    return float(100.0 * ci.low), float(100.0 * ci.high)
