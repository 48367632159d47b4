"""The joint monitor's pieces against scikit-learn and exact arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from evalrefine.core.joint import (
    LOG_TOKENS,
    LogisticJoint,
    cross_val_decision,
    feature_row,
    fit_logistic,
    logsumexp,
    stratified_folds,
)


def data(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.45).astype(int)
    x = rng.normal(size=(n, 4)) + y[:, None] * np.array([0.8, -0.3, 0.0, 0.5])
    return x, y


def test_logsumexp_is_log_of_summed_probabilities() -> None:
    vals = [-20.0, -22.5, -19.1]
    assert logsumexp(vals) == pytest.approx(math.log(sum(math.exp(v) for v in vals)), abs=1e-12)
    assert logsumexp([-math.inf, -math.inf]) == -math.inf


@pytest.mark.parametrize("c", [0.1, 1.0, 10.0])
def test_fit_matches_sklearn(c: float) -> None:
    x, y = data()
    coef, intercept = fit_logistic(x, y, c)
    sk = LogisticRegression(C=c, tol=1e-12, max_iter=10_000).fit(x, y)
    assert coef == pytest.approx(sk.coef_[0], abs=1e-5)
    assert intercept == pytest.approx(sk.intercept_[0], abs=1e-5)


def test_standardised_model_decision_and_round_trip() -> None:
    x, y = data(1)
    x[:, 2] *= 100  # very different scales
    model = LogisticJoint.fit(x, y, ["a", "b", "c", "d"])
    z = (x - x.mean(0)) / x.std(0)
    sk = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(z, y)
    assert model.decision(x) == pytest.approx(sk.decision_function(z), abs=1e-5)
    assert LogisticJoint.from_dict(model.as_dict()) == model


def test_cross_val_scores_are_out_of_fold() -> None:
    x, y = data(2)
    folds = stratified_folds(y, 5, seed=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(y)))
    assert all(abs(y[f].mean() - y.mean()) < 0.05 for f in folds)
    ours = cross_val_decision(x, y, k=5, seed=3)
    # the same folds, fitted by scikit-learn
    z_scores = np.empty(len(y))
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        mean, sd = x[train].mean(0), x[train].std(0)
        sk = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit((x[train] - mean) / sd, y[train])
        z_scores[test] = sk.decision_function((x[test] - mean) / sd)
    assert ours == pytest.approx(z_scores, abs=1e-5)


def test_feature_row() -> None:
    row = feature_row({"A": -3.0, "B": -4.0}, 100, ["B", LOG_TOKENS, "A"])
    assert row == [-4.0, math.log(100), -3.0]
