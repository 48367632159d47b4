"""Sets of prompts (reference traffic, eval suites) read from JSONL, JSON, CSV or TXT files.

Each record becomes a :class:`PromptRecord` with a stable id and a content hash, so scores can be
cached per prompt and an interrupted run can resume where it stopped. A malformed record is an
error naming the file and line: a reference built on silently skipped rows would be misleading.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evalrefine.core.io.conversation import Conversation, Message, messages_from_json, read_text_file
from evalrefine.core.io.conversation import validate_conversation as _validate
from evalrefine.core.io.jsonio import json_lines, jsonl_lines, parse_json
from evalrefine.errors import InputError

TEXT_FIELDS = ("text", "prompt", "input", "question", "messages", "conversation")


@dataclass(frozen=True)
class PromptRecord:
    id: str
    conversation: Conversation
    dataset: str = ""
    source: str = ""
    """``file:line`` the record came from."""

    @property
    def content_hash(self) -> str:
        return conversation_hash(self.conversation)


def conversation_hash(conversation: Conversation) -> str:
    """A stable hash of the conversation's roles and texts (the cache key of a prompt)."""
    payload = json.dumps(conversation.as_dicts(), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _record_from_object(obj: object, where: str, default_id: str, default_dataset: str) -> PromptRecord:
    if isinstance(obj, str):
        obj = {"text": obj}
    if not isinstance(obj, dict):
        raise InputError(f'{where}: expected a JSON object with a "text" or "messages" field')
    field = next((f for f in TEXT_FIELDS if f in obj), None)
    if field is None:
        raise InputError(f"{where}: no prompt field", f"give one of {', '.join(TEXT_FIELDS)}")
    value = obj[field]
    msgs = (Message("user", value),) if isinstance(value, str) else messages_from_json(value, where)
    system = obj.get("system")
    if isinstance(system, str) and not (msgs and msgs[0].role == "system"):
        msgs = (Message("system", system), *msgs)
    conv = _validate(Conversation(msgs), where)
    return PromptRecord(str(obj.get("id", default_id)), conv, str(obj.get("dataset", default_dataset)), where)


def _iter_jsonl(text: str, path: Path, dataset: str) -> Iterator[PromptRecord]:
    for lineno, obj in json_lines(text, str(path)):
        yield _record_from_object(obj, f"{path}:{lineno}", f"{path.stem}:{lineno}", dataset)


def _iter_json(text: str, path: Path, dataset: str) -> Iterator[PromptRecord]:
    data = parse_json(text, str(path))
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of prompt records")
    for i, obj in enumerate(data, start=1):
        yield _record_from_object(obj, f"{path}: record {i}", f"{path.stem}:{i}", dataset)


def _iter_csv(text: str, path: Path, dataset: str) -> Iterator[PromptRecord]:
    reader = csv.DictReader(io.StringIO(text))
    field = next((f for f in TEXT_FIELDS if f in (reader.fieldnames or [])), None)
    if field is None:
        raise InputError(f"{path}:1: no prompt column", f"name one column {' or '.join(TEXT_FIELDS[:3])}")
    for row in reader:
        where = f"{path}:{reader.line_num}"
        yield _record_from_object(
            {k: v for k, v in row.items() if k is not None}, where, f"{path.stem}:{reader.line_num}", dataset
        )


def _iter_txt(text: str, path: Path, dataset: str) -> Iterator[PromptRecord]:
    """One prompt a line (use JSONL for prompts that span lines)."""
    for lineno, line in enumerate(jsonl_lines(text), start=1):
        if line.strip():
            yield PromptRecord(f"{path.stem}:{lineno}", Conversation.from_user_text(line), dataset, f"{path}:{lineno}")


def read_prompt_set(path: Path, dataset: str | None = None) -> list[PromptRecord]:
    """All records of a prompt-set file; ``dataset`` defaults to each record's field or the file stem."""
    text = read_text_file(path)
    readers = {".jsonl": _iter_jsonl, ".json": _iter_json, ".csv": _iter_csv, ".txt": _iter_txt}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{path}: unknown prompt-set format {path.suffix!r}", "use .jsonl, .json, .csv or .txt")
    records = list(reader(text, path, dataset or path.stem))
    if not records:
        raise InputError(f"{path}: contains no prompts")
    return records
