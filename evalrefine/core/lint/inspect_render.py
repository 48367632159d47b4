"""An Inspect sample as the model sees it: chat messages with content parts, multiple-choice
choices rendered by Inspect's own template, and the tools it is offered.

Inspect samples are richer than a ``{role, content}`` list: content may be a list of parts (text,
images, audio), ``tool`` messages carry results, and a ``multiple_choice()`` solver rewrites the
question into a lettered template before the model reads it. Scoring the bare question, or
calling an image part an error, misjudged both. Here text parts are joined as Inspect's
``ChatMessage.text`` joins them, media parts are counted (lint notes them as not scored), and
tool definitions are listed at the end of the system message, where chat templates put them.
Works on plain dicts, so dataset files, logs and live tasks share one path (pydantic objects are
dumped first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from evalrefine.core.io.conversation import Conversation, Message
from evalrefine.errors import InputError

# inspect_ai.solver._multiple_choice.SINGLE_ANSWER_TEMPLATE, used when inspect_ai is not installed.
_TEMPLATE = (
    "Answer the following multiple choice question. The entire content of your response should be of the "
    "following format: 'ANSWER: $LETTER' (without quotes) where LETTER is one of {letters}.\n\n{question}\n\n{choices}"
)
MEDIA_TYPES = {"image", "audio", "video", "document"}


def _template() -> str:
    try:
        from inspect_ai.solver._multiple_choice import SINGLE_ANSWER_TEMPLATE

        return str(SINGLE_ANSWER_TEMPLATE)
    except ImportError:  # the template is Inspect's; the copy only serves dataset files without the extra
        return _TEMPLATE


def render_choices(question: str, choices: Sequence[object]) -> str:
    """``question`` and ``choices`` as ``multiple_choice()`` shows them (``A) …`` lines)."""
    letters = [chr(ord("A") + i) for i in range(len(choices))]
    lines = "\n".join(f"{letter}) {_text_of(choice)}" for letter, choice in zip(letters, choices, strict=True))
    return _template().format(letters=",".join(letters), question=question, choices=lines)


def _text_of(choice: object) -> str:
    if isinstance(choice, dict):
        return str(choice.get("value", choice))
    return str(getattr(choice, "value", choice))


def with_choices(msgs: tuple[Message, ...], choices: Sequence[object]) -> tuple[Message, ...]:
    """The conversation with its last user turn rendered as a multiple-choice question."""
    if not choices or not msgs or msgs[-1].role != "user":
        return msgs
    return (*msgs[:-1], Message("user", render_choices(msgs[-1].content, choices)))


def content_text(content: object, where: str) -> tuple[str, int]:
    """``(text, media parts)`` of a message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise InputError(f'{where}: "content" must be a string or a list of content parts')
    texts, media = [], 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):  # type: ignore[union-attr]
            texts.append(part["text"])  # type: ignore[index]
        elif kind in MEDIA_TYPES:
            media += 1
        elif isinstance(part, str):
            texts.append(part)
    return "\n".join(texts), media


def _dump(obj: object) -> Any:
    return obj.model_dump(exclude_none=True) if hasattr(obj, "model_dump") else obj


def tools_text(tools: Sequence[object]) -> str:
    """Tool definitions as one JSON line each (name, description, parameters without empty keys)."""
    lines = []
    for tool in tools:
        info = _dump(tool)
        if isinstance(info, dict):
            spec = {k: info[k] for k in ("name", "description", "parameters") if info.get(k) is not None}
            lines.append(json.dumps(spec, ensure_ascii=False, sort_keys=False))
    return "# Tools\n\n" + "\n".join(lines) if lines else ""


def conversation(
    messages: Sequence[object], where: str, choices: Sequence[object] = (), tools: Sequence[object] = ()
) -> tuple[Conversation, int]:
    """``(conversation, media parts not scored)`` of Inspect messages (dicts or ChatMessage objects)."""
    msgs: list[Message] = []
    media = 0
    for i, raw in enumerate(messages):
        m = _dump(raw)
        here = f"{where}: message {i + 1}"
        if isinstance(m, str):
            m = {"role": "user", "content": m}
        if not isinstance(m, dict):
            raise InputError(f'{here}: expected a message like {{"role": "user", "content": "..."}}')
        role = m.get("role")
        text, n = content_text(m.get("content", ""), here)
        media += n
        if role == "tool":
            role, text = "user", f"[tool result{' from ' + str(m['function']) if m.get('function') else ''}]\n{text}"
        elif role == "assistant" and m.get("tool_calls"):
            calls = [f"[calls {c.get('function')}({json.dumps(c.get('arguments', {}))})]" for c in m["tool_calls"]]
            text = "\n".join([text, *calls]).strip()
        if role not in ("system", "user", "assistant"):
            raise InputError(f"{here}: role must be system, user, assistant or tool, not {role!r}")
        msgs.append(Message(role, text))  # type: ignore[arg-type]
    listed = tools_text(tools)
    if listed:
        if msgs and msgs[0].role == "system":
            msgs[0] = Message("system", msgs[0].content + "\n\n" + listed)
        else:
            msgs.insert(0, Message("system", listed))
    return Conversation(with_choices(tuple(msgs), choices)), media
