"""Held-out evaluation: splits, the monitors and format baselines fitted on them, and stacking.

Two kinds of split. *Random folds* (scikit-learn's ``StratifiedKFold``) measure a monitor on prompts
like the ones it was fitted on. *Leave-one-dataset-out* (``LeaveOneGroupOut``) holds out a whole eval
set together with a disjoint share of deployment traffic and fits on the rest: what a monitor will
meet on a new benchmark. A style or length detector looks good on random folds and fails here.

Every monitor is a ``fit(data, train) -> score(indices)`` pair, so a fixed sentence, the fitted
headline and the two format baselines (prompt length; a TF-IDF + logistic text classifier) are all
measured the same way. A monitor "after controlling for" a baseline is a logistic stack of the two
fitted on the training part: its gain over the baseline alone says what the monitor adds beyond format
(the question of arXiv 2603.19426, "Is evaluation awareness just format sensitivity?").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from evalrefine.core.calibration.joint import MonotoneJoint, Term, logsumexp

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int_]
Scorer = Callable[[IntArray], FloatArray]


@dataclass(frozen=True)
class Split:
    name: str
    """The held-out eval dataset (leave-one-dataset-out) or ``fold k``."""
    train: IntArray
    test: IntArray


@dataclass(frozen=True)
class Data:
    rows: Sequence[Mapping[str, float]]
    y: IntArray
    log_len: FloatArray
    texts: Sequence[str]
    datasets: Sequence[str]

    @classmethod
    def of(
        cls,
        rows: Sequence[Mapping[str, float]],
        y: Sequence[int],
        tokens: Sequence[int],
        texts: Sequence[str] = (),
        datasets: Sequence[str] = (),
    ) -> Data:
        n = len(rows)
        return cls(
            rows,
            np.asarray(y, dtype=np.int_),
            np.array([math.log(max(t, 1)) for t in tokens], dtype=np.float64),
            list(texts) or [""] * n,
            list(datasets) or [""] * n,
        )

    @property
    def has_texts(self) -> bool:
        return all(t.strip() for t in self.texts)


def random_splits(y: IntArray, k: int = 5, seed: int = 0) -> list[Split]:
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    return [Split(f"fold {i + 1}", np.asarray(tr), np.asarray(te)) for i, (tr, te) in enumerate(folds)]


def lodo_groups(y: IntArray, datasets: Sequence[str], seed: int = 0) -> list[str]:
    """Each eval prompt's group is its dataset; deployment prompts are dealt, shuffled, into as many
    disjoint parts as there are eval datasets, so each held-out eval set meets traffic no fit saw."""
    names = sorted({d for d, label in zip(datasets, y, strict=True) if label == 1})
    groups = [d if label == 1 else "" for d, label in zip(datasets, y, strict=True)]
    deploy = np.flatnonzero(y == 0)
    np.random.default_rng(seed).shuffle(deploy)
    for i, j in enumerate(deploy):
        groups[int(j)] = names[i % len(names)]
    return groups


def lodo_splits(y: IntArray, datasets: Sequence[str], seed: int = 0) -> list[Split]:
    from sklearn.model_selection import LeaveOneGroupOut

    if len({d for d, label in zip(datasets, y, strict=True) if label == 1}) < 2:
        raise ValueError("leave-one-dataset-out needs eval prompts from at least two datasets")
    groups = np.array(lodo_groups(y, datasets, seed))
    out = []
    for train, test in LeaveOneGroupOut().split(np.zeros(len(y)), y, groups):
        out.append(Split(str(groups[test[0]]), np.asarray(train), np.asarray(test)))
    return out


# -- monitors -------------------------------------------------------------------------------------
class Monitor(Protocol):
    @property
    def name(self) -> str: ...

    def fit(self, data: Data, train: IntArray) -> Scorer: ...


@dataclass(frozen=True)
class FixedMonitor:
    """A score that needs no fitting (one sentence's log P, or ``any``)."""

    name: str
    values: FloatArray

    def fit(self, data: Data, train: IntArray) -> Scorer:
        return lambda idx: self.values[idx]


def sentence_monitor(data: Data, sentence: str) -> FixedMonitor:
    return FixedMonitor(sentence, np.array([r[sentence] for r in data.rows], dtype=np.float64))


def any_monitor(data: Data, sentences: Sequence[str]) -> FixedMonitor:
    return FixedMonitor("any", np.array([logsumexp([r[s] for s in sentences]) for r in data.rows]))


@dataclass(frozen=True)
class JointMonitor:
    """The constrained headline over fixed terms, refitted on each training part."""

    terms: tuple[Term, ...]
    name: str = "headline"
    c: float = 1.0

    def fit(self, data: Data, train: IntArray) -> Scorer:
        model = MonotoneJoint.fit([data.rows[i] for i in train], data.y[train], self.terms, self.c)
        return lambda idx: model.decision([data.rows[i] for i in idx])


@dataclass(frozen=True)
class LengthBaseline:
    """Prompt length alone (log tokens), its direction learned on the training part."""

    name: str = "length"

    def fit(self, data: Data, train: IntArray) -> Scorer:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression().fit(data.log_len[train, None], data.y[train])
        return lambda idx: np.asarray(model.decision_function(data.log_len[idx, None]), dtype=np.float64)


@dataclass(frozen=True)
class TfidfBaseline:
    """A bag-of-words classifier of the prompt text: what format alone can tell."""

    name: str = "tfidf"

    def fit(self, data: Data, train: IntArray) -> Scorer:
        model = tfidf_pipeline().fit([data.texts[i] for i in train], data.y[train])
        return lambda idx: np.asarray(model.decision_function([data.texts[i] for i in idx]), dtype=np.float64)


def tfidf_pipeline() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), LogisticRegression(C=10.0, solver="liblinear")
    )


def _train_side(baseline: Monitor, data: Data, train: IntArray, inner: int, seed: int) -> FloatArray:
    """The baseline's scores on its own training part, each from a fit that did not see the prompt
    (so the stack does not learn to trust an over-fitted baseline)."""
    out = np.empty(len(train))
    for s in random_splits(data.y[train], min(inner, int(np.bincount(data.y[train]).min())), seed):
        out[s.test] = baseline.fit(data, train[s.train])(train[s.test])
    return out


@dataclass(frozen=True)
class HeldOutScores:
    scores: dict[str, list[FloatArray]]
    """Each monitor's and baseline's test scores, split by split."""
    stacks: dict[tuple[str, str], list[FloatArray]]
    """``(monitor, baseline)``: test scores of a logistic stack of the two, split by split."""


def score_splits(
    monitors: Sequence[Monitor],
    baselines: Sequence[Monitor],
    data: Data,
    splits: Sequence[Split],
    controlled: bool = True,
    inner: int = 3,
    seed: int = 0,
) -> HeldOutScores:
    """Fit everything once per split. With ``controlled``, each monitor is also stacked with each
    baseline (standardised logistic regression on the two scores, fitted on the training part), to
    measure what the monitor adds once format is accounted for."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores: dict[str, list[FloatArray]] = {m.name: [] for m in [*monitors, *baselines]}
    stacks: dict[tuple[str, str], list[FloatArray]] = {}
    for s in splits:
        fitted = {m.name: m.fit(data, s.train) for m in monitors}
        for m in monitors:
            scores[m.name].append(fitted[m.name](s.test))
        for b in baselines:
            base = b.fit(data, s.train)
            base_test = base(s.test)
            scores[b.name].append(base_test)
            if not controlled:
                continue
            base_train = _train_side(b, data, s.train, inner, seed)
            for m in monitors:
                stack = make_pipeline(StandardScaler(), LogisticRegression())
                stack.fit(np.column_stack([base_train, fitted[m.name](s.train)]), data.y[s.train])
                both = np.column_stack([base_test, fitted[m.name](s.test)])
                stacks.setdefault((m.name, b.name), []).append(np.asarray(stack.decision_function(both)))
    return HeldOutScores(scores, stacks)
