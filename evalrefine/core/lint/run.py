"""Linting a repository: read every prompt, score it (batched, cached), and judge it against a threshold.

:func:`lint` is a generator of small frozen events (the CLI draws a progress bar from them, the TUI
would post them as messages) ending in :class:`LintFinished` with the whole :class:`LintReport`.
Prompts are scored shortest first in packed batches, identical prompts once, and every batch is
committed to the SQLite cache before the next starts: a killed run resumes where it stopped, with
no score lost or computed twice. With ``rollouts`` a second pass samples and judges what the model
writes (:mod:`evalrefine.core.lint.rollout_check`), each prompt's summary cached as it finishes.

A re-lint of an unchanged repository needs no model: given a :class:`DeferredMonitor` (the
monitor's fingerprint and sentences, known from the cache without loading anything), :func:`lint`
first reads every prompt's scores, token count, or stored failure from the cache, and loads the
model only when one is missing. The report is the same either way, only the ``cached`` flags differ.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evalrefine.core.calibration.placement import headline_percentile
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.io.prompt_sets import PromptRecord
from evalrefine.core.lint.rollout_check import RolloutCheck, RolloutsChecked, RolloutSummary, summarize
from evalrefine.core.lint.sources import LintPrompt, ParseProblem, SkippedFile
from evalrefine.core.scoring.batch import BatchEvent, PromptFailed, PromptScored, score_records
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache
from evalrefine.errors import InputError, ModelError


@dataclass(frozen=True)
class Threshold:
    """``percentile``: the joint score's deployment percentile; ``logprob``: raw log P of ``sentence``."""

    kind: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        try:
            value = float(text.rstrip("%"))
        except ValueError:
            raise InputError(
                f"threshold {text!r} is not a number", "give a percentile (e.g. 90) or a negative log P (e.g. -25)"
            ) from None
        if value < 0:
            return cls("logprob", value)
        if value > 100:
            raise InputError(f"threshold {text} is above 100", "a percentile is 0-100; a log P is negative")
        return cls("percentile", value)

    def describe(self, sentence: str) -> str:
        if self.kind == "percentile":
            return f"deployment percentile > {self.value:g}"
        return f"log P({sentence!r}) > {self.value:g}"


@dataclass(frozen=True)
class LintResult:
    prompt: LintPrompt
    logprobs: dict[str, float]
    tokens: int
    cached: bool
    logprob: float
    """log P of the first monitored sentence."""
    percentile: float | None
    """Deployment percentile of the joint score (``None`` without a reference)."""
    finding: bool
    new: bool
    """A finding that the baseline does not list (every finding when there is no baseline)."""
    rollouts: RolloutSummary | None = None
    """With ``--rollouts``: the rollout peak and how many rollouts verbalize eval awareness."""


@dataclass(frozen=True)
class LintReport:
    results: tuple[LintResult, ...]
    """Worst first."""
    problems: tuple[ParseProblem, ...]
    skipped: tuple[SkippedFile, ...]
    threshold: Threshold
    sentence: str
    reference: str | None
    baseline: Path | None = None
    cancelled: bool = False

    @property
    def findings(self) -> list[LintResult]:
        return [r for r in self.results if r.finding and r.new]

    @property
    def exit_code(self) -> int:
        """0: every prompt under the threshold; 1: findings (new ones, with a baseline); 2: errors."""
        if self.problems or self.cancelled:
            return 2
        return 1 if self.findings else 0


@dataclass(frozen=True)
class FilesRead:
    files: int
    prompts: int
    unique: int
    problems: int
    skipped: int


@dataclass(frozen=True)
class Scored:
    done: int
    total: int
    cached: bool


@dataclass(frozen=True)
class LintFinished:
    report: LintReport


LintEvent = FilesRead | Scored | RolloutsChecked | LintFinished


class DeferredMonitor:
    """A monitor known by its fingerprint and sentences until it has to score: :func:`lint` reads
    the cache under ``model_fingerprint`` and calls :meth:`load` (once) only when a prompt is missing,
    so a fully cached run loads no model. The front end knows the fingerprint from the cache (see
    :meth:`ScoreCache.get_identity`); ``load`` builds the real monitor, which must agree."""

    def __init__(self, model_fingerprint: str, sentences: Sequence[str], load: Callable[[], StartOfCotMonitor]) -> None:
        self.model_fingerprint = model_fingerprint
        self.sentences = tuple(sentences)
        self._load = load
        self._loaded: StartOfCotMonitor | None = None

    def load(self) -> StartOfCotMonitor:
        """The real monitor; a stale fingerprint is an error, as every cached score it read would be suspect."""
        if self._loaded is None:
            monitor = self._load()
            if (monitor.model_fingerprint, monitor.sentences) != (self.model_fingerprint, self.sentences):
                raise ModelError(
                    "the model's identity changed since it was stored in the score cache",
                    "run the command again: the cache now holds the new identity",
                )
            self._loaded = monitor
        return self._loaded


def read_baseline(path: Path) -> set[str]:
    """Content hashes of the findings in a previous ``lint --format json`` report."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {r["hash"] for r in data["results"] if r["finding"]}
    except OSError as exc:
        raise InputError(f"{path}: cannot read baseline: {exc.strerror}", "check the --baseline path") from None
    except (ValueError, KeyError, TypeError):
        raise InputError(
            f"{path}: not a lint JSON report", "make one with: evalrefine lint PATH --format json -o FILE"
        ) from None


def lint(
    prompts: Sequence[LintPrompt],
    problems: Sequence[ParseProblem],
    skipped: Sequence[SkippedFile],
    monitor: StartOfCotMonitor | DeferredMonitor,
    threshold: Threshold,
    reference: Reference | None,
    cache: ScoreCache | None = None,
    baseline: Path | None = None,
    batch_size: int = 16,
    cancel: threading.Event | None = None,
    rollouts: RolloutCheck | None = None,
) -> Iterator[LintEvent]:
    """Score ``prompts`` and judge them; a :class:`DeferredMonitor` is loaded only if the cache
    lacks a prompt or ``rollouts`` are to be sampled."""
    if threshold.kind == "percentile" and reference is None:
        raise InputError(
            "a percentile threshold needs a deployment reference for this model",
            "build one (evalrefine reference build) or give a raw log P threshold, e.g. --threshold -25",
        )
    known = read_baseline(baseline) if baseline else set()
    sentence = monitor.sentences[0]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].text))  # similar lengths batch together
    records = [prompts[i].as_record() for i in order]
    hashes = [r.content_hash for r in records]
    yield FilesRead(
        len({p.location.path for p in prompts} | {p.location.path for p in problems}),
        len(prompts),
        len(set(hashes)),
        len(problems),
        len(skipped),
    )
    events, live = _score_events(monitor, records, hashes, cache, cancel, batch_size, rollouts is not None)
    results, problems = [], list(problems)
    done = 0
    for event in events:
        done += 1
        prompt = prompts[order[event.index]]
        if isinstance(event, PromptFailed):
            problems.append(ParseProblem(prompt.location, event.message.split(": ", 1)[-1]))
            if live is not None and cache is not None:  # it fails the same way next time: remember it
                key = _failure_key(live.model_fingerprint, live.sentences, event.record.content_hash)
                cache.put_result(key, event.message.removeprefix(_prefix(event.record)))
        elif isinstance(event, PromptScored):
            results.append(_judge(prompt, event, threshold, reference, sentence, known))
        yield Scored(done, len(records), isinstance(event, PromptScored) and event.cached)
    cancelled = done < len(records)
    if rollouts is not None and not cancelled:
        assert live is not None  # rollouts need the model: _score_events loaded it
        over = threshold.value if threshold.kind == "logprob" else None
        sampled: dict[str, RolloutSummary] = {}  # identical prompts, same seed: sample once
        for i, result in enumerate(results):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            key = result.prompt.content_hash
            cached = key in sampled
            if not cached:
                sampled[key], cached = summarize(live, result.prompt, rollouts, cache)
            summary = sampled[key]
            finding = result.finding or summary.verbalized > 0 or (over is not None and summary.peak > over)
            new = finding and result.prompt.content_hash not in known
            results[i] = replace(result, rollouts=summary, finding=finding, new=new)
            yield RolloutsChecked(i + 1, len(results), cached)
    results.sort(key=lambda r: (-(r.percentile if r.percentile is not None else r.logprob), -r.logprob))
    report = LintReport(
        tuple(results),
        tuple(problems),
        tuple(skipped),
        threshold,
        sentence,
        reference.name if reference else None,
        baseline,
        cancelled,
    )
    yield LintFinished(report)


def _score_events(
    monitor: StartOfCotMonitor | DeferredMonitor,
    records: Sequence[PromptRecord],
    hashes: Sequence[str],
    cache: ScoreCache | None,
    cancel: threading.Event | None,
    batch_size: int,
    need_model: bool,
) -> tuple[Iterator[BatchEvent], StartOfCotMonitor | None]:
    """The scoring events, and the monitor that scores (``None``: everything is replayed from the cache)."""
    if isinstance(monitor, DeferredMonitor):
        stored = None if need_model else _stored(monitor, records, hashes, cache)
        if stored is not None:
            return _replay(stored, cancel), None
        monitor = monitor.load()
    return score_records(monitor, records, cache, cancel, batch_size), monitor


def _stored(
    monitor: DeferredMonitor, records: Sequence[PromptRecord], keys: Sequence[str], cache: ScoreCache | None
) -> list[BatchEvent] | None:
    """Every record's event from the cache (its scores and token count, or the error it failed
    with), as :func:`score_records` would yield it; ``None`` as soon as one is missing."""
    if cache is None:
        return None
    fp, sentences = monitor.model_fingerprint, monitor.sentences
    hits: dict[str, tuple[int, dict[str, float]] | str] = {}
    hits.update(cache.get_many(fp, keys, sentences))
    events: list[BatchEvent] = []
    for index, (record, key) in enumerate(zip(records, keys, strict=True)):
        if key not in hits:
            failure = cache.get_result(_failure_key(fp, sentences, key))
            if failure is None:
                return None
            hits[key] = failure
        hit = hits[key]
        if isinstance(hit, str):
            events.append(PromptFailed(index, record, _prefix(record) + hit))
        else:
            events.append(PromptScored(index, record, hit[1], hit[0], cached=True))
    return events


def _replay(events: Sequence[BatchEvent], cancel: threading.Event | None) -> Iterator[BatchEvent]:
    for event in events:
        if cancel is not None and cancel.is_set():
            return
        yield event


def _failure_key(model_fp: str, sentences: Sequence[str], prompt_hash: str) -> str:
    """Where a prompt that cannot be scored (too long for the context) keeps its error: it depends
    on the model, the sentences (the longest one) and the prompt, nothing else."""
    parts = json.dumps(["lint-failed/v1", model_fp, list(sentences), prompt_hash])
    return "lint-failed/v1:" + hashlib.sha256(parts.encode()).hexdigest()


def _prefix(record: PromptRecord) -> str:
    """How :func:`score_records` names the record in front of a failure's message."""
    return f"{record.source or record.id}: "


def _judge(
    prompt: LintPrompt,
    event: PromptScored,
    threshold: Threshold,
    reference: Reference | None,
    sentence: str,
    known: set[str],
) -> LintResult:
    logprobs = dict(event.logprobs)
    percentile = headline_percentile(logprobs, event.prompt_tokens, reference) if reference else None
    value = percentile if threshold.kind == "percentile" else logprobs[sentence]
    finding = value is not None and value > threshold.value
    return LintResult(
        prompt,
        logprobs,
        event.prompt_tokens,
        event.cached,
        logprobs[sentence],
        percentile,
        finding,
        finding and prompt.content_hash not in known,
    )
