"""The small contracts that connect the headless core to models.

A backend (local transformers model, remote server, test double) renders chats, tokenizes, and
scores forced continuations; the core does the rest. Keeping this to a few methods is what lets
one monitor run unchanged over very different engines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from evalrefine.core.io.conversation import Message


@runtime_checkable
class ChatTokenizer(Protocol):
    """The model's chat template and tokenizer."""

    @property
    def chat_template(self) -> str | None:
        """The raw Jinja chat template, or ``None`` if the model has none."""
        ...

    def render_chat(self, messages: Sequence[Message], *, template_kwargs: Mapping[str, object] | None = None) -> str:
        """Render ``messages`` with the chat template and the generation prompt, as text.

        Raises:
            ModelError: the model has no chat template or the template fails on these messages.
        """
        ...

    def render_messages(
        self,
        messages: Sequence[Mapping[str, object]],
        *,
        add_generation_prompt: bool,
        template_kwargs: Mapping[str, object] | None = None,
    ) -> str:
        """Render raw message dicts, which may carry fields :class:`Message` has not (``reasoning_content``,
        ``thinking``): the reasoning-format probes need them, and an assistant turn without a
        generation prompt.

        Raises:
            ModelError: the model has no chat template or the template fails on these messages.
        """
        ...

    @property
    def added_bos(self) -> str:
        """The BOS token's text if the tokenizer puts one before a sequence (``add_special_tokens=True``),
        else ``""``: the monitor starts the scored ids with exactly one BOS, as generation would."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added (the text already carries them)."""
        ...

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each id decoded on its own, for display."""
        ...


@runtime_checkable
class ContinuationScorer(Protocol):
    """Scores forced continuations of one shared prefix."""

    def score_continuations(self, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
        """Natural-log probability of each continuation token given the prefix and earlier tokens.

        Returns one list per continuation, as long as that continuation.
        """
        ...

    def score_variants(
        self, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]]
    ) -> list[list[list[float]]]:
        """:meth:`score_continuations` for several prompts at once (``continuations[i]`` belong to
        ``prompts[i]``). Prompts usually share a long prefix with ``prompts[0]`` (attribution edits
        one span at a time), which a backend may compute once; a simple backend may just loop.
        """
        ...


def shared_prefix(base: Sequence[int], prompt: Sequence[int]) -> int:
    """How many leading tokens ``prompt`` shares with ``base`` and can take from its cache, leaving at
    least ``prompt``'s last token to compute (its hidden state predicts the first forced token)."""
    n = 0
    for x, y in zip(base, prompt, strict=False):
        if x != y:
            break
        n += 1
    return min(n, len(prompt) - 1)


@runtime_checkable
class ScoringBackend(ChatTokenizer, ContinuationScorer, Protocol):
    """A model the monitor can use: a chat tokenizer plus a continuation scorer."""

    @property
    def name(self) -> str:
        """A human-readable model name (shown in reports)."""
        ...

    @property
    def context_length(self) -> int:
        """The largest number of tokens the model accepts."""
        ...

    @property
    def fingerprint(self) -> str:
        """Identifies the weights (not just the name): stored scores are reused only when it matches."""
        ...


@runtime_checkable
class GradientScorer(Protocol):
    """Gradients of forced-continuation log-probabilities (local models only)."""

    def token_saliency(
        self,
        prompt_text: str,
        prompt_ids: Sequence[int],
        continuations: Sequence[Sequence[int]],
        weights: Callable[[list[list[float]]], Sequence[float]],
    ) -> tuple[list[tuple[int, int, float]], list[list[float]]]:
        """Gradient × input of ``Σ_i w_i · log P(continuation i)`` for each prompt token, where
        ``w = weights(per-token log-probabilities of each continuation)``.

        Returns ``(start, end, score)`` per prompt token (character offsets into ``prompt_text``)
        and the continuations' per-token log-probabilities from the same forward pass.
        """
        ...
