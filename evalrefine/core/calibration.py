"""Placing a score against deployment traffic: percentiles, the joint score and a verdict.

"This prompt scores like the 91st percentile of real traffic" is what an author can act on. The
percentile of a score is its place among the reference's *deployment* prompts (higher = more
test-like than more real traffic); the verdict compares it with a target (default: the median).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from evalrefine.core.metrics import percentile_of
from evalrefine.core.monitor import MonitorResult
from evalrefine.core.reference import Reference


@dataclass(frozen=True)
class Placement:
    reference: str
    percentiles: Mapping[str, float]
    """Deployment percentile of each monitored sentence present in the reference."""
    eval_percentiles: Mapping[str, float]
    """Percentile within the reference's eval prompts (empty when it has none)."""
    joint_method: str
    joint_score: float
    percentile: float
    """The headline: the joint score's deployment percentile."""
    eval_percentile: float | None
    target: float

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
            "joint": {"method": self.joint_method, "score": self.joint_score, "percentile": self.percentile},
        }


def place(result: MonitorResult, reference: Reference, target: float = 50.0) -> Placement:
    """Percentiles of ``result`` in ``reference`` (the caller checked the fingerprints match)."""
    logprobs = {s.sentence: s.logprob for s in result.sentences}
    return place_scores(logprobs, len(result.prompt.ids), reference, target)


def place_scores(logprobs: Mapping[str, float], tokens: int, reference: Reference, target: float = 50.0) -> Placement:
    """:func:`place` from stored scores (a cache row): per-sentence log P and the prompt's length."""
    has_eval = bool(reference.labelled("eval"))
    pct, eval_pct = {}, {}
    for sentence, lp in logprobs.items():
        if sentence in reference.sentences:
            pct[sentence] = percentile_of(lp, reference.sentence_scores(sentence, "deploy"))
            if has_eval:
                eval_pct[sentence] = percentile_of(lp, reference.sentence_scores(sentence, "eval"))
    joint = reference.joint_score(logprobs, tokens)
    return Placement(
        reference=reference.name,
        percentiles=pct,
        eval_percentiles=eval_pct,
        joint_method=reference.joint_method(),
        joint_score=joint,
        percentile=percentile_of(joint, reference.joint_scores("deploy")),
        eval_percentile=percentile_of(joint, reference.joint_scores("eval")) if has_eval else None,
        target=target,
    )
