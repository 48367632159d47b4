"""Writing a prompt back to a file without losing anything the file held.

An author's prompt file is theirs: a JSON record may carry an ``id``, metadata and a separate
``system`` field, a chat file may hold several turns with extra keys (``name``), a text file may
use CRLF line endings or start with a byte-order mark. Writing a refined or edited prompt changes
the message texts and nothing else: the file's other fields, its message shape and its encoding
details are kept, and a format that cannot hold what is being written is refused, never
silently truncated (a ``.txt`` file holds one user turn, no system prompt).
"""

from __future__ import annotations

import json
import os
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from evalrefine.core.io.conversation import Conversation, Message, normalize_text
from evalrefine.core.io.jsonio import jsonl_lines
from evalrefine.errors import InputError

BOM = "\ufeff"


def _message_list(data: Any) -> tuple[list[Any] | None, str | None]:
    """The list of message objects in a parsed JSON prompt, and the key it sits under (``None``
    for a top-level list)."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        for key in ("messages", "input"):
            if isinstance(data.get(key), list):
                return data[key], key
    return None, None


def _merged(old: list[Any], new: list[Message]) -> list[Any]:
    """``new`` as message objects, keeping each old object's other keys (``name``, ids). Messages are
    aligned by role and text, not by index, so a turn inserted, removed or moved in an editor keeps
    its own keys, and an edited turn (same place, same role) keeps the keys of the one it replaced."""

    def key(obj: Any) -> tuple[object, object]:
        content = obj.get("content") if isinstance(obj, dict) else None
        return (obj.get("role"), normalize_text(content)) if isinstance(content, str) else (None, None)

    old_keys, new_keys = [key(o) for o in old], [(m.role, m.content) for m in new]
    prior: dict[int, int] = {}  # new index -> old index
    for op, i1, i2, j1, j2 in SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes():
        if op in ("equal", "replace"):
            prior.update(
                (j, i) for i, j in zip(range(i1, i2), range(j1, j2), strict=False) if old_keys[i][0] == new[j].role
            )
    unused = [i for i in range(len(old)) if i not in prior.values()]
    for j in (j for j in range(len(new)) if j not in prior):  # a moved turn: the same role and text elsewhere
        match = next((i for i in unused if old_keys[i] == new_keys[j]), None)
        if match is not None:
            prior[j] = match
            unused.remove(match)
    return [{**(old[prior[j]] if j in prior else {}), "role": m.role, "content": m.content} for j, m in enumerate(new)]


def _json_text(conversation: Conversation, original: str | None) -> str:
    try:
        data = json.loads(original.lstrip(BOM)) if original else None
    except json.JSONDecodeError:
        data = None
    messages, key = _message_list(data)
    if messages is None:
        if isinstance(data, dict) and isinstance(data.get("input"), str):  # {"input": "text", ...}
            body = _only_user_turn(conversation, 'a JSON record with a string "input"')
            return json.dumps({**data, "input": body}, ensure_ascii=False, indent=2) + "\n"
        return json.dumps(conversation.as_dicts(), ensure_ascii=False, indent=2) + "\n"
    if isinstance(data, dict) and isinstance(data.get("system"), str):  # system kept in its own field
        turns = [m for m in conversation.messages if m.role != "system"]
        new_data = {**data, "system": conversation.system or "", key or "messages": _merged(messages, turns)}
        return json.dumps(new_data, ensure_ascii=False, indent=2) + "\n"
    merged = _merged(messages, list(conversation.messages))
    new = {**data, key: merged} if isinstance(data, dict) and key is not None else merged
    return json.dumps(new, ensure_ascii=False, indent=2) + "\n"


def _jsonl_text(conversation: Conversation, original: str | None) -> str:
    old = []
    for line in jsonl_lines((original or "").lstrip(BOM)):
        if line.strip():
            try:
                old.append(json.loads(line))
            except json.JSONDecodeError:
                old.append({})
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in _merged(old, list(conversation.messages)))


def _only_user_turn(conversation: Conversation, what: str) -> str:
    if len(conversation.messages) != 1:
        kept = len(conversation.messages)
        raise InputError(
            f"{what} holds one user turn, but this prompt has {kept} messages (system prompt or earlier turns)",
            "save it as .json or .jsonl to keep every message",
        )
    return conversation.messages[-1].content


def render_prompt_file(conversation: Conversation, suffix: str, original: str | None = None) -> str:
    """The text of a prompt file holding ``conversation``, shaped like ``original`` (the file's
    current text, if any): other fields, message keys, a BOM and CRLF line endings are kept."""
    suffix = suffix.lower()
    if suffix == ".json":
        text = _json_text(conversation, original)
    elif suffix == ".jsonl":
        text = _jsonl_text(conversation, original)
    else:
        text = _only_user_turn(conversation, f"a {suffix or 'text'} file") + "\n"
    if original is not None and "\r\n" in original:
        text = text.replace("\n", "\r\n")
    if original is not None and original.startswith(BOM):
        text = BOM + text
    return text


def write_prompt(path: Path, conversation: Conversation, like: Path | None = None) -> None:
    """Write ``conversation`` to ``path`` in the format its suffix names, shaped like ``like`` (default:
    ``path`` itself when it exists). The file is replaced atomically, so a crash never leaves half a
    prompt; nothing is written when the format cannot hold the conversation."""
    source = like if like is not None else path
    original = None
    if source.is_file():
        try:
            original = source.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            original = None
    same_format = like is None or like.suffix.lower() == path.suffix.lower()
    text = render_prompt_file(conversation, path.suffix, original if same_format else None)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.replace(tmp, path)
