"""The files a promptfoo config points at (``file://`` prompts, tests, vars and ``defaultTest``),
read inside a trust boundary.

The linted repository is untrusted input: a config could name ``file:///etc/passwd`` or
``file://../../.ssh/id_rsa`` and have it scored and previewed in a report uploaded by CI. So every
reference is resolved (symlinks included) and must stay inside the lint root (the git work tree
holding the linted path, else that path); one outside is reported, never opened. References to code
(``file://prompt.py:make``, ``file://tests/*.js``, ``exec:``) are listed as skipped: promptfoo would
run them, lint never does.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalrefine.core.io.conversation import read_text_file
from evalrefine.core.lint.records import READERS, Item, loads
from evalrefine.core.lint.safeyaml import item_lines, load_yaml
from evalrefine.core.lint.skips import CODE, LFS, REFERENCED, is_lfs_pointer
from evalrefine.core.lint.sources import Location, Parsed, ParseProblem, SkippedFile
from evalrefine.errors import EvalRefineError

CODE_SUFFIXES = {".py", ".js", ".ts", ".mjs", ".cjs", ".mts", ".cts", ".sh", ".bash", ".rb", ".pl", ".exe", ".bat"}
MEDIA_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".pdf", ".mp3", ".wav", ".mp4"}
REMOTE = ("http://", "https://", "huggingface://", "langfuse://", "az://", "s3://", "gs://")
OUTSIDE = "outside the linted repository: not read"
_FUNC = re.compile(r"^(.*\.[A-Za-z0-9]+):([A-Za-z_][\w.]*)$")


@dataclass
class Context:
    """One config's reading state: where references may point, and what went wrong or was skipped."""

    root: Path
    """The lint root, already resolved."""
    out: list[Parsed] = field(default_factory=list)

    def problem(self, loc: Location, message: str, hint: str | None = "") -> None:
        self.out.append(ParseProblem(loc, message, hint))

    def skip(self, loc: Location, reason: str, detail: str) -> None:
        self.out.append(SkippedFile(loc.path, reason, loc.line, detail))


def is_ref(value: object) -> bool:
    return isinstance(value, str) and value.startswith("file://")


def resolve(ctx: Context, ref: str, base: Path, loc: Location) -> list[Path]:
    """The readable files ``ref`` names (a path or glob, relative to ``base``); skips and problems
    are recorded on ``ctx`` and an empty list returned for them."""
    body = ref.removeprefix("file://").strip()
    func = _FUNC.match(body)
    target = func.group(1) if func else body
    if ref.startswith("exec:") or func or Path(target).suffix.lower() in CODE_SUFFIXES:
        ctx.skip(loc, CODE, ref)
        return []
    if target.startswith(REMOTE):
        ctx.skip(loc, "remote reference (not fetched)", ref)
        return []
    pattern = os.path.join(base, os.path.expanduser(target)) if not os.path.isabs(target) else target
    if glob.has_magic(target):
        matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True) if os.path.isfile(m))
        if not matches:
            ctx.problem(loc, f"{ref}: no files match", "check the glob")
    else:
        matches = [Path(pattern)]
    inside = []
    for m in matches:
        real = Path(os.path.realpath(m))
        if not real.is_relative_to(ctx.root):
            ctx.problem(loc, f"{ref}: {OUTSIDE}", f"keep referenced files under {ctx.root}")
        else:
            inside.append(Path(os.path.normpath(m)))
    return inside


def read(ctx: Context, file: Path, loc: Location, what: str) -> str | None:
    """The text of ``file``, or ``None`` with the reason recorded."""
    if file.suffix.lower() in MEDIA_SUFFIXES:
        ctx.skip(loc, "image or binary reference (not scored)", str(file))
        return None
    try:
        text = read_text_file(file)
    except EvalRefineError as exc:
        ctx.problem(loc, f"{what} {exc.message}", exc.hint)
        return None
    if is_lfs_pointer(text):
        ctx.problem(Location(file, 1), LFS)
        return None
    ctx.out.append(SkippedFile(file, REFERENCED))
    return text


def _split_delimited(text: str, file: Path) -> list[tuple[Location, str, bool]]:
    """promptfoo's text prompt files hold several prompts separated by lines of ``---``."""
    out: list[tuple[Location, str, bool]] = []
    start, buf = 1, list[str]()
    lines = text.split("\n")
    for i, line in enumerate([*lines, "---"], start=1):
        if line.strip() == "---":
            raw = "\n".join(buf).strip()
            if raw:
                offset = next(j for j, b in enumerate(buf) if b.strip())
                out.append((Location(file, start + offset), raw, False))
            buf, start = [], i + 1
        else:
            buf.append(line)
    if len(out) == 1:
        out[0] = (out[0][0], out[0][1], True)  # the whole file: --fix may rewrite it
    return out


def prompt_file(ctx: Context, file: Path, loc: Location) -> list[tuple[Location, str, bool]]:
    """``(location, template, whole file)`` for every prompt in a promptfoo prompt file."""
    text = read(ctx, file, loc, "prompt")
    if text is None:
        return []
    suffix = file.suffix.lower()
    if suffix in (".txt", ""):
        return _split_delimited(text, file)
    if suffix in (".md", ".j2", ".json", ".prompt", ".njk"):
        return [(Location(file, 1), text.strip(), suffix != ".json")]
    if suffix == ".jsonl":
        return [(Location(file, n), line.strip(), False) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if suffix in (".yaml", ".yml"):
        loaded = load_yaml(text, file)
        if isinstance(loaded, ParseProblem):
            ctx.out.append(loaded)
            return []
        return [(Location(file, 1), json.dumps(loaded[1], ensure_ascii=False), False)]
    if suffix == ".csv":
        out = []
        for item in READERS[".csv"](text, file):
            if isinstance(item, ParseProblem):
                ctx.out.append(item)
            elif isinstance(item[1], dict) and item[1]:
                row = item[1]
                raw = row.get("prompt", next(iter(row.values())))
                if isinstance(raw, str) and raw.strip():
                    out.append((Location(file, item[0]), raw.strip(), False))
        return out
    ctx.skip(loc, "unsupported prompt file type", str(file))
    return []


def _yaml_items(text: str, file: Path) -> list[Item]:
    loaded = load_yaml(text, file)
    if isinstance(loaded, ParseProblem):
        return [loaded]
    root, data = loaded
    if not isinstance(data, list):
        return [(1, data)]
    lines = item_lines(root)
    return [(lines[i] if i < len(lines) else 1, d) for i, d in enumerate(data)]


def test_file(ctx: Context, file: Path, loc: Location) -> list[tuple[Location, Any]]:
    """The test cases in a CSV, JSONL, JSON or YAML tests file, each at its line (a CSV row's
    ``__expected``-style columns are promptfoo's, not vars)."""
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json", ".yaml", ".yml"):
        ctx.skip(loc, "unsupported tests file type", str(file))
        return []
    text = read(ctx, file, loc, "tests")
    if text is None:
        return []
    reader: Callable[[str, Path], Any] = _yaml_items if suffix in (".yaml", ".yml") else READERS[suffix]
    out: list[tuple[Location, Any]] = []
    for item in reader(text, file):
        if isinstance(item, ParseProblem):
            ctx.out.append(item)
        elif suffix == ".csv" and isinstance(item[1], dict):
            row = {k: v for k, v in item[1].items() if not k.startswith("__")}
            out.append((Location(file, item[0]), {"vars": row}))
        else:
            out.append((Location(file, item[0]), item[1]))
    return out


def var_value(ctx: Context, ref: str, base: Path, loc: Location) -> str | None:
    """A ``file://`` var value as promptfoo passes it to the template: a file's text (YAML as
    JSON); ``None`` when it is code, media or unreadable (recorded on ``ctx``)."""
    files = resolve(ctx, ref, base, loc)
    if len(files) != 1:
        return None
    text = read(ctx, files[0], loc, "var")
    if text is None:
        return None
    if files[0].suffix.lower() in (".yaml", ".yml"):
        loaded = load_yaml(text, files[0])
        if isinstance(loaded, ParseProblem):
            ctx.out.append(loaded)
            return None
        return json.dumps(loaded[1], ensure_ascii=False)
    return text


def mapping_file(ctx: Context, ref: str, base: Path, loc: Location, what: str) -> list[tuple[Path, dict[str, Any]]]:
    """YAML/JSON mappings (a ``defaultTest`` or a test's vars files), each with its file."""
    out = []
    for file in resolve(ctx, ref, base, loc):
        text = read(ctx, file, loc, what)
        if text is None:
            continue
        data = loads(text, Location(file, 1)) if file.suffix.lower() == ".json" else load_yaml(text, file)
        if isinstance(data, tuple):
            data = data[1]
        if isinstance(data, ParseProblem):
            ctx.out.append(data)
        elif not isinstance(data, dict):
            ctx.problem(Location(file, 1), f"{what} file must hold a mapping", "write key: value pairs")
        else:
            out.append((file, data))
    return out
