"""Gradient × input on the input embeddings: a token-level heatmap for about one forward and one
backward pass, whatever the number of spans. Cheap but only a first-order picture, which is why
its deletion curve is shown next to it. Local models only (the backend must be a GradientScorer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evalrefine.core.attribution.base import Attribution, SpanEffect
from evalrefine.core.attribution.spans import Span
from evalrefine.core.attribution.target import Target
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.protocols import GradientScorer
from evalrefine.errors import EvalRefineError


def message_offsets(rendered: str, conversation: Conversation) -> list[int]:
    """Where each message's content starts in the rendered prompt (templates copy it verbatim)."""
    offsets, pos = [], 0
    for msg in conversation.messages:
        at = rendered.find(msg.content, pos)
        if at < 0:
            raise EvalRefineError(
                "the chat template changes the message text; gradient attribution cannot map it back",
                "use --method loo",
            )
        offsets.append(at)
        pos = at + len(msg.content)
    return offsets


@dataclass(frozen=True)
class GradientTimesInput:
    monitor: StartOfCotMonitor
    target: Target
    name: str = "gradient"

    def attribute(self, conversation: Conversation, spans: Sequence[Span]) -> Attribution:
        backend = self.monitor.backend
        if not isinstance(backend, GradientScorer):
            raise EvalRefineError(f"{backend.name} does not provide gradients", "use --method loo or ablation")
        prepared = self.monitor.prepare(conversation)

        def weights(logprobs: list[list[float]]) -> list[float]:
            w = self.target.weights(self.monitor.result_from(prepared, logprobs))
            return [w.get(s, 0.0) for s in prepared.sentences]

        tokens, logprobs = backend.token_saliency(prepared.text, prepared.ids, prepared.continuations, weights)
        result = self.monitor.result_from(prepared, logprobs)
        bases = message_offsets(prepared.text, conversation)
        effects = []
        for span in spans:
            lo, hi = bases[span.message] + span.start, bases[span.message] + span.end
            effects.append(SpanEffect(span, sum(v for start, _, v in tokens if lo <= start < hi)))
        return Attribution(self.name, self.target.name, self.target.units, self.target.value(result), tuple(effects), 0)
