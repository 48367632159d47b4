"""The joint monitor: one score from several sentences (the seed study's open suggestion).

Two combinations:

* ``any``: log of the summed probabilities of the eval-aware sentences (log-sum-exp): the
  probability that the CoT opens with any of them (exact when none is a prefix of another,
  an upper bound otherwise). Needs no fitting.
* ``logistic``: L2-regularised logistic regression on standardised features (each monitored
  sentence's log P, including neutral "anchor" openers such as "Sure" whose log P the eval-aware
  ones are contrasted against, and the log of the prompt's token count, so that length is
  calibrated out rather than rewarded). Fitted by Newton's method in numpy; AUROCs are only ever
  reported on folds it was not fitted on (:func:`cross_val_decision`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
LOG_TOKENS = "log_tokens"


def logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(math.fsum(math.exp(v - top) for v in values))


def feature_row(logprobs: Mapping[str, float], prompt_tokens: int, features: Sequence[str]) -> list[float]:
    """Feature values in order; a sentence feature is named by the sentence itself."""
    return [math.log(prompt_tokens) if f == LOG_TOKENS else logprobs[f] for f in features]


def fit_logistic(x: FloatArray, y: NDArray[np.int_], c: float = 1.0, iters: int = 50) -> tuple[FloatArray, float]:
    """Minimise ``sum(logloss) + ||w||² / (2c)`` (intercept unpenalised), as scikit-learn does."""
    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.r_[np.full(d, 1.0 / c), 0.0]
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        grad = design.T @ (p - y) + penalty * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-10 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w[:d], float(w[d])


@dataclass(frozen=True)
class LogisticJoint:
    """A fitted combination; ``decision`` is its score (higher = more test-like)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    c: float = 1.0

    @classmethod
    def fit(cls, x: FloatArray, y: NDArray[np.int_], features: Sequence[str], c: float = 1.0) -> LogisticJoint:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        coef, intercept = fit_logistic((x - mean) / scale, y, c)
        return cls(tuple(features), tuple(mean), tuple(scale), tuple(coef), intercept, c)

    def decision(self, x: FloatArray) -> FloatArray:
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(z @ np.asarray(self.coef) + self.intercept, dtype=np.float64)

    def score(self, logprobs: Mapping[str, float], prompt_tokens: int) -> float:
        return float(self.decision(np.array([feature_row(logprobs, prompt_tokens, self.features)]))[0])

    def as_dict(self) -> dict[str, object]:
        return {
            "method": "logistic",
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "c": self.c,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogisticJoint:
        def floats(key: str) -> tuple[float, ...]:
            return tuple(float(v) for v in data[key])

        return cls(
            tuple(str(f) for f in data["features"]),
            floats("mean"),
            floats("scale"),
            floats("coef"),
            float(data["intercept"]),
            float(data.get("c", 1.0)),
        )


def stratified_folds(y: NDArray[np.int_], k: int, seed: int = 0) -> list[NDArray[np.int_]]:
    """``k`` disjoint index sets, each with about the same share of positives."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        for i, j in enumerate(idx):
            folds[i % k].append(int(j))
    return [np.array(sorted(f), dtype=np.int_) for f in folds]


def cross_val_decision(x: FloatArray, y: NDArray[np.int_], k: int = 5, seed: int = 0, c: float = 1.0) -> FloatArray:
    """Out-of-fold scores: each prompt is scored by a model fitted without it."""
    out = np.empty(len(y))
    for test in stratified_folds(y, k, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        model = LogisticJoint.fit(x[train], y[train], [str(i) for i in range(x.shape[1])], c)
        out[test] = model.decision(x[test])
    return out
