"""Readers for the formats eval repositories use, each prompt with its file and line.

* Inspect AI: eval logs (``.eval``, and ``.json`` logs, via :mod:`.inspect_logs`) and JSON / JSONL /
  CSV ``Sample`` records whose ``input`` is a string or a list of chat messages.
* OpenAI evals: JSONL records whose ``input`` is a list of chat messages (told apart by ``ideal``).
* promptfoo: YAML configs (:mod:`.promptfoo`).
* Generic JSONL / JSON / CSV records with a configurable text field, dotted or indexed
  (``input.messages``, ``turns[0].content``; :mod:`.fields`).
* ``.txt`` / ``.md``: the whole file is one prompt.

Every reader reports a broken record as a :class:`ParseProblem` at its line and goes on: one bad
line must not hide the rest of the repository. A file a directory walk found that is not a prompt
file (a README, a flag, a results file, a Git LFS pointer, a JSON with no prompt field in any
record) is skipped with its reason, not an error; a file named explicitly is expected to hold prompts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalrefine.core.io.conversation import Conversation, Message, read_text_file
from evalrefine.core.io.conversation import validate_conversation as _validate
from evalrefine.core.lint import skips
from evalrefine.core.lint.fields import MISSING, get_field
from evalrefine.core.lint.inspect_render import conversation, with_choices
from evalrefine.core.lint.promptfoo import RENDERED, read_promptfoo
from evalrefine.core.lint.records import READERS
from evalrefine.core.lint.sources import FieldPath, LintPrompt, Location, Parsed, ParseProblem, SkippedFile
from evalrefine.errors import EvalRefineError

DEFAULT_TEXT_FIELDS = ("input", "text", "prompt", "question", "messages", "goal", "Behavior", "forbidden_prompt")
SUFFIXES = (".jsonl", ".json", ".csv", ".yaml", ".yml", ".txt", ".md", ".eval")
_PROMPTFOO_KEY = re.compile(r"^prompts\s*:", re.MULTILINE)
_INSPECT_LOG = re.compile(r'^\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"\s*:')


class _NoPromptField(Exception):
    """The record has none of the prompt fields (decides "skip the file" vs "report the record")."""


def _conversation_from(
    obj: dict[str, Any], fields: Sequence[str], where: str
) -> tuple[str, Conversation, FieldPath, int]:
    """``(format, conversation, path of the scored text, media parts not scored)`` of one record."""
    for spec in fields:
        value, path = get_field(obj, spec)
        if value is not MISSING:
            break
    else:
        raise _NoPromptField
    inner = value.get("messages", value.get("input")) if isinstance(value, dict) else value
    if isinstance(value, dict) and isinstance(inner, list):
        path = (*path, "messages" if "messages" in value else "input")
    choices = obj.get("choices") if spec == "input" and "ideal" not in obj else None
    choices = choices if isinstance(choices, list) and choices else ()
    if isinstance(value, str):
        conv, media = Conversation((Message("user", value),)), 0
        conv = Conversation(with_choices(conv.messages, choices))
    elif isinstance(inner, list):
        conv, media = conversation(inner, where, choices)
        path = (*path, len(inner) - 1, "content") if inner else path
        if isinstance(value, dict) and isinstance(value.get("system"), str) and conv.system is None:
            conv = conv.with_system(value["system"])
    else:
        raise EvalRefineError(f'{where}: "{spec}" must be a string or a list of chat messages')
    if choices:
        path = RENDERED
    system = obj.get("system")
    if isinstance(system, str) and conv.system is None:
        conv = conv.with_system(system)
    fmt = "jsonl"
    if spec == "input":
        fmt = "openai-evals" if "ideal" in obj else "inspect"
    return fmt, _validate(conv, where), path, media


def _record(
    obj: object, loc: Location, fields: Sequence[str], fallback: str, notes: list[Parsed]
) -> LintPrompt | ParseProblem:
    if not isinstance(obj, dict):
        raise _NoPromptField
    try:
        fmt, conv, path, media = _conversation_from(obj, fields, str(loc))
    except EvalRefineError as exc:
        message = exc.message.split(": ", 1)[1] if exc.message.startswith(str(loc)) else exc.message
        return ParseProblem(loc, message, exc.hint)
    if media:
        notes.append(SkippedFile(loc.path, skips.MEDIA, loc.line, f"{media} part(s); the text is scored"))
    fmt = fmt if fmt != "jsonl" else fallback
    return LintPrompt(loc, fmt, str(obj.get("id") or f"{loc.path.stem}:{loc.line}"), conv, path)


def _structured(text: str, path: Path, fields: Sequence[str], explicit: bool) -> list[Parsed]:
    suffix = path.suffix.lower()
    out: list[Parsed] = []
    found, unreadable = 0, False
    for item in READERS[suffix](text, path):
        if isinstance(item, ParseProblem):
            out.append(item)
            unreadable = True
            continue
        loc = Location(path, item[0])
        try:
            parsed = _record(item[1], loc, fields, suffix.lstrip("."), out)
        except _NoPromptField:
            what = "record" if isinstance(item[1], dict) else "a JSON object (a record with a prompt field)"
            message = f"no prompt field (looked for {', '.join(fields)})" if what == "record" else f"expected {what}"
            out.append(ParseProblem(loc, message, "set lint.text_fields or --text-field"))
            continue
        found += isinstance(parsed, LintPrompt)
        out.append(parsed)
    if not found and not explicit and not unreadable:
        return [SkippedFile(path, skips.NO_PROMPTS)]
    return out


@lru_cache(maxsize=256)
def _root_of(directory: Path) -> Path:
    from evalrefine.core.lint.discovery import lint_root

    return lint_root(directory)


def _clean(items: list[Parsed]) -> list[Parsed]:
    """A lone surrogate (``"\\ud800"`` in JSON) decodes fine but breaks every tokenizer and the cache:
    such a record becomes a problem at its line."""
    out: list[Parsed] = []
    for item in items:
        if isinstance(item, LintPrompt):
            try:
                for m in item.conversation.messages:
                    m.content.encode("utf-8")
            except UnicodeEncodeError as exc:
                message = f"text holds a lone surrogate (character {exc.start + 1})"
                out.append(ParseProblem(item.location, message, "fix the \\u escape or the encoding"))
                continue
        out.append(item)
    return out


def parse_file(
    path: Path,
    text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS,
    explicit: bool = True,
    root: Path | None = None,
    rel: Path | None = None,
    markers: bool = False,
) -> list[Parsed]:
    """Every prompt in ``path``, every problem and every skip, in file order. ``root`` is the trust
    boundary for files a config references (default: the git work tree holding ``path``); ``rel``
    is the path relative to the walked directory, which the skip rules look at; ``markers`` keeps
    the notes naming files a promptfoo config read (see :func:`.gather.gather`)."""
    root = root or _root_of(path.resolve().parent)
    if rel is None:
        try:
            rel = path.resolve().relative_to(root)
        except ValueError:
            rel = Path(path.name)
    suffix = path.suffix.lower()
    if suffix == ".eval":
        from evalrefine.core.lint.inspect_logs import read_log

        return _clean(read_log(path))
    try:
        text = read_text_file(path)
    except EvalRefineError as exc:
        where, _, message = exc.message.partition(": ")
        line = int(where.rsplit(":", 1)[1]) if where.count(":") and where.rsplit(":", 1)[1].isdigit() else 1
        return [ParseProblem(Location(path, line), message, exc.hint)]
    if suffix == ".json" and _INSPECT_LOG.match(text[:200]) and '"eval"' in text[:4000]:
        from evalrefine.core.lint.inspect_logs import read_log

        return _clean(read_log(path))
    if not explicit and (reason := skips.classify(rel)) is not None:
        return [SkippedFile(path, reason)]
    if skips.is_lfs_pointer(text):
        return [SkippedFile(path, skips.LFS)] if not explicit else [ParseProblem(Location(path, 1), skips.LFS)]
    if suffix in (".jsonl", ".json", ".csv"):
        return _clean(_structured(text, path, text_fields, explicit))
    if suffix in (".yaml", ".yml"):
        parsed = read_promptfoo(text, path, root) if explicit or _PROMPTFOO_KEY.search(text) else []
        if not markers:  # the "read through a promptfoo config" notes serve gather() only
            parsed = [p for p in parsed if not (isinstance(p, SkippedFile) and p.reason == skips.REFERENCED)]
        if parsed:
            return _clean(parsed)
        if explicit:
            hint = "lint YAML promptfoo configs only"
            return [ParseProblem(Location(path, 1), "not a promptfoo config (no prompts:)", hint)]
        return [SkippedFile(path, "not a promptfoo config")]
    if not text.strip():
        return [ParseProblem(Location(path, 1), "empty prompt file")]
    return _clean([LintPrompt(Location(path, 1), "text", path.stem, Conversation.from_user_text(text.strip()), ())])
