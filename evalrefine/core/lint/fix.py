"""``lint --fix``: put rewritten prompts back into their files, exactly and safely.

A dataset is the author's work, so writing it must lose nothing and touch nothing else. The
prompt's string is located by parsing (:mod:`.spans`: the record's field path in JSON/JSONL, the
node in YAML, the row and column in CSV) and only that span is replaced; the bytes around it, the
BOM and the line endings stay as they were. The patched text is parsed again before it is
written and the file is read back after, and any difference besides the patched fields refuses
the patch (restoring the original). In place, every earlier backup is kept: ``.bak``, ``.bak.1``,
… are created exclusively, never overwritten. A prompt that only exists after rendering (a
promptfoo template with vars) or inside an Inspect log is never written: it is reported so the
author fixes its source. Nothing is written outside the lint root (a symlink pointing out of the
repository is refused) or, for copies, outside the fix directory.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalrefine.core.lint.promptfoo import RENDERED
from evalrefine.core.lint.sources import LintPrompt
from evalrefine.core.lint.spans import Span, Unplaceable, locate, verify
from evalrefine.core.refine.guard import IntentGuard
from evalrefine.core.refine.loop import Finished, PromptScore, RefineConfig, RefineScorer, refine
from evalrefine.core.refine.rubric import Rubric
from evalrefine.core.refine.rules import RuleRewriter

BOM = b"\xef\xbb\xbf"
SOURCE_ONLY = "fix it in its source"


@dataclass(frozen=True)
class Replacement:
    prompt: LintPrompt
    new_text: str


@dataclass(frozen=True)
class Patched:
    text: str
    placed: list[Replacement]
    refused: list[tuple[Replacement, str]]
    spans: list[Span] = field(default_factory=list)


@dataclass
class FileFixed:
    """What happened to one file: where it was written, its backup, and what was refused and why."""

    path: Path
    written: Path | None = None
    backup: Path | None = None
    placed: list[Replacement] = field(default_factory=list)
    refused: list[tuple[Replacement, str]] = field(default_factory=list)


def source_only(prompt: LintPrompt) -> str | None:
    """Why ``prompt`` can never be patched where it was read, or ``None`` when it can."""
    if prompt.location.path.suffix.lower() == ".eval":
        return f"{SOURCE_ONLY}: read from an Inspect log, not the dataset"
    if prompt.field == RENDERED:
        return f"{SOURCE_ONLY}: a rendered template (edit the template or its vars)"
    return None


def patch(text: str, path: Path, replacements: Sequence[Replacement]) -> Patched:
    """``text`` (decoded, without BOM) with every placeable replacement applied and verified."""
    spans: list[tuple[Span, Replacement]] = []
    refused: list[tuple[Replacement, str]] = []
    for rep in replacements:
        why = source_only(rep.prompt)
        if why is not None:
            refused.append((rep, why))
            continue
        p = rep.prompt
        if "\x00" in rep.new_text:  # every reader refuses a file holding NUL as binary
            refused.append((rep, "not patched: the new text holds a NUL character"))
            continue
        try:
            span = locate(text, path, p.field, p.location.line, p.record_id, p.text, rep.new_text)
        except Unplaceable as exc:
            refused.append((rep, f"not patched: {exc}"))
            continue
        if any(s.start < span.end and span.start < s.end for s, _ in spans):
            refused.append((rep, "not patched: another fix already changes this string"))
            continue
        spans.append((span, rep))
    new = text
    for span, _ in sorted(spans, key=lambda sr: sr[0].start, reverse=True):
        new = new[: span.start] + span.encoded + new[span.end :]
    if spans:
        try:
            verify(text, new, path, [s for s, _ in spans])
        except Unplaceable as exc:
            return Patched(text, [], refused + [(r, f"not patched: {exc}") for _, r in spans])
    return Patched(new, [r for _, r in spans], refused, [s for s, _ in spans])


def patch_text(text: str, suffix: str, replacements: Sequence[Replacement]) -> tuple[str, list[Replacement]]:
    """:func:`patch` for a file of type ``suffix``: the new text and the replacements not placed."""
    done = patch(text, Path("file" + suffix), replacements)
    return done.text, [r for r, _ in done.refused]


def write_root(path: Path) -> Path:
    """The lint root a fix of ``path`` must stay in, found *without* following symlinks (a link to
    a file outside the repository must not move the root with it): the nearest ancestor holding
    ``.git``, else the working directory when ``path`` is under it, else its own directory."""
    lexical = Path(os.path.abspath(path))
    for parent in lexical.parents:
        if (parent / ".git").exists():
            return parent
    cwd = Path(os.path.abspath(Path.cwd()))
    return cwd if cwd in lexical.parents else lexical.parent


def inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _backup(path: Path, data: bytes) -> Path:
    """The first free name of ``path.bak``, ``path.bak.1``, …, created exclusively so no earlier
    backup is ever overwritten, holding ``data``."""
    n = 0
    while True:
        backup = path.with_name(path.name + (".bak" if n == 0 else f".bak.{n}"))
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            n += 1
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return backup


def _replace(target: Path, data: bytes, mode: int | None) -> None:
    """Atomic: a crash leaves the old file or the new one, never half of either."""
    fd, tmp = tempfile.mkstemp(prefix=".evalrefine-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _copy_target(path: Path, root: Path, fix_dir: Path) -> Path | None:
    """Where the fixed copy of ``path`` goes: its path as the author sees it from the working
    directory (else under the root) mirrored in ``fix_dir``, so ``evalrefine-fixed/`` looks like the
    repository; ``None`` if that would leave ``fix_dir`` (a symlink planted in it)."""
    lexical = Path(os.path.abspath(path))
    here = Path(os.path.abspath(Path.cwd()))
    base = here if lexical.is_relative_to(here) else root
    rel = lexical.relative_to(base) if lexical.is_relative_to(base) else Path(lexical.name)
    target = fix_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or not inside(target.parent, fix_dir):
        return None
    return target


def fix_file(
    path: Path, replacements: Sequence[Replacement], fix_dir: Path | None, root: Path | None = None
) -> FileFixed:
    """Patch ``path`` in place (``fix_dir`` None, keeping a numbered backup) or write a fixed copy
    under ``fix_dir``; never raises for a file it cannot patch (every refusal has its reason)."""
    out = FileFixed(path)
    root = root or write_root(path)
    whole = [(r, source_only(r.prompt)) for r in replacements]
    out.refused = [(r, why) for r, why in whole if why is not None]
    todo = [r for r, why in whole if why is None]
    if not todo:
        return out
    if not inside(path, root):
        out.refused += [(r, f"not written: {path} resolves outside the lint root {root}") for r in todo]
        return out
    real = path.resolve()
    try:
        raw = real.read_bytes()
        text = raw[len(BOM) :].decode("utf-8") if raw.startswith(BOM) else raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        out.refused += [(r, f"not patched: cannot read the file again ({exc})") for r in todo]
        return out
    done = patch(text, real, todo)
    out.refused += done.refused
    if not done.placed:
        return out
    data = (BOM if raw.startswith(BOM) else b"") + done.text.encode("utf-8")
    try:
        if fix_dir is None:
            target, mode = real, real.stat().st_mode & 0o7777
            out.backup = _backup(real, raw)
        else:
            found = _copy_target(path, root, fix_dir)
            if found is None:
                out.refused += [(r, f"not written: the copy would leave {fix_dir}") for r in done.placed]
                return out
            target, mode = found, None
        _replace(target, data, mode)
    except OSError as exc:
        out.refused += [(r, f"not written: {exc.strerror or exc}") for r in done.placed]
        return out
    if not _reads_back(target, data, text, real, done):
        if fix_dir is None:
            _replace(target, raw, mode)
        else:
            target.unlink(missing_ok=True)
        out.refused += [(r, "not written: the file read back differently; restored") for r in done.placed]
        return out
    out.written, out.placed = target, done.placed
    return out


def _reads_back(target: Path, data: bytes, original: str, real: Path, done: Patched) -> bool:
    """The written file holds exactly ``data``, and parses as the original with only the patched
    fields changed (checked again on what is actually on disk)."""
    try:
        back = target.read_bytes()
        text = back[len(BOM) :].decode("utf-8") if back.startswith(BOM) else back.decode("utf-8")
        verify(original, text, real, done.spans)
    except (OSError, UnicodeDecodeError, Unplaceable):
        return False
    return back == data


@dataclass(frozen=True)
class PromptFixed:
    prompt: LintPrompt
    before: PromptScore
    after: PromptScore
    new_text: str | None
    """``None`` when no rewrite scored lower than the original."""


def fix_prompts(
    prompts: Sequence[LintPrompt],
    scorer: RefineScorer,
    rubric: Rubric,
    guard: IntentGuard,
    config: RefineConfig,
    cancel: threading.Event | None = None,
) -> Iterator[PromptFixed]:
    """Run the offline refine loop on each prompt (the last user turn is rewritten)."""
    rewriter = RuleRewriter(rubric)
    for prompt in prompts:
        if cancel is not None and cancel.is_set():
            return
        events = refine(prompt.conversation, scorer, rewriter, guard, rubric, config, cancel)
        done = next(e for e in events if isinstance(e, Finished))
        assert done.best.score is not None and done.original.score is not None
        changed = done.best.id != 0
        yield PromptFixed(prompt, done.original.score, done.best.score, done.best.text if changed else None)
