"""``lint --fix``: put rewritten prompts back into their files, in the files' own format.

Patching is textual on purpose: the prompt's string literal (JSON/JSONL escaped, CSV quoted, YAML
quoted or plain) is found from the record's line onwards and replaced by the new text encoded the
same way, so key order, indentation, comments and every other record stay byte-identical. A prompt
whose literal cannot be found exactly (a YAML block scalar, a template rendered with vars) is left
alone and reported, never guessed at.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalrefine.core.guard import IntentGuard
from evalrefine.core.lint.sources import LintPrompt
from evalrefine.core.refine import Finished, PromptScore, RefineConfig, RefineScorer, refine
from evalrefine.core.rubric import Rubric
from evalrefine.core.rules_rewriter import RuleRewriter


@dataclass(frozen=True)
class Replacement:
    prompt: LintPrompt
    new_text: str


def _line_offset(text: str, line: int) -> int:
    pos = 0
    for _ in range(line - 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return pos


def _csv_field(value: str, force_quotes: bool) -> str:
    if force_quotes or any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _encodings(old: str, new: str, suffix: str) -> list[tuple[str, str]]:
    """``(literal as it may appear in the file, the new text encoded the same way)``, best first."""
    if suffix in (".json", ".jsonl"):
        return [(json.dumps(old, ensure_ascii=a), json.dumps(new, ensure_ascii=a)) for a in (False, True)]
    if suffix == ".csv":
        pairs = [(_csv_field(old, True), _csv_field(new, True))]
        return pairs + ([(old, _csv_field(new, False))] if _csv_field(old, False) == old else [])
    if suffix in (".yaml", ".yml"):
        new_yaml = json.dumps(new, ensure_ascii=False)  # a YAML double-quoted scalar
        pairs = [(json.dumps(old, ensure_ascii=False), new_yaml), ("'" + old.replace("'", "''") + "'", new_yaml)]
        return pairs + ([(old, new_yaml)] if "\n" not in old else [])
    return []


def _whole_field(text: str, start: int, end: int, suffix: str) -> bool:
    """A CSV or plain YAML literal must be a whole field/value, not part of a longer one."""
    if suffix == ".csv":
        return (start == 0 or text[start - 1] in ",\n") and (end == len(text) or text[end] in ",\r\n")
    if suffix in (".yaml", ".yml"):
        return text[start - 1 : start] in (" ", "\n", "") and text[end : end + 1] in ("\n", "\r", "")
    return True


def patch_text(text: str, suffix: str, replacements: Sequence[Replacement]) -> tuple[str, list[Replacement]]:
    """``text`` with every replacement applied, and the replacements that could not be placed."""
    suffix = suffix.lower()
    if suffix in (".txt", ".md"):
        if len(replacements) == 1 and replacements[0].prompt.field == ():
            return replacements[0].new_text + "\n", []
        return text, list(replacements)
    edits: list[tuple[int, int, str]] = []
    failed = []
    for rep in replacements:
        if rep.prompt.field == () and suffix in (".yaml", ".yml"):
            failed.append(rep)
            continue
        offset = _line_offset(text, rep.prompt.location.line)
        for literal, encoded in _encodings(rep.prompt.text, rep.new_text, suffix):
            start = text.find(literal, offset)
            while start >= 0 and not _whole_field(text, start, start + len(literal), suffix):
                start = text.find(literal, start + 1)
            if start >= 0 and not any(s < start + len(literal) and start < e for s, e, _ in edits):
                edits.append((start, start + len(literal), encoded))
                break
        else:
            failed.append(rep)
    for start, end, encoded in sorted(edits, reverse=True):
        text = text[:start] + encoded + text[end:]
    return text, failed


def write_fixed(path: Path, new_text: str, fix_dir: Path | None) -> Path:
    """Write a fixed copy under ``fix_dir`` (mirroring the path), or patch ``path`` in place keeping
    a ``.bak`` copy of the original when ``fix_dir`` is None."""
    if fix_dir is None:
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
        tmp = path.with_name(path.name + ".evalrefine-tmp")
        tmp.write_text(new_text, encoding="utf-8", newline="")
        tmp.replace(path)  # atomic: a crash never leaves a half-written file
        return path
    rel = Path(*[p for p in path.parts if p not in ("/", "..")]) if path.is_absolute() or ".." in path.parts else path
    target = fix_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(new_text, encoding="utf-8", newline="")
    return target


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
