"""The rollout monitor: the logit monitor evaluated along sampled chains of thought, not only at their start.

The start-of-CoT score is a proxy; the seed study also samples K rollouts, splits each at sentence
boundaries and forces the eval-aware sentence at every boundary: the prompt's score is the
maximum over rollouts and positions (a model that only becomes suspicious mid-reasoning is
caught too). Position 0 is the start of the CoT itself, so K = 0 is the plain monitor.

Only the reasoning is scored: a rollout stops at the end of the reasoning (``</think>``, harmony's
``<|end|>``; see :attr:`ReasoningFormat.closers`) as well as at EOS, and whatever a sampler returns
past a closer is cut off before scoring, so a boundary in the answer is never forced.

All boundaries of one rollout are scored in one call: their prefixes extend each other, so the
backend computes the shared prefix once and packs the rest (``score_variants``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from evalrefine.core.attribution.spans import sentence_bounds
from evalrefine.core.attribution.target import Target
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import PreparedPrompt, StartOfCotMonitor


class Sampler(Protocol):
    """Draws chains of thought from the model (seeded, so rollouts are reproducible)."""

    def sample(
        self, prompt_ids: Sequence[int], k: int, max_new_tokens: int, seed: int, stop: Sequence[Sequence[int]] = ()
    ) -> list[list[int]]:
        """``k`` continuations of ``prompt_ids`` (token ids, without the prompt), each ending before
        the first of the ``stop`` token sequences it produces (or at EOS)."""
        ...


@dataclass(frozen=True)
class Rollout:
    text: str
    token_ids: tuple[int, ...]
    boundaries: tuple[int, ...]
    """Token counts after which a sentence of the rollout ends (0 = the start of the CoT)."""
    values: tuple[float, ...]
    """The target's value at each boundary."""

    @property
    def peak(self) -> float:
        return max(self.values)


@dataclass(frozen=True)
class RolloutScore:
    start: float
    """The start-of-CoT value (position 0, the same for every rollout)."""
    rollouts: tuple[Rollout, ...]

    @property
    def value(self) -> float:
        """Max over rollouts and positions (the seed study's rollout monitor); ``start`` with none."""
        return max([self.start, *(r.peak for r in self.rollouts)])


def token_boundaries(text_of: Sequence[str], full_text: str) -> list[int]:
    """Token counts after which a sentence of ``full_text`` ends.

    ``text_of[j]`` is the text of the first ``j`` tokens. A sentence end that falls inside a token
    (byte-level BPE glues the next word's space to it: ``" The"``) moves back to the token edge
    before it, so the prefix never contains the start of the next sentence."""
    out: list[int] = []
    for _, end in sentence_bounds(full_text)[:-1]:  # after the last sentence there is no "next"
        j = max((i for i, t in enumerate(text_of) if len(t) <= end), default=0)
        if j > 0 and (not out or j > out[-1]):
            out.append(j)
    return out


def stop_sequences(monitor: StartOfCotMonitor, prepared: PreparedPrompt) -> list[tuple[int, ...]]:
    """The closers as token sequences (a closer is usually one special token)."""
    return [tuple(monitor.backend.encode(c)) for c in prepared.closers if c]


def reasoning_only(tokens: Sequence[int], stops: Sequence[Sequence[int]]) -> list[int]:
    """``tokens`` up to (not including) the first stop sequence."""
    cut = len(tokens)
    for stop in stops:
        n = len(stop)
        if n:
            cut = min([cut, *(i for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n]) == tuple(stop))])
    return list(tokens[:cut])


def score_rollout(
    monitor: StartOfCotMonitor, prepared: PreparedPrompt, tokens: Sequence[int], target: Target
) -> Rollout:
    """The target at the start and after every sentence of one sampled continuation (its reasoning:
    anything from a closer on is dropped)."""
    backend = monitor.backend
    tokens = reasoning_only(tokens, stop_sequences(monitor, prepared))
    text_of = [""]
    for piece in backend.token_strings(tokens):  # per-token strings, joined: exact for ASCII text
        text_of.append(text_of[-1] + piece)
    full = text_of[-1]
    cuts = [0, *token_boundaries(text_of, full)]
    prefixes = [(*prepared.ids, *tokens[:c]) for c in cuts]
    # Mid-text, the next sentence starts after a space: force " This is …" there, as the model would
    # write it, and the sentence as-is at the very start (or after a newline).
    spaced = tuple(tuple(backend.encode(" " + s)) for s in prepared.sentences)
    conts = [prepared.continuations if c == 0 or text_of[c][-1:].isspace() else spaced for c in cuts]
    logprobs = backend.score_variants(prefixes, conts)
    values = []
    for prefix, lps, cut, cont in zip(prefixes, logprobs, cuts, conts, strict=True):
        at = replace(prepared, ids=prefix, text=prepared.text + text_of[cut], continuations=cont)
        values.append(target.value(monitor.result_from(at, lps)))
    return Rollout(full, tuple(tokens), tuple(cuts), tuple(values))


def sample_rollouts(
    monitor: StartOfCotMonitor,
    prepared: PreparedPrompt,
    sampler: Sampler,
    target: Target,
    k: int,
    seed: int = 0,
    max_new_tokens: int = 128,
) -> Iterator[Rollout]:
    """Sample ``k`` continuations (one seeded call) and score them one at a time, so a caller can
    report progress and stop between rollouts. Empty samples (an immediate end of turn or of the
    reasoning) are skipped."""
    stops = stop_sequences(monitor, prepared)
    for tokens in sampler.sample(prepared.ids, k, max_new_tokens, seed, stops) if k > 0 else []:
        if reasoning_only(tokens, stops):
            yield score_rollout(monitor, prepared, tokens, target)


def rollout_score(
    monitor: StartOfCotMonitor,
    conversation: Conversation,
    sampler: Sampler,
    target: Target,
    k: int,
    seed: int = 0,
    max_new_tokens: int = 128,
) -> RolloutScore:
    prepared = monitor.prepare(conversation)
    start = target.value(monitor.score_prepared(prepared))
    return RolloutScore(start, tuple(sample_rollouts(monitor, prepared, sampler, target, k, seed, max_new_tokens)))
