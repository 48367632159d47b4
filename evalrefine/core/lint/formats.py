"""Readers for the formats eval repositories use, each prompt with its file and line.

* Inspect AI datasets: JSON / JSONL / CSV ``Sample`` records whose ``input`` is a string or a list
  of chat messages (``id`` and ``metadata`` kept as they are).
* OpenAI evals: JSONL records whose ``input`` is a list of chat messages (told apart by ``ideal``).
* promptfoo: YAML configs with ``prompts`` (strings, ``{raw: …}`` or ``file://`` paths) rendered
  with every test's ``vars``.
* Generic JSONL / JSON / CSV records with a configurable text field.
* ``.txt`` / ``.md``: the whole file is one prompt.

Every reader reports a broken record as a :class:`ParseProblem` at its line and goes on: one bad
line must not hide the rest of the repository. A file a directory walk found that holds no prompt
field at all (a ``package.json``, a CI config) is skipped, not an error; a file named explicitly is
expected to hold prompts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evalrefine.core.conversation import Conversation, Message, messages_from_json, read_text_file
from evalrefine.core.conversation import validate_conversation as _validate
from evalrefine.core.lint.promptfoo import read_promptfoo
from evalrefine.core.lint.sources import FieldPath, LintPrompt, Location, Parsed, ParseProblem, SkippedFile
from evalrefine.errors import EvalRefineError

DEFAULT_TEXT_FIELDS = ("input", "text", "prompt", "question", "messages", "goal", "Behavior", "forbidden_prompt")
SUFFIXES = (".jsonl", ".json", ".csv", ".yaml", ".yml", ".txt", ".md")


class _NoPromptField(Exception):
    """The record has none of the prompt fields (decides "skip the file" vs "report the record")."""


def _conversation_from(obj: dict[str, Any], fields: Sequence[str], where: str) -> tuple[str, Conversation, FieldPath]:
    """``(format, conversation, path of the scored text)`` of one record."""
    key = next((f for f in fields if f in obj), None)
    if key is None:
        raise _NoPromptField
    value = obj[key]
    if isinstance(value, str):
        msgs: tuple[Message, ...] = (Message("user", value),)
        path: FieldPath = (key,)
    elif isinstance(value, list):
        msgs = messages_from_json(value, where)
        path = (key, len(value) - 1, "content")
    else:
        raise EvalRefineError(f'{where}: "{key}" must be a string or a list of chat messages')
    system = obj.get("system")
    if isinstance(system, str) and not (msgs and msgs[0].role == "system"):
        msgs = (Message("system", system), *msgs)
    fmt = "jsonl"
    if key == "input":
        fmt = "openai-evals" if "ideal" in obj else "inspect"
    return fmt, _validate(Conversation(msgs), where), path


def _record(obj: object, loc: Location, fields: Sequence[str], fallback: str) -> LintPrompt | ParseProblem:
    if not isinstance(obj, dict):
        return ParseProblem(loc, "expected a JSON object (a record with a prompt field)")
    try:
        fmt, conv, path = _conversation_from(obj, fields, str(loc))
    except EvalRefineError as exc:
        message = exc.message.split(": ", 1)[1] if exc.message.startswith(str(loc)) else exc.message
        return ParseProblem(loc, message, exc.hint)
    fmt = fmt if fmt != "jsonl" else fallback
    return LintPrompt(loc, fmt, str(obj.get("id") or f"{loc.path.stem}:{loc.line}"), conv, path)


def _jsonl_items(text: str, path: Path) -> Iterator[tuple[int, object] | ParseProblem]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                yield ParseProblem(Location(path, lineno), f"malformed JSON: {exc.msg} (column {exc.colno})")


def _json_items(text: str, path: Path) -> Iterator[tuple[int, object] | ParseProblem]:
    """The elements of a top-level JSON array, each with the line it starts on."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield ParseProblem(Location(path, exc.lineno), f"malformed JSON: {exc.msg} (column {exc.colno})")
        return
    if not isinstance(data, list):
        yield 1, data
        return
    decoder, pos = json.JSONDecoder(), text.index("[") + 1
    for _ in data:
        while text[pos] in " \t\r\n,":
            pos += 1
        obj, end = decoder.raw_decode(text, pos)
        yield text.count("\n", 0, pos) + 1, obj
        pos = end


def _csv_items(text: str, path: Path) -> Iterator[tuple[int, object] | ParseProblem]:
    reader = csv.DictReader(io.StringIO(text))
    start = 2
    try:
        for row in reader:
            if None in row:
                yield ParseProblem(Location(path, start), f"{len(row[None])} more fields than the header has")  # type: ignore[index]
            else:
                yield start, dict(row)
            start = reader.line_num + 1
    except csv.Error as exc:
        yield ParseProblem(Location(path, reader.line_num), f"malformed CSV: {exc}")


def _structured(text: str, path: Path, fields: Sequence[str], explicit: bool) -> list[Parsed]:
    suffix = path.suffix.lower()
    items = {".jsonl": _jsonl_items, ".json": _json_items, ".csv": _csv_items}[suffix](text, path)
    out: list[Parsed] = []
    found = malformed = False
    for item in items:
        if isinstance(item, ParseProblem):
            out.append(item)
            malformed = True
            continue
        loc = Location(path, item[0])
        try:
            out.append(_record(item[1], loc, fields, suffix.lstrip(".")))
            found = True
        except _NoPromptField:
            out.append(ParseProblem(loc, f"no prompt field (looked for {', '.join(fields)})", "set lint.text_fields"))
    if not found and not malformed and not explicit:
        return [SkippedFile(path, "holds no prompt records")]
    return out


def parse_file(path: Path, text_fields: Sequence[str] = DEFAULT_TEXT_FIELDS, explicit: bool = True) -> list[Parsed]:
    """Every prompt in ``path``, and every problem, in file order."""
    try:
        text = read_text_file(path)
    except EvalRefineError as exc:
        where, _, message = exc.message.partition(": ")
        line = int(where.rsplit(":", 1)[1]) if where.count(":") and where.rsplit(":", 1)[1].isdigit() else 1
        return [ParseProblem(Location(path, line), message, exc.hint)]
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".csv"):
        return _structured(text, path, text_fields, explicit)
    if suffix in (".yaml", ".yml"):
        parsed = read_promptfoo(text, path)
        if parsed:
            return parsed
        if explicit:
            return [
                ParseProblem(
                    Location(path, 1), "not a promptfoo config (no prompts:)", "lint YAML promptfoo configs only"
                )
            ]
        return [SkippedFile(path, "not a promptfoo config")]
    if not text.strip():
        return [ParseProblem(Location(path, 1), "empty prompt file")]
    return [LintPrompt(Location(path, 1), "text", path.stem, Conversation.from_user_text(text.strip()), ())]
