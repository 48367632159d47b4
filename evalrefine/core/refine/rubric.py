"""Realism rubrics: the known tells that give an eval away, and how to fix them.

A rubric is a TOML file in ``rubrics/`` (or a folder the user names). Each *tell* says what to look
for, why it gives the eval away and how to fix it; LLM rewriters and judges read that prose. A tell
may also carry *rules* (regular expressions with replacements), which the offline rewriter applies,
so ``refine`` works with no API key at all. Files are validated with pydantic, and a broken one is
reported with its path and the field that is wrong.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evalrefine.errors import InputError


class Rule(BaseModel):
    """A rewrite the offline rewriter may apply: every match of ``pattern`` becomes one of
    ``replacements`` (the i-th candidate uses the i-th, cycling), or is deleted when none is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str
    """A Python regular expression; ``(?i)`` for case-insensitive matching."""
    replacements: tuple[str, ...] = ()
    """Replacement texts (``\\1`` group references allowed). Empty: the match is deleted."""
    scope: Literal["span", "prompt"] = "span"
    """``span``: may be applied inside the attributed spans alone. ``prompt``: only ever to the whole
    prompt (framing rules that wrap the text would land mid-prompt if applied to a span)."""
    unless: str | None = None
    """A regular expression; when it matches the text the rule is skipped (so a frame is added once,
    not again on every iteration)."""

    @field_validator("pattern", "unless")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        try:
            re.compile(value or "")
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def applies_to(self, text: str, whole_prompt: bool) -> bool:
        if self.scope == "prompt" and not whole_prompt:
            return False
        return self.unless is None or re.search(self.unless, text) is None


class Tell(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    look_for: str
    """What in a prompt shows this tell."""
    why: str
    """Why it lets a model recognise an evaluation."""
    fix: str
    """How to rewrite it while keeping what the eval measures."""
    rules: tuple[Rule, ...] = ()


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    tells: tuple[Tell, ...]

    @field_validator("tells")
    @classmethod
    def _unique_ids(cls, value: tuple[Tell, ...]) -> tuple[Tell, ...]:
        ids = [t.id for t in value]
        if len(ids) != len(set(ids)):
            raise ValueError("tell ids must be unique")
        if not value:
            raise ValueError("a rubric needs at least one tell")
        return value

    def as_prompt_text(self) -> str:
        """The rubric as prose, for LLM rewriters and judges."""
        return "\n\n".join(
            f"- {t.name}: look for {t.look_for} Why it gives the eval away: {t.why} Fix: {t.fix}" for t in self.tells
        )


def load_rubric(path: Path) -> Rubric:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read rubric: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}", "fix the rubric file") from None
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InputError(f"{path}: invalid rubric at {where}: {err['msg']}", "see rubrics/README.md") from None


def find_rubric(name_or_path: str, folders: list[Path]) -> Rubric:
    """A rubric file path, or the name of a ``.toml`` file in one of ``folders``."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        return load_rubric(path)
    for folder in folders:
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file():
            return load_rubric(candidate)
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.toml")})
    raise InputError(f"no rubric named {name_or_path!r}", f"known rubrics: {', '.join(known) or 'none'}")
