"""Inspect eval logs (``.eval`` and ``.json``): every sample's input as the model first saw it.

Most Inspect evals build their samples in Python or load them from the Hugging Face hub, so the
prompts exist only once a task runs; the log is where they can be read. The first model call of a
sample (its ``ModelEvent``) is what the model saw: the system message a solver added, all turns,
a ``multiple_choice()`` question already rendered, and the tools offered. Logs without events fall
back to the messages before the first reply, then to the sample's ``input`` with its choices.

``inspect_ai`` is an optional extra, imported only here and only when a log is found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalrefine.core.io.conversation import validate_conversation
from evalrefine.core.lint import skips
from evalrefine.core.lint.inspect_render import conversation
from evalrefine.core.lint.sources import LintPrompt, Location, Parsed, ParseProblem, SkippedFile
from evalrefine.errors import EvalRefineError

EXTRA_HINT = "pip install 'evalrefine[inspect]'"
NEEDS_EXTRA = "reading Inspect logs and tasks needs the inspect extra"


def _model_input(sample: Any) -> tuple[list[Any], list[Any]]:
    """``(messages, tools)`` of the sample's first model call."""
    for event in getattr(sample, "events", None) or []:
        if getattr(event, "event", None) == "model" and getattr(event, "input", None):
            return list(event.input), list(getattr(event, "tools", None) or [])
    messages = list(getattr(sample, "messages", None) or [])
    first_reply = next((i for i, m in enumerate(messages) if getattr(m, "role", None) == "assistant"), None)
    if first_reply:
        return messages[:first_reply], []
    return [], []


def sample_prompt(sample: Any, loc: Location, fmt: str) -> list[Parsed]:
    """The sample's prompt (or the problem reading it) and a note for media parts."""
    record = f"sample {sample.id}" + (f" epoch {sample.epoch}" if getattr(sample, "epoch", 1) not in (None, 1) else "")
    where = f"{loc}: {record}"
    messages, tools = _model_input(sample)
    choices: list[Any] = []
    if not messages:
        raw = sample.input
        messages = [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw)
        choices = list(getattr(sample, "choices", None) or [])
    out: list[Parsed] = []
    try:
        conv, media = conversation(messages, where, choices, tools)
        if media:
            out.append(SkippedFile(loc.path, skips.MEDIA, loc.line, f"{record}: {media} part(s); the text is scored"))
        if media and not any(m.content.strip() for m in conv.messages if m.role != "system"):
            return [SkippedFile(loc.path, skips.MEDIA, loc.line, f"{record}: no text to score")]
        conv = validate_conversation(conv, where)
    except EvalRefineError as exc:
        return [ParseProblem(loc, exc.message.removeprefix(f"{loc}: "), exc.hint)]
    return [LintPrompt(loc, fmt, record, conv, ("rendered",)), *out]


def read_log(path: Path) -> list[Parsed]:
    """Every sample of an Inspect log; a log that cannot be read is one problem, never a traceback."""
    try:
        from inspect_ai.log import read_eval_log_samples
    except ImportError:
        return [ParseProblem(Location(path, 1), NEEDS_EXTRA, EXTRA_HINT)]
    out: list[Parsed] = []
    loc = Location(path, 1)
    try:
        for sample in read_eval_log_samples(path, all_samples_required=False, resolve_attachments=True):
            out.extend(sample_prompt(sample, loc, "inspect-log"))
    except Exception as exc:  # inspect_ai raises many types for a truncated or foreign file
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        out.append(ParseProblem(loc, f"cannot read the Inspect log: {message}", "check it with: inspect log dump"))
    if not out:
        out.append(SkippedFile(path, "Inspect log without samples"))
    return out
