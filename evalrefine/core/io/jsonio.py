"""JSON and JSONL parsing with errors that name the file and line (shared by every reader)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from evalrefine.errors import InputError


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}:{exc.lineno}: malformed JSON: {exc.msg} (column {exc.colno})", "fix the JSON syntax"
        ) from None
    except RecursionError:  # a hostile file nested thousands of levels deep
        raise InputError(
            f"{source}: JSON nested too deeply to read", "no prompt file needs this much nesting"
        ) from None


def jsonl_lines(text: str) -> list[str]:
    """The lines of a JSONL text. Only ``\n`` (and ``\r\n``) end a record: ``str.splitlines`` also
    splits at U+2028, U+0085 and other characters a JSON string may hold unescaped, which would cut
    a record in two."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def json_lines(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` for each non-blank line of a JSONL text."""
    for lineno, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except RecursionError:
            raise InputError(f"{source}:{lineno}: JSON nested too deeply to read", "one JSON object a line") from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}:{lineno}: malformed JSON: {exc.msg} (column {exc.colno})", "one JSON object a line"
            ) from None
