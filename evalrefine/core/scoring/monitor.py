"""The start-of-CoT logit monitor: the exact probability that the model opens its reasoning with an
eval-aware sentence.

The prompt is rendered with the model's chat template and generation prompt, the reasoning opener
is appended (see :mod:`evalrefine.core.scoring.template`), and each sentence is token-forced after it; the
per-token log-probabilities are summed. The backend prefills the prompt once and scores all
sentences on that shared prefix, so P sentences cost about one forward pass.

Tokenization at the boundary: a sentence's tokens are those of ``encode(prompt + sentence)`` after
the prompt's own tokens, which is how the tokenizer splits the sentence in context. If the prompt's
tokens are *not* a prefix of that (a tokenizer merged the prompt's last characters with the
sentence's first), we keep the prompt's own tokens, because that is what the model is conditioned
on when the prompt is served, and force the sentence's standalone tokenization instead; the score
is flagged ``boundary_merged`` so the choice is visible.

Identity: a stored score is reused only when everything that changes the number matches; that is
:attr:`StartOfCotMonitor.identity` (weights, template, pinned date, resolved opener, BOS policy and
the rendered probe prefix), hashed into :attr:`StartOfCotMonitor.model_fingerprint`. The rendered
probe is in it because two templates with identical text can still render differently (a
template date, a tokenizer's special-token values).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evalrefine.core.io.conversation import Conversation, validate_conversation
from evalrefine.core.scoring.protocols import ScoringBackend
from evalrefine.core.scoring.template import (
    DEFAULT_TEMPLATE_DATE,
    PLAIN,
    ReasoningFormat,
    detect_reasoning_format,
    opener_to_append,
    pinned_date_kwargs,
    probe_messages,
)
from evalrefine.errors import ContextTooLongError, EvalRefineError, InputError, ModelError


@dataclass(frozen=True)
class TokenLogprob:
    token_id: int
    token: str
    logprob: float
    """Natural log of the probability of this token given everything before it."""


@dataclass(frozen=True)
class SentenceScore:
    sentence: str
    tokens: tuple[TokenLogprob, ...]
    boundary_merged: bool = False
    """True when the sentence had to be tokenized on its own (see the module docstring)."""

    @property
    def logprob(self) -> float:
        """log P(the CoT starts with this sentence), in nats."""
        return math.fsum(t.logprob for t in self.tokens)

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)


@dataclass(frozen=True)
class PreparedPrompt:
    """The exact token sequences the monitor scores."""

    text: str
    """The rendered prompt plus the reasoning opener: everything before the forced sentence."""
    ids: tuple[int, ...]
    cot_opener: str
    reasoning_family: str
    sentences: tuple[str, ...]
    continuations: tuple[tuple[int, ...], ...]
    boundary_merged: tuple[bool, ...]
    closers: tuple[str, ...] = ()
    """Text that ends the reasoning (``</think>``, ``<|end|>``): rollouts stop there."""


@dataclass(frozen=True)
class MonitorResult:
    model: str
    prompt: PreparedPrompt
    sentences: tuple[SentenceScore, ...]

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` shape (a CLI contract: add keys freely, never remove these)."""
        return {
            "model": self.model,
            "prompt_tokens": len(self.prompt.ids),
            "cot_opener": self.prompt.cot_opener,
            "reasoning_family": self.prompt.reasoning_family,
            "sentences": [
                {
                    "sentence": s.sentence,
                    "logprob": s.logprob,
                    "prob": s.prob,
                    "boundary_merged": s.boundary_merged,
                    "tokens": [{"token": t.token, "token_id": t.token_id, "logprob": t.logprob} for t in s.tokens],
                }
                for s in self.sentences
            ],
        }


class StartOfCotMonitor:
    """Scores conversations with one backend and one set of sentences."""

    def __init__(
        self,
        backend: ScoringBackend,
        sentences: Sequence[str],
        cot_opener: str | None = None,
        *,
        template_date: str = DEFAULT_TEMPLATE_DATE,
    ) -> None:
        if not sentences:
            raise InputError("no eval-aware sentence to score", "give at least one --sentence")
        if any(not s for s in sentences):
            raise InputError("an eval-aware sentence is empty", "give non-empty --sentence values")
        try:
            date_kwargs = pinned_date_kwargs(template_date)
        except ValueError:
            raise InputError(f"template date {template_date!r} is not a date", "give it as YYYY-MM-DD") from None
        self.backend = backend
        self.sentences = tuple(sentences)
        self.cot_opener = cot_opener
        self.template_date = template_date
        self._date_kwargs = date_kwargs
        self.format: ReasoningFormat
        """How this model's template opens and closes the CoT (detected from rendered probes)."""
        try:
            self.format = detect_reasoning_format(self._render, backend.chat_template)
        except ModelError:
            if cot_opener is None:
                raise
            self.format = PLAIN  # the override places the CoT; detection's doubt does not matter
        self._identity: dict[str, str] | None = None

    def _render(self, messages: Sequence[Mapping[str, object]], gen: bool, kwargs: Mapping[str, object]) -> str:
        """Every render goes through here, so the pinned date is never forgotten."""
        merged = {**self._date_kwargs, **kwargs}
        return self.backend.render_messages(messages, add_generation_prompt=gen, template_kwargs=merged)

    @property
    def identity(self) -> dict[str, str]:
        """Everything except the sentences that changes a number (sentences are keyed separately)."""
        if self._identity is None:
            template = self.backend.chat_template or ""
            opener = self.format.describe() if self.cot_opener is None else json.dumps(["override", self.cot_opener])
            try:
                try:
                    rendered = self._render(probe_messages(), True, self.format.template_kwargs)
                except EvalRefineError:  # a template without a system role (Gemma): the user turn alone
                    rendered = self._render(probe_messages()[1:], True, self.format.template_kwargs)
                bos, probe_text = self._with_bos(rendered)
                opener_text, _ = opener_to_append(self.format, rendered, self.cot_opener)
                probe = hashlib.sha256((probe_text + opener_text).encode()).hexdigest()
            except EvalRefineError:  # no template: nothing can be scored, but the identity stays defined
                bos, probe = f"unknown:{self.backend.added_bos}", ""
            self._identity = {
                "weights": self.backend.fingerprint,
                "template": hashlib.sha256(template.encode()).hexdigest(),
                "template_date": self.template_date,
                "opener": opener,
                "bos": bos,
                "probe": probe,
            }
        return dict(self._identity)

    @property
    def model_fingerprint(self) -> str:
        """A hash of :attr:`identity`: stored scores and references are reused only when it matches."""
        return hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()[:32]

    def _with_bos(self, rendered: str) -> tuple[str, str]:
        """The BOS policy and the text to tokenize: generation starts with exactly one BOS when the
        tokenizer adds one, so it is prepended unless the template already rendered it (never twice)."""
        bos = self.backend.added_bos
        if not bos:
            return "none", rendered
        if rendered.startswith(bos):
            return f"template:{bos}", rendered
        return f"added:{bos}", bos + rendered

    def prepare(self, conversation: Conversation, allow_empty: bool = False) -> PreparedPrompt:
        """Render, add BOS and the opener, and tokenize; check that everything fits in the context."""
        validate_conversation(conversation, allow_empty=allow_empty)
        kwargs = {**self._date_kwargs, **self.format.template_kwargs}
        rendered = self.backend.render_chat(conversation.messages, template_kwargs=kwargs)
        opener, family = opener_to_append(self.format, rendered, self.cot_opener)
        text = self._with_bos(rendered)[1] + opener
        ids = self.backend.encode(text)
        continuations: list[tuple[int, ...]] = []
        merged: list[bool] = []
        for sentence in self.sentences:
            full = self.backend.encode(text + sentence)
            if full[: len(ids)] == ids and len(full) > len(ids):
                continuations.append(tuple(full[len(ids) :]))
                merged.append(False)
            else:
                continuations.append(tuple(self.backend.encode(sentence)))
                merged.append(True)
        needed = len(ids) + max(len(c) for c in continuations)
        limit = self.backend.context_length
        if needed > limit:
            raise ContextTooLongError(
                f"the prompt is {len(ids)} tokens and the longest sentence {needed - len(ids)}: "
                f"{needed} tokens, but {self.backend.name}'s context window is {limit}",
                "shorten the prompt or use a model with a longer context",
            )
        return PreparedPrompt(
            text,
            tuple(ids),
            opener,
            family,
            self.sentences,
            tuple(continuations),
            tuple(merged),
            self.format.closers,
        )

    def score_prepared(self, prepared: PreparedPrompt) -> MonitorResult:
        return self.result_from(prepared, self.backend.score_continuations(prepared.ids, prepared.continuations))

    def score_many(self, conversations: Sequence[Conversation], allow_empty: bool = False) -> list[MonitorResult]:
        """Score variants of one prompt together; the backend computes their shared prefix once.
        ``conversations[0]`` should be the one the others were edited from."""
        prepared = [self.prepare(c, allow_empty) for c in conversations]
        logprobs = self.backend.score_variants([p.ids for p in prepared], [p.continuations for p in prepared])
        return [self.result_from(p, lp) for p, lp in zip(prepared, logprobs, strict=True)]

    def score_batch(self, conversations: Sequence[Conversation]) -> list[MonitorResult | EvalRefineError]:
        """Score unrelated prompts together: they share the chat template's header, which is
        computed once, and the rest are packed many to a forward pass (no padding). A prompt that
        cannot be scored (e.g. too long) gets its error in its slot; the others are unaffected."""
        prepared: list[PreparedPrompt | EvalRefineError] = []
        for conv in conversations:
            try:
                prepared.append(self.prepare(conv))
            except EvalRefineError as exc:
                prepared.append(exc)
        ok = [p for p in prepared if isinstance(p, PreparedPrompt)]
        if len(ok) == 1:  # one pass, no shared-prefix cache to build
            logprobs = iter([self.backend.score_continuations(ok[0].ids, ok[0].continuations)])
        else:
            logprobs = iter(
                self.backend.score_variants([p.ids for p in ok], [p.continuations for p in ok]) if ok else []
            )
        return [p if isinstance(p, EvalRefineError) else self.result_from(p, next(logprobs)) for p in prepared]

    def result_from(self, prepared: PreparedPrompt, logprobs: Sequence[Sequence[float]]) -> MonitorResult:
        """A result from per-token log-probabilities computed elsewhere (e.g. by a gradient pass)."""
        scores = []
        for sentence, cont, lps, was_merged in zip(
            prepared.sentences, prepared.continuations, logprobs, prepared.boundary_merged, strict=True
        ):
            names = self.backend.token_strings(cont)
            tokens = tuple(TokenLogprob(i, n, float(lp)) for i, n, lp in zip(cont, names, lps, strict=True))
            scores.append(SentenceScore(sentence, tokens, was_merged))
        return MonitorResult(self.backend.name, prepared, tuple(scores))

    def score(self, conversation: Conversation) -> MonitorResult:
        """The monitor's result for one conversation."""
        return self.score_prepared(self.prepare(conversation))
