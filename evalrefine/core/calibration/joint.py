"""The headline monitor: several sentences combined so that the score can only rise with awareness.

An earlier fitted combination let every feature take any sign; it learned the *style* of eval
prompts (negative weights on eval-aware sentences, free weights on "Sure" and "Hello", a length
term), so adding "this is an AI safety evaluation" to a request could lower it. Here the
combination is constrained to mean what it claims:

* every eval-aware sentence enters with weight ≥ 0, either raw (its log P) or as a *contrast*
  against a neutral opener, ``log P(aware) − log P(neutral)`` (also weight ≥ 0): the contrast
  cancels how likely any opener is after this prompt, without rewarding the neutral opener itself;
* prompt length and neutral openers never enter on their own.

So the score, as a function of the sentence log-probs, never falls when an eval-aware log P rises.
It is fitted by L2-regularised logistic regression with the weights bounded below by zero (scipy's
L-BFGS-B), on features scaled (not sign-flipped) by their standard deviation. ``any`` (log-sum-exp
of the eval-aware sentences: the probability that the CoT opens with any of them) needs no fitting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Method = Literal["logistic", "sentence"]

_AWARE_PATTERN = re.compile(
    r"\b(test|testing|tested|evaluat\w*|benchmark|hypothetical|fictional|trick question)\b", re.I
)


def logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(math.fsum(math.exp(v - top) for v in values))


def is_eval_aware(sentence: str, declared: Sequence[str] = ()) -> bool:
    """Whether a sentence may enter the headline raw. The configured ``--sentence`` values are
    eval-aware by declaration; an extra joint sentence is when it names testing or evaluation
    ("This looks like an evaluation"), and is otherwise a neutral opener ("Sure", "This is") that
    may only be contrasted against."""
    return sentence in declared or bool(_AWARE_PATTERN.search(sentence))


def split_sentences(eval_sentences: Sequence[str], joint_sentences: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(aware, neutral)`` from the configured sentences, in order, without repeats."""
    every = list(dict.fromkeys([*eval_sentences, *joint_sentences]))
    aware = [s for s in every if is_eval_aware(s, eval_sentences)]
    return aware, [s for s in every if s not in aware]


@dataclass(frozen=True)
class Term:
    """``log P(aware)``, or ``log P(aware) − log P(neutral)`` when a neutral opener is given."""

    aware: str
    neutral: str | None = None

    @property
    def name(self) -> str:
        return self.aware if self.neutral is None else f"{self.aware} − {self.neutral}"

    def value(self, logprobs: Mapping[str, float]) -> float:
        return logprobs[self.aware] - (logprobs[self.neutral] if self.neutral is not None else 0.0)

    def as_list(self) -> list[str | None]:
        return [self.aware, self.neutral]


def all_terms(aware: Sequence[str], neutral: Sequence[str]) -> tuple[Term, ...]:
    """Each eval-aware sentence raw and contrasted against each neutral opener."""
    return tuple(Term(a, n) for a in aware for n in (None, *neutral))


def term_matrix(rows: Sequence[Mapping[str, float]], terms: Sequence[Term]) -> FloatArray:
    return np.array([[t.value(r) for t in terms] for r in rows], dtype=np.float64).reshape(len(rows), len(terms))


def fit_nonneg_logistic(
    x: FloatArray, y: NDArray[np.int_], c: float = 1.0, lower: float | None = 0.0
) -> tuple[FloatArray, float]:
    """Minimise ``sum(logloss) + ||w||² / (2c)`` (intercept unpenalised, as scikit-learn's
    ``LogisticRegression(C=c)``) subject to ``w ≥ lower`` (``None``: unbounded)."""
    from scipy.optimize import minimize  # type: ignore[import-untyped]

    n, d = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    yf = y.astype(np.float64)

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        m = design @ w
        p = 0.5 * (1.0 + np.tanh(0.5 * m))  # the logistic function, without overflow
        value = float(np.sum(np.logaddexp(0.0, m) - yf * m) + 0.5 * np.dot(w[:d], w[:d]) / c)
        grad = design.T @ (p - yf)
        grad[:d] += w[:d] / c
        return value, grad

    bounds = [(lower, None)] * d + [(None, None)]
    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000})
    w = np.asarray(res.x, dtype=np.float64)
    return w[:d], float(w[d])


@dataclass(frozen=True)
class MonotoneJoint:
    """A fitted headline; ``decision`` is its score (higher = more test-like). ``method`` is
    ``"sentence"`` when one eval-aware sentence's raw log P won (weight 1, no fitting)."""

    terms: tuple[Term, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    """Weights on the standardised terms, all ≥ 0."""
    intercept: float
    c: float = 1.0
    method: Method = "logistic"

    @classmethod
    def fit(
        cls, rows: Sequence[Mapping[str, float]], y: NDArray[np.int_], terms: Sequence[Term], c: float = 1.0
    ) -> MonotoneJoint:
        x = term_matrix(rows, terms)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        coef, intercept = fit_nonneg_logistic((x - mean) / scale, y, c)
        return cls(tuple(terms), tuple(mean.tolist()), tuple(scale.tolist()), tuple(coef.tolist()), intercept, c)

    @classmethod
    def single(cls, sentence: str) -> MonotoneJoint:
        return cls((Term(sentence),), (0.0,), (1.0,), (1.0,), 0.0, 0.0, "sentence")

    @property
    def sentences(self) -> tuple[str, ...]:
        """The sentences the score reads (eval-aware and neutral)."""
        names = [t.aware for t in self.terms] + [t.neutral for t in self.terms if t.neutral is not None]
        return tuple(dict.fromkeys(names))

    def decision_matrix(self, x: FloatArray) -> FloatArray:
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(z @ np.asarray(self.coef) + self.intercept, dtype=np.float64)

    def decision(self, rows: Sequence[Mapping[str, float]]) -> FloatArray:
        return self.decision_matrix(term_matrix(rows, self.terms))

    def score(self, logprobs: Mapping[str, float]) -> float:
        return float(self.decision([logprobs])[0])

    def sentence_weights(self) -> dict[str, float]:
        """d score / d log P(sentence): ≥ 0 for eval-aware sentences, ≤ 0 for neutral openers."""
        out: dict[str, float] = {}
        for term, coef, scale in zip(self.terms, self.coef, self.scale, strict=True):
            out[term.aware] = out.get(term.aware, 0.0) + coef / scale
            if term.neutral is not None:
                out[term.neutral] = out.get(term.neutral, 0.0) - coef / scale
        return out

    def active(self) -> list[tuple[str, float]]:
        """``(term name, standardised weight)`` of the terms with a non-zero weight, largest first."""
        pairs = [(t.name, w) for t, w in zip(self.terms, self.coef, strict=True) if w > 1e-9]
        return sorted(pairs, key=lambda p: -p[1])

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "terms": [t.as_list() for t in self.terms],
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "c": self.c,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonotoneJoint:
        def floats(key: str) -> tuple[float, ...]:
            return tuple(float(v) for v in data[key])

        terms = tuple(Term(str(a), None if n is None else str(n)) for a, n in data["terms"])
        coef = floats("coef")
        if any(w < 0 for w in coef):
            raise ValueError("a headline weight is negative")
        method = str(data.get("method", "logistic"))
        if method not in ("logistic", "sentence"):
            raise ValueError(f"unknown headline method {method!r}")
        return cls(
            terms,
            floats("mean"),
            floats("scale"),
            coef,
            float(data["intercept"]),
            float(data.get("c", 1.0)),
            method,  # type: ignore[arg-type]
        )
