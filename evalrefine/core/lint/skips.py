"""Files that are not prompts, recognised by name and place, and the one-line summary of what was skipped.

An eval repository holds far more than prompts: docs, licences, CTF flags and reference solutions,
results of earlier runs. Scoring those as prompts drowned the real findings (and a ``flag.txt``
"looks like a test" for good reason), so a directory walk skips them and says how many, by reason;
``--explain-skips`` lists each one. A file named explicitly on the command line is always read.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path

from evalrefine.core.lint.sources import SkippedFile

DOCS = "documentation"
RESULTS = "results file"
FLAG = "CTF flag or solution"
LFS = "Git LFS pointer: run `git lfs pull`"
NO_PROMPTS = "holds no prompt records"
CODE = "code reference (not scored)"
MEDIA = "image or audio (not scored)"
REFERENCED = "read through a promptfoo config"
"""Not a skip: marks a file a config read, so the walk does not lint it a second time on its own."""

_DOC_NAMES = (
    "readme*",
    "license*",
    "licence*",
    "copying*",
    "notice*",
    "changelog*",
    "changes.*",
    "contributing*",
    "code_of_conduct*",
    "security.*",
    "authors*",
    "citation*",
    "agents.md",
    "claude.md",
)
_DOC_DIRS = {"docs", "doc", "documentation", "site", "_site"}
_DOC_SUFFIXES = {".md", ".rst", ".txt", ".markdown"}
_SHOUTED = re.compile(r"[A-Z][A-Z0-9]*(?:[_-][A-Z0-9]+)+|[A-Z]{4,}")
"""A repository's own notes are named in capitals (BEST_PRACTICES.md, EVALUATION_CHECKLIST.md,
TODO.md); prompt files are not. inspect_evals keeps several at its root."""
DEPENDENCIES = "dependency list"
_DEPENDENCY_NAMES = ("requirements*.txt", "*-requirements*.txt", "*_requirements*.txt", "constraints*.txt")
_FLAG_DIRS = {"solution", "solutions", "writeup", "writeups"}
"""A CTF challenge's reference solution and write-up live here (cybench: ``solution/writeup.md``)."""
_FLAG_NAMES = ("flag", "flag.*", "flag_*.txt", "solution", "solution.*", "solution_*.*", "solutions.*", "answer_key*")
TOOL_DATA = "tool resource (what a tool returns, not a prompt)"
_TOOL_DIRS = re.compile(r"(?:.+[_-])?tools?")
"""An agentic eval's tools and the documents they hand the agent (agentharm: ``harmful_tools/content/*.txt``)."""
CHALLENGE = "challenge resource (a file the agent works on, not a prompt)"
_CHALLENGE_DIRS = {"challenge", "challenges"}
"""A CTF suite's challenges: source, banners, outputs the agent inspects (cybench: ``challenges/*/resources``);
their prompts are in the suite's JSON, judged by its records."""
_RESULT_NAMES = ("*result*", "*_scores.*", "scores.*", "summary.json", "metrics.json", "*leaderboard*")
_RESULT_DIRS = {"results", "outputs", "output"}
LFS_HEADER = "version https://git-lfs.github.com/spec/v1"


def classify(rel: Path) -> str | None:
    """Why ``rel`` (a path relative to the walked directory) is not a prompt file, or ``None``."""
    name = rel.name.lower()
    dirs = {p.lower() for p in rel.parts[:-1]}
    if any(fnmatch(name, pat) for pat in _DOC_NAMES) or dirs & _DOC_DIRS:
        return DOCS
    if rel.suffix.lower() in _DOC_SUFFIXES and _SHOUTED.fullmatch(rel.stem) and "PROMPT" not in rel.stem:
        return DOCS
    if any(fnmatch(name, pat) for pat in _DEPENDENCY_NAMES):
        return DEPENDENCIES
    if any(fnmatch(name, pat) for pat in _FLAG_NAMES) or dirs & _FLAG_DIRS:
        return FLAG
    if rel.suffix.lower() in _DOC_SUFFIXES and any(_TOOL_DIRS.fullmatch(d) for d in dirs):
        return TOOL_DATA
    if rel.suffix.lower() in _DOC_SUFFIXES and dirs & _CHALLENGE_DIRS:
        return CHALLENGE
    if rel.suffix.lower() != ".eval" and (any(fnmatch(name, pat) for pat in _RESULT_NAMES) or dirs & _RESULT_DIRS):
        return RESULTS
    return None


def is_lfs_pointer(text: str) -> bool:
    """A Git LFS pointer (the real file was never pulled): a few ``key value`` lines, nothing else."""
    return text.startswith(LFS_HEADER) and len(text) < 1024


def summary(skipped: Sequence[SkippedFile]) -> str:
    """``skipped 12 files: 7 documentation, 3 holds no prompt records, …`` (most common first)."""
    if not skipped:
        return ""
    counts = Counter(s.reason for s in skipped)
    parts = ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
    noun = "file" if len(skipped) == 1 else "files"
    return f"skipped {len(skipped)} {noun}: {parts}"


def explain(skipped: Sequence[SkippedFile]) -> list[str]:
    """One line per skipped file or reference, in path order."""
    return [str(s) for s in sorted(skipped, key=lambda s: (str(s.path), s.line))]
