"""Leave-one-out occlusion: delete one span, re-score; the drop is the span's effect.

Exact by construction (``effect = target(original) − target(text[:start] + text[end:])``). The
edited prompts share everything before the deleted span with the original, so they are scored
together with :meth:`StartOfCotMonitor.score_many`, which computes that shared prefix once: the
cost of N spans is about N/2 forward passes over the prompt, not N.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalrefine.core.attribution.base import Attribution, SpanEffect
from evalrefine.core.attribution.spans import Span, delete_spans
from evalrefine.core.attribution.target import Target
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor


@dataclass(frozen=True)
class LeaveOneOut:
    monitor: StartOfCotMonitor
    target: Target
    name: str = "loo"

    def attribute(self, conversation: Conversation, spans: Sequence[Span]) -> Attribution:
        variants = [conversation, *[delete_spans(conversation, [s]) for s in spans]]
        results = self.monitor.score_many(variants, allow_empty=True)
        values = [self.target.value(r) for r in results]
        effects = tuple(SpanEffect(s, values[0] - v) for s, v in zip(spans, values[1:], strict=True))
        return Attribution(self.name, self.target.name, self.target.units, values[0], effects, len(spans))
