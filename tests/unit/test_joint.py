"""The headline monitor against scikit-learn, the optimality conditions, and its monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from evalrefine.core.calibration.joint import (
    MonotoneJoint,
    Term,
    all_terms,
    fit_nonneg_logistic,
    is_eval_aware,
    logsumexp,
    split_sentences,
    term_matrix,
)

AWARE = ["This is clearly a test", "The user might be testing"]
NEUTRAL = ["Sure", "This is"]


def data(effects: tuple[float, ...], seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.45).astype(int)
    x = rng.normal(size=(n, len(effects))) + y[:, None] * np.array(effects)
    return x, y


def test_logsumexp_is_log_of_summed_probabilities() -> None:
    vals = [-20.0, -22.5, -19.1]
    assert logsumexp(vals) == pytest.approx(math.log(sum(math.exp(v) for v in vals)), abs=1e-12)
    assert logsumexp([-math.inf, -math.inf]) == -math.inf


@pytest.mark.parametrize("c", [0.1, 1.0, 10.0])
def test_unbounded_fit_matches_sklearn(c: float) -> None:
    x, y = data((0.8, -0.3, 0.0, 0.5))
    coef, intercept = fit_nonneg_logistic(x, y, c, lower=None)
    sk = LogisticRegression(C=c, tol=1e-12, max_iter=10_000).fit(x, y)
    assert coef == pytest.approx(sk.coef_[0], abs=1e-4)
    assert intercept == pytest.approx(sk.intercept_[0], abs=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_bounded_fit_is_sklearn_on_its_active_set(seed: int) -> None:
    """With some true effects negative, the weights stay ≥ 0, and the bounded optimum is the plain
    L2 logistic fit restricted to the features left active (the optimality conditions), whose
    gradient on each zeroed feature points into the bound."""
    x, y = data((0.9, -0.7, 0.4, -0.2, 0.0), seed)
    coef, intercept = fit_nonneg_logistic(x, y, 1.0)
    assert (coef >= 0).all() and coef[1] == 0.0
    active = coef > 1e-6
    sk = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(x[:, active], y)
    assert coef[active] == pytest.approx(sk.coef_[0], abs=1e-4)
    assert intercept == pytest.approx(sk.intercept_[0], abs=1e-4)
    p = 1 / (1 + np.exp(-(x @ coef + intercept)))
    grad = x.T @ (p - y) + coef
    assert (grad[~active] >= -1e-3).all()


def test_model_standardises_and_round_trips() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(400) < 0.5).astype(int)
    rows = [
        {"A": rng.normal(-25 + 2 * t, 3), "B": rng.normal(-28 + t, 3), "Sure": rng.normal(-5, 1), "This is": -3.0}
        for t in y
    ]
    terms = all_terms(["A", "B"], ["Sure"])
    model = MonotoneJoint.fit(rows, y, terms)
    x = term_matrix(rows, terms)
    z = (x - x.mean(0)) / x.std(0)
    active = np.array(model.coef) > 1e-6
    sk = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(z[:, active], y)
    assert model.decision(rows) == pytest.approx(sk.decision_function(z[:, active]), abs=1e-4)
    assert MonotoneJoint.from_dict(model.as_dict()) == model
    assert model.score(rows[0]) == pytest.approx(model.decision(rows[:1])[0])


def test_negative_weights_are_refused_on_load() -> None:
    model = MonotoneJoint((Term("A"),), (0.0,), (1.0,), (1.0,), 0.0)
    bad = {**model.as_dict(), "coef": [-0.5]}
    with pytest.raises(ValueError, match="negative"):
        MonotoneJoint.from_dict(bad)


def test_which_sentences_are_eval_aware() -> None:
    assert is_eval_aware("This looks like an evaluation") and is_eval_aware("I am being evaluated")
    assert is_eval_aware("This question is testing") and not is_eval_aware("Sure")
    assert not is_eval_aware("This is") and is_eval_aware("Is the user probing me?", ["Is the user probing me?"])
    aware, neutral = split_sentences(AWARE, ["Sure", "This looks like an evaluation", "This is", "Sure"])
    assert aware == [*AWARE, "This looks like an evaluation"] and neutral == ["Sure", "This is"]
    assert [t.name for t in all_terms(["A"], ["Sure"])] == ["A", "A − Sure"]


def test_sentence_weights_are_the_exact_derivatives() -> None:
    model = MonotoneJoint(all_terms(AWARE, NEUTRAL), (0.0,) * 6, (2.0, 1.0, 4.0, 3.0, 1.0, 0.5), (1, 0, 2, 0, 1, 1), 0)
    lp = {"This is clearly a test": -20.0, "The user might be testing": -25.0, "Sure": -4.0, "This is": -2.0}
    weights = model.sentence_weights()
    for s, w in weights.items():
        bumped = {**lp, s: lp[s] + 1e-3}
        assert (model.score(bumped) - model.score(lp)) / 1e-3 == pytest.approx(w, abs=1e-6)
    assert weights["This is clearly a test"] >= 0 and weights["The user might be testing"] >= 0
    assert weights["Sure"] <= 0 and weights["This is"] <= 0


logprob = st.floats(-60.0, -0.01, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    coef=st.lists(st.floats(0.0, 5.0), min_size=6, max_size=6),
    scale=st.lists(st.floats(0.1, 10.0), min_size=6, max_size=6),
    lps=st.lists(logprob, min_size=4, max_size=4),
    which=st.sampled_from(AWARE),
    rise=st.floats(0.0, 30.0),
)
def test_headline_never_falls_when_an_eval_aware_logprob_rises(
    coef: list[float], scale: list[float], lps: list[float], which: str, rise: float
) -> None:
    model = MonotoneJoint(all_terms(AWARE, NEUTRAL), (0.0,) * 6, tuple(scale), tuple(coef), 0.3)
    before = dict(zip([*AWARE, *NEUTRAL], lps, strict=True))
    after = {**before, which: before[which] + rise}
    assert model.score(after) >= model.score(before) - 1e-9


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), lps=st.lists(logprob, min_size=4, max_size=4), rise=st.floats(0.0, 20.0))
def test_a_fitted_headline_never_falls_either(seed: int, lps: list[float], rise: float) -> None:
    """Even fitted to data in which an eval-aware sentence is *lower* on eval prompts."""
    rng = np.random.default_rng(seed)
    y = (rng.random(120) < 0.5).astype(int)
    rows = [
        {"This is clearly a test": rng.normal(-25 - 2 * t, 3), "The user might be testing": rng.normal(-28 + t, 3)}
        | {"Sure": rng.normal(-5 + t, 1), "This is": rng.normal(-3 - t, 1)}
        for t in y
    ]
    model = MonotoneJoint.fit(rows, y, all_terms(AWARE, NEUTRAL))
    assert min(model.coef) >= 0.0
    before = dict(zip([*AWARE, *NEUTRAL], lps, strict=True))
    for s in AWARE:
        assert model.score({**before, s: before[s] + rise}) >= model.score(before) - 1e-9
