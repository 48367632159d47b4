"""``evalrefine compare``: variants of a prompt side by side, with the edits that moved the score.

A variant is a prompt file (as for ``score``), or ``FILE::ID`` / ``FILE::LINE`` for one record of a
dataset file; a single dataset file compares all its records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evalrefine.cli.common import (
    TargetOpt,
    build_settings,
    open_cli_session,
    read_prompt,
)
from evalrefine.cli.options import Flags, shared_flags
from evalrefine.core.io.conversation import Conversation, apply_system
from evalrefine.core.lint.formats import parse_file
from evalrefine.core.lint.sources import LintPrompt
from evalrefine.errors import InputError
from evalrefine.render.compare import comparison_view


def _records(path: Path) -> list[LintPrompt]:
    parsed = parse_file(path)
    problem = next((p for p in parsed if not isinstance(p, LintPrompt)), None)
    if problem is not None:
        raise InputError(str(problem))
    return [p for p in parsed if isinstance(p, LintPrompt)]


def load_variants(args: list[str], system: str | None = None) -> list[tuple[str, Conversation]]:
    """``(name, conversation)`` for each argument (see the module docstring), ``system`` put first."""
    if len(args) == 1 and Path(args[0]).suffix.lower() in (".jsonl", ".csv", ".yaml", ".yml", ".json"):
        return [
            (f"{p.location}", apply_system(p.conversation, system, str(p.location))) for p in _records(Path(args[0]))
        ]
    out = []
    for arg in args:
        file, sep, key = arg.partition("::")
        if not sep:
            out.append((arg, read_prompt(arg, system)))
            continue
        records = _records(Path(file))
        match = [p for p in records if p.record_id == key or str(p.location.line) == key]
        if not match:
            ids = ", ".join(p.record_id for p in records[:5])
            raise InputError(f"{file}: no record {key!r}", f"give an id or a line number (ids: {ids}, …)")
        out.append((arg, apply_system(match[0].conversation, system, arg)))
    return out


@shared_flags()
def compare_command(
    variants: Annotated[list[str], typer.Argument(help="Prompt files, FILE::ID records, or one dataset file.")],
    target: TargetOpt = None,
    *,
    flags: Flags,
) -> None:
    """Score variants side by side: percentiles, verdicts, per-sentence log P, and each edit's effect."""
    settings = build_settings(flags, target)
    loaded = load_variants(variants, flags.system)
    result = open_cli_session(settings, quiet=flags.as_json).compare(loaded)
    if flags.as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        return
    Console().print(comparison_view(result, settings.monitor.sentences))
