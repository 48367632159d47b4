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

from evalrefine.core.monitor import StartOfCotMonitor
from evalrefine.core.prompt_sets import PromptRecord
from evalrefine.core.score_cache import ScoreCache
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
) -> Iterator[BatchEvent]:
    """Yield one event per record, in order, until done or ``cancel`` is set."""
    fp = monitor.model_fingerprint
    sentences = monitor.sentences
    seen: dict[str, tuple[int, dict[str, float]]] = {}
    for index, record in enumerate(records):
        if cancel is not None and cancel.is_set():
            return
        key = record.content_hash
        hit = seen.get(key) or (cache.get(fp, key, sentences) if cache else None)
        if hit is not None:
            seen[key] = hit
            yield PromptScored(index, record, hit[1], hit[0], cached=True)
            continue
        try:
            result = monitor.score(record.conversation)
        except EvalRefineError as exc:
            yield PromptFailed(index, record, f"{record.source or record.id}: {exc}")
            continue
        logprobs = {s.sentence: s.logprob for s in result.sentences}
        n_tokens = len(result.prompt.ids)
        if cache is not None:
            cache.put(fp, key, n_tokens, logprobs)
        seen[key] = (n_tokens, logprobs)
        yield PromptScored(index, record, logprobs, n_tokens, cached=False)
