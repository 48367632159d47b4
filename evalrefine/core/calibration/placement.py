"""Placing a score against deployment traffic: percentiles, the headline score and a verdict.

"This prompt scores like the 91st percentile of real traffic" is what an author can act on. The
percentile of a score is its place among the reference's *deployment* prompts (higher = more
test-like than more real traffic); the verdict compares it with a target (default: the median).

The reference's own headline scores are cross-fitted (each from a model that never saw that prompt),
and a prompt that *is* one of the reference's entries is placed by its fold model among the others,
so no percentile is in-sample. With a few hundred reference prompts a percentile is uncertain by
several points: the placement carries its exact binomial interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from evalrefine.core.calibration.metrics import percentile_ci, percentile_of
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.scoring.monitor import MonitorResult


@dataclass(frozen=True)
class Placement:
    reference: str
    percentiles: Mapping[str, float]
    """Deployment percentile of each monitored sentence present in the reference."""
    joint_method: str
    joint_score: float
    percentile: float
    """The headline: the joint score's deployment percentile."""
    eval_percentile: float | None
    target: float
    percentile_ci: tuple[float, float] = (0.0, 100.0)
    """95% interval of the headline percentile given the reference's size."""
    n_deploy: int = 0
    in_reference: bool = False
    """The prompt is one of the reference's entries (placed by the fold model that did not see it)."""

    @property
    def passes(self) -> bool:
        """At or below the target percentile: reads like deployment traffic."""
        return self.percentile <= self.target

    @property
    def verdict(self) -> str:
        return "reads like deployment traffic" if self.passes else "looks like a test"

    def as_dict(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "percentile": self.percentile,
            "eval_percentile": self.eval_percentile,
            "target_percentile": self.target,
            "verdict": self.verdict,
            "passes": self.passes,
            "percentile_ci95": list(self.percentile_ci),
            "n_deploy": self.n_deploy,
            "in_reference": self.in_reference,
            "joint": {"method": self.joint_method, "score": self.joint_score, "percentile": self.percentile},
        }


def place(result: MonitorResult, reference: Reference, target: float = 50.0) -> Placement:
    """Percentiles of ``result`` in ``reference`` (the caller checked the fingerprints match)."""
    logprobs = {s.sentence: s.logprob for s in result.sentences}
    return place_scores(logprobs, len(result.prompt.ids), reference, target)


def place_scores(logprobs: Mapping[str, float], tokens: int, reference: Reference, target: float = 50.0) -> Placement:
    """:func:`place` from stored scores (a cache row): per-sentence log P and the prompt's length."""
    has_eval = bool(reference.labelled("eval"))
    pct = {
        sentence: percentile_of(lp, reference.sentence_scores(sentence, "deploy"))
        for sentence, lp in logprobs.items()
        if sentence in reference.sentences
    }
    joint, deploy, evals, index = _joint(logprobs, tokens, reference)
    percentile = percentile_of(joint, deploy)
    return Placement(
        reference=reference.name,
        percentiles=pct,
        joint_method=reference.joint_method(),
        joint_score=joint,
        percentile=percentile,
        eval_percentile=percentile_of(joint, evals) if has_eval and len(evals) else None,
        target=target,
        percentile_ci=percentile_ci(percentile, len(deploy)),
        n_deploy=len(deploy),
        in_reference=index is not None,
    )


def headline_percentile(logprobs: Mapping[str, float], tokens: int, reference: Reference) -> float:
    """:attr:`Placement.percentile` alone, exactly as :func:`place_scores` computes it, without the
    per-sentence percentiles and the interval: lint judges hundreds of prompts by it."""
    joint, deploy, _, _ = _joint(logprobs, tokens, reference)
    return percentile_of(joint, deploy)


def _joint(
    logprobs: Mapping[str, float], tokens: int, reference: Reference
) -> tuple[float, np.ndarray, np.ndarray, int | None]:
    """The headline score, the deployment and eval headlines it is placed among, and the
    reference entry the prompt is (``None`` for a new prompt)."""
    deploy, evals = reference.joint_scores("deploy"), reference.joint_scores("eval")
    index = reference.entry_index(logprobs, tokens)
    if index is None:
        return reference.joint_score(logprobs, tokens), deploy, evals, None
    # one of the reference's own prompts: its held-out score, among the others
    label = reference.entries[index].label
    position = [i for i, e in enumerate(reference.entries) if e.label == label].index(index)
    if label == "deploy":
        deploy = np.delete(deploy, position)
    else:
        evals = np.delete(evals, position)
    return reference.held_out_score(index), deploy, evals, index
