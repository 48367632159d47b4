"""Where exactly a prompt's string sits in its file, found by parsing, and proof that a patch changed
only that string.

``lint --fix --write`` edits an author's dataset, so a string search is not good enough: the same
text can be another field of the same record, another record on the same line of a minified JSON
array, or an alias of a YAML anchor. Each format is located with its own parser: JSON/JSONL by
walking the record with :mod:`json`'s own scanner (``scanstring``/``raw_decode`` give exact
offsets) along ``LintPrompt.field``; YAML by the composed node's marks; CSV by the row and column
:mod:`csv` reads. A span is accepted only when the parser reads the prompt's exact text there.

After patching, the whole file is parsed again and compared with the original data with only the
patched fields replaced (:func:`verify`); any other difference refuses the patch.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalrefine.core.io.conversation import normalize_text
from evalrefine.core.lint.safeyaml import load_yaml
from evalrefine.core.lint.sources import FieldPath, ParseProblem

STRUCTURED = (".json", ".jsonl", ".csv", ".yaml", ".yml")
_DECODER = json.JSONDecoder()
scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_WS = " \t\r\n"
# str.splitlines (the JSONL reader) and YAML also break lines on these: never write them raw.
_BREAKS = re.compile("[\x85\u2028\u2029]")
_YAML_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


class Unplaceable(Exception):
    """The prompt's string cannot be located exactly: nothing is written for it."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    encoded: str
    address: tuple[str | int, ...]
    """Where the value sits in :func:`parse_data`'s result (the verification address)."""
    value: str
    """The value the patched file must read there."""


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _escape(text: str, pattern: re.Pattern[str]) -> str:
    def one(m: re.Match[str]) -> str:
        return f"\\u{ord(m.group(0)):04x}"

    return pattern.sub(one, text)


# --- JSON ---------------------------------------------------------------------------------------


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _expect(text: str, pos: int, char: str) -> int:
    if pos >= len(text) or text[pos] != char:
        raise Unplaceable("the record's JSON is not shaped as the field path says")
    return pos + 1


def _child(text: str, pos: int, part: str | int) -> int:
    """Offset of the value ``part`` names in the object/array starting at ``pos`` (last duplicate
    key wins, as in :func:`json.loads`)."""
    is_key = isinstance(part, str)
    pos = _expect(text, _skip(text, pos), "{" if is_key else "[")
    close = "}" if is_key else "]"
    found, index = -1, 0
    while True:
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == close:
            break
        here: str | int = index
        if is_key:
            key, pos = scanstring(text, _expect(text, pos, '"'))
            pos = _skip(text, _expect(text, _skip(text, pos), ":"))
            here = key
        pos = _skip(text, pos)
        if here == part:
            found = pos
        _, pos = _DECODER.raw_decode(text, pos)
        index += 1
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
    if found < 0:
        raise Unplaceable(f"field {part!r} not found in the record")
    return found


def _json_string_span(text: str, pos: int, path: FieldPath) -> tuple[int, int, str]:
    try:
        for part in path:
            pos = _child(text, pos, part)
        pos = _expect(text, _skip(text, pos), '"')
        value, end = scanstring(text, pos)
    except (ValueError, RecursionError, IndexError) as exc:
        raise Unplaceable(f"the record's JSON cannot be walked: {exc}") from None
    return pos - 1, end, value


def _json_encode(new: str, literal: str, old: str) -> str:
    ascii_only = literal.isascii() and not old.isascii()  # the file writes \u escapes: so do we
    return _escape(json.dumps(new, ensure_ascii=ascii_only), _BREAKS)


def _starts(pieces: list[str], sep: int) -> list[int]:
    starts, pos = [], 0
    for piece in pieces:
        starts.append(pos)
        pos += len(piece) + sep
    return starts


def _jsonl(text: str, line: int, path: FieldPath, old: str) -> tuple[int, int, str, tuple[str | int, ...]]:
    # The reader numbers lines as str.splitlines does; a "\n"-only numbering is tried too. Either
    # way the value read at the span must be the prompt's exact text.
    for starts in (_starts(text.splitlines(keepends=True), 0), _starts(text.split("\n"), 1)):
        if not 0 < line <= len(starts):
            continue
        try:
            start, end, value = _json_string_span(text, starts[line - 1], path)
        except Unplaceable:
            continue
        if _same(value, old):
            return start, end, text[start:end], (text.count("\n", 0, start), *path)
    raise Unplaceable(f"line {line} no longer holds this prompt at {_dotted(path)}")


def _json(text: str, line: int, path: FieldPath, old: str, record_id: str) -> tuple[int, int, str, tuple[Any, ...]]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Unplaceable("the file is no longer valid JSON") from None
    if not isinstance(data, list):
        start, end, value = _json_string_span(text, 0, path)
        if not _same(value, old):
            raise Unplaceable(f"the record no longer holds this prompt at {_dotted(path)}")
        return start, end, text[start:end], path
    found: list[tuple[int, int, int]] = []
    pos = text.index("[") + 1
    for i, element in enumerate(data):  # the elements as the reader numbers them
        while text[pos] in _WS + ",":
            pos += 1
        if text.count("\n", 0, pos) + 1 == line:
            try:
                start, end, value = _json_string_span(text, pos, path)
            except Unplaceable:
                start, end, value = 0, 0, ""
            ids_match = not isinstance(element, dict) or str(element.get("id") or record_id) == record_id
            if _same(value, old) and ids_match:
                found.append((i, start, end))
        _, pos = _DECODER.raw_decode(text, pos)
    if len(found) != 1:
        raise Unplaceable(
            f"line {line}: {'no record' if not found else 'several records'} hold this prompt at {_dotted(path)}"
        )
    i, start, end = found[0]
    return start, end, text[start:end], (i, *path)


# --- CSV ----------------------------------------------------------------------------------------


def _csv_fields(record: str) -> list[tuple[int, int, bool]]:
    """``(start, end, quoted)`` of each field of one excel-dialect CSV record."""
    out, pos, n = [], 0, len(record)
    while True:
        if pos < n and record[pos] == '"':
            end = pos + 1
            while True:
                end = record.index('"', end)
                if end + 1 < n and record[end + 1] == '"':
                    end += 2
                    continue
                break
            end += 1
            out.append((pos, end, True))
        else:
            end = pos
            while end < n and record[end] not in ",\r\n":
                end += 1
            out.append((pos, end, False))
        if end >= n or record[end] != ",":
            return out
        pos = end + 1


def _line_offset(text: str, line: int) -> int:
    """Offset where 1-based ``line`` starts ("\n"-numbered, as :mod:`csv` counts), or the end."""
    pos = 0
    for _ in range(line - 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos


def _csv_encode(new: str, quoted: bool) -> str:
    if quoted or any(c in new for c in ',"\r\n') or new != new.strip(" "):
        return '"' + new.replace('"', '""') + '"'
    return new


def _csv(text: str, line: int, column: str, old: str) -> tuple[int, int, bool, tuple[int, int]]:
    reader = csv.reader(io.StringIO(text))
    found: tuple[int, list[str]] | None = None
    try:
        header = next(reader)
        start_line = 2
        for index, row in enumerate(reader, start=1):
            if start_line == line:
                found = index, row
                break
            start_line = reader.line_num + 1
    except (csv.Error, StopIteration):
        raise Unplaceable("the file is no longer readable CSV") from None
    if found is None:
        raise Unplaceable(f"line {line}: no CSV record starts there")
    index, row = found
    if column not in header:
        raise Unplaceable(f"no column {column!r}")
    col = len(header) - 1 - header[::-1].index(column)  # DictReader: the last duplicate header wins
    offset, end_offset = _line_offset(text, line), _line_offset(text, reader.line_num + 1)
    record = text[offset:end_offset]
    try:
        fields = _csv_fields(record)
    except ValueError:
        raise Unplaceable(f"line {line}: the CSV record cannot be split") from None
    if col >= len(fields) or len(fields) != len(row) or not _same(row[col], old):
        raise Unplaceable(f"line {line} no longer holds this prompt in column {column!r}")
    start, end, quoted = fields[col]
    got = next(csv.reader(io.StringIO(record[start:end] or '""')))
    if got != [row[col]]:
        raise Unplaceable(f"line {line}: the CSV field cannot be located exactly")
    return offset + start, offset + end, quoted, (index, col)


# --- YAML ---------------------------------------------------------------------------------------


def _yaml(text: str, path: Path, field: FieldPath, old: str) -> tuple[int, int, str]:
    import yaml

    loaded = load_yaml(text, path)
    if isinstance(loaded, ParseProblem):
        raise Unplaceable(loaded.message)
    node: Any = loaded[0]
    for part in field:
        if isinstance(part, str) and isinstance(node, yaml.MappingNode):
            keys = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part]
            node = keys[-1] if keys else None
        elif isinstance(part, int) and isinstance(node, yaml.SequenceNode) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            raise Unplaceable(f"{_dotted(field)} not found in the YAML")
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not _same(node.value, old):
        raise Unplaceable(f"{_dotted(field)} no longer holds this prompt as a string")
    start, end = node.start_mark.index, node.end_mark.index
    literal = text[start:end]
    tail = literal[len(literal.rstrip(" \t\r\n")) :] if node.style in ("|", ">") else ""
    return start, end, tail


def _same(value: str, prompt: str) -> bool:
    """The prompt's text is the value as every reader normalises it (line endings, trailing space)."""
    return normalize_text(value) == prompt


def _dotted(path: FieldPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(whole file)"


# --- entry points -------------------------------------------------------------------------------


def locate(text: str, path: Path, field: FieldPath, line: int, record_id: str, old: str, new: str) -> Span:
    """The span of the prompt ``old`` at ``field`` of the record at ``line``, and ``new`` encoded
    as that format writes it; :class:`Unplaceable` when the parser does not read ``old`` there."""
    suffix = path.suffix.lower()
    nl = newline_of(text)
    if suffix in (".json", ".jsonl"):
        if not field:
            raise Unplaceable("a JSON prompt without a field path")
        if suffix == ".jsonl":
            start, end, literal, address = _jsonl(text, line, field, old)
        else:
            start, end, literal, address = _json(text, line, field, old, record_id)
        return Span(start, end, _json_encode(new, literal, old), address, new)
    if suffix == ".csv":
        if len(field) != 1 or not isinstance(field[0], str):
            raise Unplaceable("a CSV prompt must be one column")
        value = new.replace("\r\n", "\n").replace("\n", nl)
        start, end, quoted, cell = _csv(text, line, field[0], old)
        return Span(start, end, _csv_encode(value, quoted), cell, value)
    if suffix in (".yaml", ".yml"):
        if not field:
            raise Unplaceable("a YAML prompt without a field path")
        start, end, tail = _yaml(text, path, field, old)
        encoded = _escape(json.dumps(new, ensure_ascii=False), _YAML_UNPRINTABLE)
        return Span(start, end, encoded + tail, field, new)
    if field:
        raise Unplaceable(f"cannot patch a field of a {suffix or 'plain'} file")
    if not _same(text.strip(), old):
        raise Unplaceable("the file no longer holds this prompt")
    start = len(text) - len(text.lstrip())
    value = new.strip().replace("\r\n", "\n").replace("\n", nl)
    return Span(start, len(text.rstrip()), value, (), value)


def parse_data(text: str, path: Path) -> Any:
    """What the file reads as, for :func:`verify`; raises :class:`Unplaceable` when unreadable."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            out: list[Any] = []
            for piece in text.split("\n"):
                try:
                    out.append(json.loads(piece) if piece.strip() else piece)
                except ValueError:
                    out.append(piece)  # an unreadable line must stay byte-identical
            return out
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".csv":
            return list(csv.reader(io.StringIO(text)))
        if suffix in (".yaml", ".yml"):
            loaded = load_yaml(text, path)
            if isinstance(loaded, ParseProblem):
                raise Unplaceable(loaded.message)
            return _unshare(loaded[1])
    except (ValueError, RecursionError, csv.Error) as exc:
        raise Unplaceable(f"the file cannot be parsed: {exc}") from None
    return text.strip()


def _unshare(data: Any) -> Any:
    """A copy without shared sub-objects, so a YAML anchor patched through one alias shows as a
    change at every place that used it."""
    if isinstance(data, dict):
        return {k: _unshare(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_unshare(v) for v in data]
    return data


def _set(data: Any, address: tuple[str | int, ...], value: str) -> Any:
    if not address:
        return value
    head, rest = address[0], address[1:]
    if isinstance(data, list) and isinstance(head, int):
        return [_set(v, rest, value) if i == head else v for i, v in enumerate(data)]
    if isinstance(data, dict):
        return {k: _set(v, rest, value) if k == head else v for k, v in data.items()}
    raise Unplaceable("the address does not exist in the parsed file")


def verify(old_text: str, new_text: str, path: Path, spans: list[Span]) -> None:
    """Raise :class:`Unplaceable` unless ``new_text`` parses to ``old_text``'s data with exactly the
    spans' values replaced."""
    expected = parse_data(old_text, path)
    for span in spans:
        expected = _set(expected, span.address, span.value)
    if parse_data(new_text, path) != expected:
        raise Unplaceable("re-reading the patched file showed other changes than the prompt")
