"""Rewriters: given a prompt, its score, its most test-like spans and a rubric, propose k rewrites.

One small protocol serves the LLM rewriters (OpenAI, Anthropic, any OpenAI-compatible server) and
the offline rule-based one, so the refine loop never knows which it is driving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evalrefine.core.refine.rubric import Rubric


@dataclass(frozen=True)
class Usage:
    """What one rewriter call cost (zero for the offline rewriter)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True)
class RewriteRequest:
    text: str
    """The user turn to rewrite."""
    rubric: Rubric
    k: int = 3
    system: str | None = None
    score: float | None = None
    percentile: float | None = None
    top_spans: tuple[tuple[str, float], ...] = ()
    """``(span text, effect)`` of the spans that raise the score most, most test-like first."""
    protected: tuple[str, ...] = ()
    """Text that must survive (verbatim or in meaning)."""
    iteration: int = 1


@dataclass(frozen=True)
class Candidate:
    text: str
    rewriter: str
    rationale: str = ""
    usage: Usage = field(default_factory=Usage)


class Rewriter(Protocol):
    """Proposes rewrites of a prompt that keep its intent."""

    @property
    def name(self) -> str:
        """How the rewriter is named in reports (never contains a key)."""
        ...

    def rewrite(self, request: RewriteRequest) -> Sequence[Candidate]:
        """Up to ``request.k`` candidates, each different from ``request.text``.

        Raises:
            EvalRefineError: the rewriter cannot be reached or refused the request.
        """
        ...
