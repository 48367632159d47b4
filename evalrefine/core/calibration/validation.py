"""Is the monitor worth trusting for this model? AUROC of each sentence, the headline, and format.

A monitor separates eval prompts from deployment prompts or it does not; this module says how well,
with bootstrap confidence intervals, and never reports an AUROC on data a combination was fitted on.
Next to every monitor stand two *format baselines*, also held out: prompt length alone, and a TF-IDF
+ logistic text classifier; and each monitor's AUROC after controlling for them (a stack of monitor
and baseline, against the baseline alone). An eval-awareness monitor that only matches the TF-IDF
baseline measures format, not awareness.

Two protocols: random stratified folds (``by=None``), and leave-one-dataset-out (``by="dataset"``):
each eval set is held out in turn with a disjoint share of traffic, which is what a new benchmark
looks like to the monitor, and what the headline of a reference is chosen by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from evalrefine.core.calibration.heldout import (
    Data,
    JointMonitor,
    LengthBaseline,
    Monitor,
    Split,
    TfidfBaseline,
    any_monitor,
    lodo_splits,
    random_splits,
    score_splits,
    sentence_monitor,
)
from evalrefine.core.calibration.joint import all_terms, split_sentences
from evalrefine.core.calibration.metrics import auroc, bootstrap_auroc_ci, roc_curve

BASELINES = ("length", "tfidf")


@dataclass(frozen=True)
class Scored:
    """One prompt's monitor output, with its label (and its text, for the TF-IDF baseline)."""

    logprobs: Mapping[str, float]
    prompt_tokens: int
    is_eval: bool
    dataset: str = ""
    text: str = ""


@dataclass(frozen=True)
class AurocResult:
    name: str
    auroc: float
    ci: tuple[float, float]
    fpr: tuple[float, ...] = ()
    tpr: tuple[float, ...] = ()
    controlled: Mapping[str, float] = field(default_factory=dict)
    """For each baseline: held-out AUROC of (this monitor + the baseline) minus the baseline's alone."""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"auroc": self.auroc, "ci": list(self.ci)}
        if self.controlled:
            out["gain_over"] = dict(self.controlled)
        return out


def _result(name: str, scores: np.ndarray, y: np.ndarray, n_boot: int, seed: int, curve: bool = True) -> AurocResult:
    pos, neg = scores[y == 1], scores[y == 0]
    fpr, tpr = roc_curve(pos, neg) if curve else (np.array([]), np.array([]))
    return AurocResult(
        name, auroc(pos, neg), bootstrap_auroc_ci(pos, neg, n_boot, seed), tuple(fpr.tolist()), tuple(tpr.tolist())
    )


@dataclass(frozen=True)
class HeldOut:
    """One held-out part: a dataset (leave-one-dataset-out) with the AUROC of every monitor on it."""

    name: str
    n_eval: int
    n_deploy: int
    results: Mapping[str, AurocResult]

    def as_dict(self) -> dict[str, object]:
        return {"n_eval": self.n_eval, "n_deploy": self.n_deploy, **{k: v.as_dict() for k, v in self.results.items()}}


@dataclass(frozen=True)
class ValidationReport:
    n_eval: int
    n_deploy: int
    protocol: str
    """``"random folds"`` or ``"leave-one-dataset-out"``."""
    monitors: tuple[AurocResult, ...]
    """Each eval-aware sentence, ``any``, the headline, then the baselines (pooled over the splits
    for random folds; the mean over held-out datasets for leave-one-dataset-out)."""
    sentences: tuple[str, ...]
    headline_terms: tuple[str, ...]
    held_out: tuple[HeldOut, ...] = ()
    folds: int = 5

    def get(self, name: str) -> AurocResult:
        return next(r for r in self.monitors if r.name == name)

    @property
    def sentence_results(self) -> tuple[AurocResult, ...]:
        return tuple(r for r in self.monitors if r.name in self.sentences)

    @property
    def best_sentence(self) -> AurocResult:
        return max(self.sentence_results, key=lambda r: r.auroc)

    @property
    def length_only(self) -> AurocResult:
        return self.get("length")

    @property
    def candidates(self) -> tuple[AurocResult, ...]:
        """What may become the headline: eval-aware sentences, ``any`` and the fitted combination."""
        return tuple(r for r in self.monitors if r.name not in BASELINES)

    @property
    def best(self) -> AurocResult:
        """The candidate with the highest held-out AUROC (a fixed score wins a tie: simpler)."""
        order = {r.name: i for i, r in enumerate(self.candidates)}
        return max(self.candidates, key=lambda r: (round(r.auroc, 6), r.name != "headline", -order[r.name]))

    def recommendation(self) -> str:
        best, length = self.best, self.length_only
        what = "the fitted headline" if best.name == "headline" else repr(best.name)
        text = f"use {what}: {self.protocol} AUROC {best.auroc:.3f} (prompt length alone {length.auroc:.3f}"
        if "tfidf" in {r.name for r in self.monitors}:
            text += f", TF-IDF text classifier {self.get('tfidf').auroc:.3f}"
        text += ")"
        if best.auroc <= length.auroc:
            text += "; it does not beat prompt length: do not trust it on this data"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "n_eval": self.n_eval,
            "n_deploy": self.n_deploy,
            "protocol": self.protocol,
            "folds": self.folds,
            "monitors": {r.name: r.as_dict() for r in self.monitors},
            "sentences": [{"sentence": r.name, **r.as_dict()} for r in self.sentence_results],
            "headline": {"terms": list(self.headline_terms), **self.get("headline").as_dict()},
            "best": self.best.name,
            "held_out": {h.name: h.as_dict() for h in self.held_out},
            "recommendation": self.recommendation(),
        }


def candidate_monitors(data: Data, eval_sentences: Sequence[str], joint_sentences: Sequence[str]) -> list[Monitor]:
    aware, neutral = split_sentences(eval_sentences, joint_sentences)
    monitors: list[Monitor] = [sentence_monitor(data, s) for s in aware]
    monitors += [any_monitor(data, aware), JointMonitor(all_terms(aware, neutral))]
    return monitors


def validate(
    prompts: Sequence[Scored],
    eval_sentences: Sequence[str],
    joint_sentences: Sequence[str] = (),
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    by: str | None = None,
    controlled: bool = True,
) -> ValidationReport:
    """Held-out AUROC of every candidate monitor and both baselines (``by="dataset"``: leave one
    eval dataset out); ``controlled`` adds each monitor's gain over each baseline."""
    y = np.array([1 if p.is_eval else 0 for p in prompts])
    if y.sum() < folds or (1 - y).sum() < folds:
        raise ValueError(f"validation needs at least {folds} eval and {folds} deployment prompts")
    data = Data.of(
        [p.logprobs for p in prompts],
        y.tolist(),
        [p.prompt_tokens for p in prompts],
        [p.text for p in prompts],
        [p.dataset for p in prompts],
    )
    if by not in (None, "dataset"):
        raise ValueError(f"cannot hold out by {by!r}; use 'dataset'")
    splits = lodo_splits(data.y, data.datasets, seed) if by else random_splits(data.y, folds, seed)
    monitors = candidate_monitors(data, eval_sentences, joint_sentences)
    baselines: list[Monitor] = [LengthBaseline()]
    if data.has_texts:
        baselines.append(TfidfBaseline())
    fitted = score_splits(monitors, baselines, data, splits, controlled, seed=seed)
    scores, stacks = fitted.scores, fitted.stacks
    terms = next(m for m in monitors if isinstance(m, JointMonitor)).terms
    run = _Run(data, splits, scores, stacks, [b.name for b in baselines], n_boot, seed)
    aware = tuple(m.name for m in monitors[:-2])
    held = run.per_dataset() if by else ()
    means = run.means(held) if by else run.pooled()
    protocol = "leave-one-dataset-out" if by else "random folds"
    n_eval, n_deploy = int(data.y.sum()), int((1 - data.y).sum())
    names = tuple(t.name for t in terms)
    return ValidationReport(n_eval, n_deploy, protocol, means, aware, names, held, len(splits) if by else folds)


@dataclass(frozen=True)
class _Run:
    """Held-out scores of every monitor (and stack) on every split, turned into AUROCs."""

    data: Data
    splits: Sequence[Split]
    scores: Mapping[str, list[np.ndarray]]
    stacks: Mapping[tuple[str, str], list[np.ndarray]]
    baselines: Sequence[str]
    n_boot: int
    seed: int

    def gains(self, name: str, idx: Sequence[int]) -> dict[str, float]:
        """The stack's AUROC minus the baseline's alone, on the given splits pooled."""
        y = np.concatenate([self.data.y[self.splits[i].test] for i in idx])
        out = {}
        for b in self.baselines:
            if (name, b) in self.stacks:
                st = np.concatenate([self.stacks[(name, b)][i] for i in idx])
                base = np.concatenate([self.scores[b][i] for i in idx])
                out[b] = auroc(st[y == 1], st[y == 0]) - auroc(base[y == 1], base[y == 0])
        return out

    def pooled(self) -> tuple[AurocResult, ...]:
        everything = range(len(self.splits))
        y = np.concatenate([self.data.y[s.test] for s in self.splits])
        return tuple(
            _with(_result(name, np.concatenate(parts), y, self.n_boot, self.seed), self.gains(name, everything))
            for name, parts in self.scores.items()
        )

    def per_dataset(self) -> tuple[HeldOut, ...]:
        held = []
        for i, s in enumerate(self.splits):
            y = self.data.y[s.test]
            results = {
                name: _with(_result(name, parts[i], y, self.n_boot, self.seed, curve=False), self.gains(name, [i]))
                for name, parts in self.scores.items()
            }
            held.append(HeldOut(s.name, int(y.sum()), int((1 - y).sum()), results))
        return tuple(held)

    def means(self, held: Sequence[HeldOut]) -> tuple[AurocResult, ...]:
        """The mean over held-out datasets (its "CI" is the mean of the per-dataset bounds)."""
        out = []
        for name in self.scores:
            per = [h.results[name] for h in held]
            ci = (float(np.mean([r.ci[0] for r in per])), float(np.mean([r.ci[1] for r in per])))
            gains = {k: float(np.mean([r.controlled[k] for r in per])) for k in per[0].controlled}
            out.append(AurocResult(name, float(np.mean([r.auroc for r in per])), ci, controlled=gains))
        return tuple(out)


def _with(r: AurocResult, gains: Mapping[str, float]) -> AurocResult:
    return AurocResult(r.name, r.auroc, r.ci, r.fpr, r.tpr, dict(gains))
