"""Metrics against scikit-learn / scipy / numpy on known and random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import percentileofscore
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from evalrefine.core.metrics import auroc, bootstrap_auroc_ci, midranks, percentile_of, roc_curve


def test_known_values() -> None:
    assert auroc([3, 4], [1, 2]) == 1.0
    assert auroc([1, 2], [3, 4]) == 0.0
    assert auroc([1, 1], [1, 1]) == 0.5
    assert auroc([2, 3], [1, 2]) == pytest.approx(0.875)  # one tie counts one half: (4 - 0.5) / 4
    assert midranks([10, 20, 10, 30]).tolist() == [1.5, 3.0, 1.5, 4.0]


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 20, 137).astype(float)  # many ties on purpose
    neg = rng.integers(-3, 15, 211).astype(float)
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    assert auroc(pos, neg) == pytest.approx(roc_auc_score(y, np.r_[pos, neg]), abs=1e-12)


def test_roc_curve_matches_sklearn() -> None:
    rng = np.random.default_rng(7)
    pos, neg = rng.normal(1, 1, 50).round(1), rng.normal(0, 1, 60).round(1)
    fpr, tpr = roc_curve(pos, neg)
    sk_fpr, sk_tpr, _ = sk_roc_curve(np.r_[np.ones(50), np.zeros(60)], np.r_[pos, neg], drop_intermediate=False)
    assert fpr.tolist() == pytest.approx(sk_fpr.tolist())
    assert tpr.tolist() == pytest.approx(sk_tpr.tolist())
    assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(pos, neg))


def test_bootstrap_ci_brackets_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    pos, neg = rng.normal(0.8, 1, 200), rng.normal(0, 1, 300)
    lo, hi = bootstrap_auroc_ci(pos, neg, n_boot=300)
    assert lo < auroc(pos, neg) < hi
    assert (lo, hi) == bootstrap_auroc_ci(pos, neg, n_boot=300)
    # the standard error of an AUROC near 0.7 with these sizes is about 0.023: a 95% CI is ~0.09 wide
    assert 0.05 < hi - lo < 0.14


@pytest.mark.parametrize("score", [-5.0, 0.0, 1.0, 2.5, 3.0, 10.0])
def test_percentile_matches_scipy(score: float) -> None:
    ref = [0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 4.0]
    assert percentile_of(score, ref) == pytest.approx(percentileofscore(ref, score, kind="mean"))
