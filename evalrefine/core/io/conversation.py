"""Conversations and how they are read from files.

A prompt under evaluation is a conversation that ends with a user turn: the model's reasoning is
about to start. Files come in three shapes (plain text, a JSON list of messages, JSONL with one
message a line); every problem is reported with the file (and line) and how to fix it.

Every message's text is normalised once, when the :class:`Message` is made (:func:`normalize_text`),
so the same prompt gets the same score whichever way it arrives: typed in the TUI, read from a
``.txt`` file with or without its final newline, written on Windows, or held in a JSONL field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalrefine.core.io.jsonio import json_lines, parse_json
from evalrefine.errors import InputError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".prompt")


def normalize_text(text: str) -> str:
    """The one normalisation of prompt text: a leading byte-order mark is dropped, Windows (CRLF)
    and old Mac (CR) line endings become LF, and trailing whitespace, including a file's final
    newline, is removed. Editors add or keep these without the author meaning to, and each one
    changes the tokens the model sees (a final newline moved a fixture from the 91st to the 87th
    percentile). Leading and inner whitespace is kept: indentation and blank lines are content."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    """The text, normalised by :func:`normalize_text` on construction."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "content", normalize_text(self.content))

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Conversation:
    """An optional system prompt and one or more turns, ending with the user's."""

    messages: tuple[Message, ...]

    @classmethod
    def from_user_text(cls, text: str, system: str | None = None) -> Conversation:
        msgs = [Message("system", system)] if system is not None else []
        return cls(tuple([*msgs, Message("user", text)]))

    @property
    def system(self) -> str | None:
        first = self.messages[0] if self.messages else None
        return first.content if first and first.role == "system" else None

    def with_system(self, system: str) -> Conversation:
        """A copy whose system prompt is ``system`` (replacing any existing one)."""
        rest = tuple(m for m in self.messages if m.role != "system")
        return Conversation((Message("system", system), *rest))

    def as_dicts(self) -> list[dict[str, str]]:
        return [m.as_dict() for m in self.messages]


def validate_conversation(conversation: Conversation, source: str = "input", allow_empty: bool = False) -> Conversation:
    """Check that the conversation can be scored: it ends with a user turn, which must be non-empty
    unless ``allow_empty`` (attribution deletes spans, and may delete a whole turn)."""
    msgs = conversation.messages
    if not msgs:
        raise InputError(f"{source}: the prompt is empty", "give the text of the user turn to score")
    if not allow_empty and not any(m.content.strip() for m in msgs if m.role != "system"):
        raise InputError(f"{source}: the prompt is empty", "give the text of the user turn to score")
    if msgs[-1].role != "user":
        raise InputError(
            f"{source}: the last message is from {msgs[-1].role!r}, not 'user'",
            "end the conversation with the user turn whose answer's reasoning should be scored",
        )
    if not allow_empty and not msgs[-1].content.strip():
        raise InputError(f"{source}: the last user turn is empty", "give the text of the user turn")
    for i, m in enumerate(msgs):
        if m.role == "system" and i != 0:
            raise InputError(f"{source}: a system message may only come first (message {i + 1})")
    return conversation


def _message_from(obj: object, where: str) -> Message:
    if not isinstance(obj, dict):
        raise InputError(f'{where}: expected a message object like {{"role": "user", "content": "..."}}')
    role, content = obj.get("role"), obj.get("content")
    if role not in ROLES:
        raise InputError(f"{where}: role must be one of {', '.join(ROLES)}, not {role!r}")
    if not isinstance(content, str):
        raise InputError(f'{where}: "content" must be a string')
    return Message(role, content)  # type: ignore[arg-type]


def messages_from_json(data: object, source: str) -> tuple[Message, ...]:
    """Accept ``[{role, content}, ...]`` or ``{"messages": [...]}`` (optionally with ``"system"``)."""
    system: object = None
    if isinstance(data, dict):
        system = data.get("system")
        data = data.get("messages", data.get("input"))
    if isinstance(data, str):
        data = [{"role": "user", "content": data}]
    if not isinstance(data, list):
        raise InputError(
            f'{source}: expected a list of chat messages or an object with a "messages" list',
            'write e.g. [{"role": "user", "content": "..."}]',
        )
    msgs = [_message_from(m, f"{source}: message {i + 1}") for i, m in enumerate(data)]
    if isinstance(system, str):
        msgs.insert(0, Message("system", system))
    return tuple(msgs)


def _parse_jsonl(text: str, source: str) -> tuple[Message, ...]:
    return tuple(_message_from(obj, f"{source}:{lineno}") for lineno, obj in json_lines(text, source))


def parse_prompt_text(text: str, source: str, suffix: str = "") -> Conversation:
    """Turn file contents into a conversation, by suffix; stdin (no suffix) is sniffed."""
    suffix = suffix.lower()
    if suffix == ".json":
        msgs = messages_from_json(parse_json(text, source), source)
    elif suffix == ".jsonl":
        msgs = _parse_jsonl(text, source)
    elif suffix in TEXT_SUFFIXES or suffix:
        msgs = (Message("user", text),)
    else:  # stdin: JSON if it looks like JSON, else the whole text is the user turn
        stripped = text.lstrip()
        msgs = (
            messages_from_json(parse_json(text, source), source)
            if stripped[:1] in ("[", "{")
            else (Message("user", text),)
        )
    return validate_conversation(Conversation(msgs), source)


def read_text_file(path: Path) -> str:
    """Read a UTF-8 file with one-line errors for every way that can fail."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", "check the path") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory", "give a prompt file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}", "check the file's permissions") from None
    if b"\x00" in raw[:8192]:
        raise InputError(f"{path}: looks like a binary file", "give a text, JSON or JSONL prompt file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not valid UTF-8 (byte {exc.start})", "save the file as UTF-8") from None


def load_conversation(path: Path, system: str | None = None) -> Conversation:
    conv = parse_prompt_text(read_text_file(path), str(path), path.suffix)
    return apply_system(conv, system, str(path))


def conversation_from_stdin(text: str, system: str | None = None) -> Conversation:
    return apply_system(parse_prompt_text(text, "<stdin>"), system, "<stdin>")


def apply_system(conv: Conversation, system: str | None, source: str) -> Conversation:
    """``--system``: put ``system`` first; a conversation that has its own is an error, not overwritten."""
    if system is None:
        return conv
    if conv.system is not None:
        raise InputError(f"{source}: already has a system message", "drop --system or remove it from the file")
    return conv.with_system(system)
