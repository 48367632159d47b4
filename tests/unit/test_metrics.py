"""Metrics against scikit-learn / scipy computed independently, on known and random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta, bootstrap, percentileofscore
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from evalrefine.core.calibration.metrics import auroc, bootstrap_auroc_ci, percentile_ci, percentile_of, roc_curve


def test_known_values() -> None:
    assert auroc([3, 4], [1, 2]) == 1.0
    assert auroc([1, 2], [3, 4]) == 0.0
    assert auroc([1, 1], [1, 1]) == 0.5
    assert auroc([2, 3], [1, 2]) == pytest.approx(0.875)  # one tie counts one half: (4 - 0.5) / 4
    with pytest.raises(ValueError, match="at least one"):
        auroc([], [1.0])


@pytest.mark.parametrize("seed", range(3))
def test_auroc_with_ties_is_the_pair_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 20, 137).astype(float)  # many ties on purpose
    neg = rng.integers(-3, 15, 211).astype(float)
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc(pos, neg) == pytest.approx(pairs, abs=1e-12)


def test_roc_curve_matches_sklearn() -> None:
    rng = np.random.default_rng(7)
    pos, neg = rng.normal(1, 1, 50).round(1), rng.normal(0, 1, 60).round(1)
    fpr, tpr = roc_curve(pos, neg)
    sk_fpr, sk_tpr, _ = sk_roc_curve(np.r_[np.ones(50), np.zeros(60)], np.r_[pos, neg], drop_intermediate=False)
    assert fpr.tolist() == pytest.approx(sk_fpr.tolist())
    assert tpr.tolist() == pytest.approx(sk_tpr.tolist())
    assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(pos, neg))


def test_bootstrap_ci_is_scipys_stratified_bootstrap_of_roc_auc() -> None:
    rng = np.random.default_rng(1)
    pos, neg = rng.normal(0.8, 1, 120), rng.normal(0, 1, 150)
    lo, hi = bootstrap_auroc_ci(pos, neg, n_boot=300, seed=5)

    def stat(p: np.ndarray, n: np.ndarray) -> float:
        return float(roc_auc_score(np.r_[np.ones(len(p)), np.zeros(len(n))], np.r_[p, n]))

    ref = bootstrap(
        (pos, neg), stat, n_resamples=300, method="percentile", vectorized=False, random_state=np.random.default_rng(5)
    ).confidence_interval
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert lo < auroc(pos, neg) < hi
    assert (lo, hi) == bootstrap_auroc_ci(pos, neg, n_boot=300, seed=5)


@pytest.mark.parametrize("score", [-5.0, 0.0, 1.0, 2.5, 3.0, 10.0])
def test_percentile_is_share_below_plus_half_equal(score: float) -> None:
    ref = [0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 4.0]
    by_hand = 100 * (sum(r < score for r in ref) + 0.5 * sum(r == score for r in ref)) / len(ref)
    assert percentile_of(score, ref) == pytest.approx(by_hand)
    assert percentile_of(score, ref) == pytest.approx(percentileofscore(ref, score, kind="mean"))


@pytest.mark.parametrize(("pct", "n"), [(50.0, 40), (90.0, 450), (2.0, 100), (0.0, 30), (100.0, 30)])
def test_percentile_ci_is_clopper_pearson(pct: float, n: int) -> None:
    k = round(pct / 100 * n)
    lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert percentile_ci(pct, n) == pytest.approx((100 * lo, 100 * hi), abs=1e-6)
    small, large = percentile_ci(50.0, 40), percentile_ci(50.0, 4000)
    assert small[1] - small[0] > 5 * (large[1] - large[0])
