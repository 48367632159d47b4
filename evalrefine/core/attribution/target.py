"""What is being explained: one sentence's log P, or the joint monitor's score.

Occlusion and ablation only need a target's *value* for a scored prompt; gradients need its
derivative with respect to each sentence's log P (the joint monitor is a smooth function of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evalrefine.core.calibration.joint import logsumexp
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.scoring.monitor import MonitorResult


def _logprobs(result: MonitorResult) -> dict[str, float]:
    return {s.sentence: s.logprob for s in result.sentences}


@dataclass(frozen=True)
class SentenceTarget:
    sentence: str

    @property
    def name(self) -> str:
        return f"log P({self.sentence!r})"

    @property
    def units(self) -> str:
        return "nats"

    @property
    def sentences(self) -> tuple[str, ...]:
        return (self.sentence,)

    def value(self, result: MonitorResult) -> float:
        return _logprobs(result)[self.sentence]

    def weights(self, result: MonitorResult) -> Mapping[str, float]:
        return {self.sentence: 1.0}


@dataclass(frozen=True)
class JointTarget:
    """The reference's headline, the score ``score``, ``lint`` and ``refine`` place: the constrained
    combination (a linear function of the log Ps that never falls when an eval-aware one rises),
    one eval-aware sentence, or ``any`` (log-sum-exp of the eval-aware sentences' log Ps)."""

    reference: Reference

    @property
    def name(self) -> str:
        return f"joint score ({self.reference.joint_method()})"

    @property
    def units(self) -> str:
        return "logit" if self.reference.joint_method() == "logistic" else "nats"

    @property
    def sentences(self) -> tuple[str, ...]:
        return self.reference.required_sentences()

    def value(self, result: MonitorResult) -> float:
        return self.reference.joint_score(_logprobs(result), len(result.prompt.ids))

    def weights(self, result: MonitorResult) -> Mapping[str, float]:
        """d value / d log P(sentence): ≥ 0 for eval-aware sentences, ≤ 0 for the neutral openers
        they are contrasted against."""
        joint = self.reference.joint
        if joint is not None:
            return joint.sentence_weights()
        return _softmax_weights(_logprobs(result), self.reference.eval_sentences)


@dataclass(frozen=True)
class AnyTarget:
    """log P(the CoT opens with any of these sentences): log-sum-exp of their log Ps."""

    sentences: tuple[str, ...]

    @property
    def name(self) -> str:
        return "log P(any of " + ", ".join(repr(s) for s in self.sentences) + ")"

    @property
    def units(self) -> str:
        return "nats"

    def value(self, result: MonitorResult) -> float:
        lps = _logprobs(result)
        return logsumexp([lps[s] for s in self.sentences])

    def weights(self, result: MonitorResult) -> Mapping[str, float]:
        return _softmax_weights(_logprobs(result), self.sentences)


def _softmax_weights(lps: Mapping[str, float], sentences: Sequence[str]) -> dict[str, float]:
    top = max(lps[s] for s in sentences)
    z = math.fsum(math.exp(lps[s] - top) for s in sentences)
    return {s: math.exp(lps[s] - top) / z for s in sentences}


Target = SentenceTarget | JointTarget | AnyTarget
