"""What lint reads: prompts found in an eval repository, each with the file and line it came from.

A :class:`LintPrompt` knows where its text lives inside its record (``field``, e.g. ``("input", 2,
"content")``), so ``--write`` can patch exactly that string and nothing else. A record that cannot
be read becomes a :class:`ParseProblem` with its location; the rest of the repository is still linted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalrefine.core.io.conversation import Conversation
from evalrefine.core.io.prompt_sets import PromptRecord, conversation_hash

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    path: Path
    line: int
    """1-based line where the record (or the prompt string) starts."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class LintPrompt:
    location: Location
    format: str
    """``inspect``, ``openai-evals``, ``promptfoo``, ``jsonl``, ``json``, ``csv`` or ``text``."""
    record_id: str
    conversation: Conversation
    field: FieldPath
    """Where the scored text (the last user turn) sits in the record; ``()`` for a whole text file."""

    @property
    def text(self) -> str:
        return self.conversation.messages[-1].content

    @property
    def content_hash(self) -> str:
        return conversation_hash(self.conversation)

    def as_record(self) -> PromptRecord:
        return PromptRecord(self.record_id, self.conversation, self.location.path.name, str(self.location))


@dataclass(frozen=True)
class ParseProblem:
    location: Location
    message: str
    hint: str | None = ""

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" + (f" ({self.hint})" if self.hint else "")


@dataclass(frozen=True)
class SkippedFile:
    """A file a directory walk found that holds no prompts (e.g. a config JSON), or a part of one
    that is deliberately not scored (a promptfoo reference to code, an image); not an error.
    ``reason`` is a short category (the summary counts by it), ``detail`` says what exactly."""

    path: Path
    reason: str
    line: int = 0
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


Parsed = LintPrompt | ParseProblem | SkippedFile
