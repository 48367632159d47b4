"""Record readers shared by the dataset formats and promptfoo's test files: every record of a JSONL,
JSON-array or CSV file with the line it starts on, and every unreadable one as a problem at its line.

They never raise for bad input: a JSON document nested deeper than Python's parser can follow
(``[[[[…]]]]`` a hundred thousand deep) is reported as one problem instead of a ``RecursionError``
traceback, because the linted repository is untrusted input.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from evalrefine.core.io.jsonio import jsonl_lines
from evalrefine.core.lint.sources import Location, ParseProblem

Item = tuple[int, object] | ParseProblem
TOO_DEEP = "nested too deeply to read (a JSON or YAML document more than ~1000 levels deep)"


def loads(text: str, loc: Location) -> object | ParseProblem:
    """``json.loads`` with every failure a one-line problem at the line it happened."""
    try:
        data: object = json.loads(text)
        return data
    except json.JSONDecodeError as exc:
        where = Location(loc.path, loc.line + exc.lineno - 1)
        return ParseProblem(where, f"malformed JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return ParseProblem(loc, TOO_DEEP)


def jsonl_items(text: str, path: Path) -> Iterator[Item]:
    for lineno, line in enumerate(jsonl_lines(text), start=1):
        if line.strip():
            obj = loads(line, Location(path, lineno))
            yield obj if isinstance(obj, ParseProblem) else (lineno, obj)


def json_items(text: str, path: Path) -> Iterator[Item]:
    """The elements of a top-level JSON array, each with the line it starts on."""
    data = loads(text, Location(path, 1))
    if isinstance(data, ParseProblem):
        yield data
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


def csv_items(text: str, path: Path) -> Iterator[Item]:
    reader = csv.DictReader(io.StringIO(text))
    start = 2
    try:
        for row in reader:
            if None in row:
                extra = len(row[None])  # type: ignore[index]
                yield ParseProblem(Location(path, start), f"{extra} more fields than the header has")
            else:
                yield start, dict(row)
            start = reader.line_num + 1
    except csv.Error as exc:
        yield ParseProblem(Location(path, reader.line_num), f"malformed CSV: {exc}")


READERS = {".jsonl": jsonl_items, ".json": json_items, ".csv": csv_items}
