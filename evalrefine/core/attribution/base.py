"""Attribution results (frozen, in the target's units) and the one protocol every method follows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from evalrefine.core.attribution.spans import Span
from evalrefine.core.io.conversation import Conversation


@dataclass(frozen=True)
class SpanEffect:
    span: Span
    effect: float
    """How much the span raises the target (units of the attribution); deleting it lowers the
    target by this much (exactly so for leave-one-out)."""

    @property
    def factor(self) -> float:
        """exp(effect): for a log-probability target, how many times likelier the span makes it."""
        return math.exp(min(self.effect, 700.0))


@dataclass(frozen=True)
class DeletionCurve:
    """The faithfulness check: the target after deleting the k highest-ranked spans, against
    deleting k random spans (the mean over several draws), for k = 0..K."""

    ks: tuple[int, ...]
    top: tuple[float, ...]
    random: tuple[float, ...]

    @property
    def top_drop(self) -> float:
        """Drop after deleting the top-1 span (0 when there is none)."""
        return self.top[0] - self.top[1] if len(self.top) > 1 else 0.0

    @property
    def random_drop(self) -> float:
        return self.random[0] - self.random[1] if len(self.random) > 1 else 0.0

    @property
    def area_gap(self) -> float:
        """Mean over k ≥ 1 of (random − top): positive when the ranking beats chance."""
        gaps = [r - t for r, t in zip(self.random[1:], self.top[1:], strict=True)]
        return sum(gaps) / len(gaps) if gaps else 0.0

    @property
    def trustworthy(self) -> bool:
        """Deleting the ranked spans lowers the score more than deleting random ones."""
        return self.area_gap > 0 and self.top_drop >= self.random_drop


@dataclass(frozen=True)
class Attribution:
    method: str
    target: str
    units: str
    value: float
    """The target's value for the unedited prompt."""
    spans: tuple[SpanEffect, ...]
    """In prompt order."""
    variants_scored: int = 0
    """How many edited prompts were scored (the method's cost, before prefix sharing)."""
    faithfulness: DeletionCurve | None = None

    def ranked(self) -> list[SpanEffect]:
        """Spans by decreasing effect (the ones that make the prompt most test-like first)."""
        return sorted(self.spans, key=lambda s: s.effect, reverse=True)


class Attributor(Protocol):
    """A method that assigns each span of a prompt an effect on the target."""

    @property
    def name(self) -> str:
        """The method's name as the CLI spells it."""
        ...

    def attribute(self, conversation: Conversation, spans: Sequence[Span]) -> Attribution:
        """Effects of ``spans`` (from :func:`evalrefine.core.attribution.spans.split_spans`) on the target."""
        ...
