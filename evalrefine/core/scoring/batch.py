"""Scoring many prompts: a generator of small frozen events that a front end renders.

The CLI draws a rich progress bar from these events and the TUI forwards them as messages; both
stop the work by setting the ``cancel`` event. With a :class:`ScoreCache`, every prompt is stored
as soon as it is scored, so an interrupted run resumes without rescoring anything. Identical
prompts are scored once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from evalrefine.core.io.prompt_sets import PromptRecord
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache
from evalrefine.errors import EvalRefineError


@dataclass(frozen=True)
class PromptScored:
    index: int
    record: PromptRecord
    logprobs: Mapping[str, float]
    """Natural-log probability of each monitored sentence at the start of the CoT."""
    prompt_tokens: int
    cached: bool


@dataclass(frozen=True)
class PromptFailed:
    index: int
    record: PromptRecord
    message: str


BatchEvent = PromptScored | PromptFailed


def score_records(
    monitor: StartOfCotMonitor,
    records: Sequence[PromptRecord],
    cache: ScoreCache | None = None,
    cancel: threading.Event | None = None,
    batch_size: int = 1,
) -> Iterator[BatchEvent]:
    """Yield one event per record, in order, until done or ``cancel`` is set.

    With ``batch_size > 1`` the prompts not yet cached are scored ``batch_size`` at a time in one
    packed pass (:meth:`StartOfCotMonitor.score_batch`); pass records sorted by length so each
    batch is of similar prompts. Each batch's scores are committed before its events are yielded.
    """
    fp = monitor.model_fingerprint
    sentences = monitor.sentences
    seen: dict[str, tuple[int, dict[str, float]]] = {}
    for start in range(0, len(records), batch_size):
        if cancel is not None and cancel.is_set():
            return
        chunk = list(enumerate(records[start : start + batch_size], start=start))
        cached = {}
        for _, record in chunk:
            key = record.content_hash
            hit = seen.get(key) or (cache.get(fp, key, sentences) if cache else None)
            if hit is not None:
                seen[key] = cached[key] = hit
        todo = {r.content_hash: r for _, r in chunk if r.content_hash not in seen}
        failed = {}
        for key, outcome in zip(todo, monitor.score_batch([r.conversation for r in todo.values()]), strict=True):
            if isinstance(outcome, EvalRefineError):
                failed[key] = outcome
                continue
            logprobs = {s.sentence: s.logprob for s in outcome.sentences}
            seen[key] = (len(outcome.prompt.ids), logprobs)
            if cache is not None:
                cache.put(fp, key, *seen[key])
        for index, record in chunk:
            key = record.content_hash
            if key in failed:
                yield PromptFailed(index, record, f"{record.source or record.id}: {failed[key]}")
            else:
                n_tokens, logprobs = seen[key]
                yield PromptScored(index, record, logprobs, n_tokens, cached=key in cached)
