"""``evalrefine verify ORIGINAL REFINED --rollouts K``: check a refinement where it matters, in
sampled chains of thought (rollout monitor and verbalization), not only at the start of the CoT."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from evalrefine.backends.factories import judge_for
from evalrefine.cli.common import (
    build_settings,
    err_console,
    open_cli_session,
    read_prompt,
)
from evalrefine.cli.options import Flags, shared_flags
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.rollouts.verify import VerifyReport
from evalrefine.core.session import Session
from evalrefine.errors import InputError
from evalrefine.render.verify import verify_view


@shared_flags(omit=("reference",), rollouts=True)
def verify_command(
    original: Annotated[str, typer.Argument(help="The original prompt file.")],
    refined: Annotated[str, typer.Argument(help="The refined prompt file.")],
    *,
    flags: Flags,
) -> None:
    """Sample rollouts of both prompts and test whether the refined one lowers the rollout monitor
    and verbalized eval awareness (95% bootstrap intervals), not only the start-of-CoT score.
    K defaults to 8 when neither --rollouts nor the rollouts.count setting gives one."""
    settings = build_settings(flags)
    if flags.rollouts is None and settings.rollouts.count == 0:
        settings = settings.model_copy(update={"rollouts": settings.rollouts.model_copy(update={"count": 8})})
    if settings.rollouts.count < 1:
        raise InputError("verify needs rollouts", "give --rollouts K with K >= 1")
    a, b = read_prompt(original, flags.system), read_prompt(refined, flags.system)
    judge_for(settings)  # a bad --judge fails before the model loads
    report = run_verify(open_cli_session(settings, quiet=flags.as_json), a, b, quiet=flags.as_json)
    if flags.as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        render_verify(report, Console())


def run_verify(session: Session, a: Conversation, b: Conversation, quiet: bool = False) -> VerifyReport:
    """``verify`` with the ``[rollouts]`` settings and a progress bar (also refine's final check)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from evalrefine.core.rollouts.verify import VerifyProgress

    rs = session.settings.rollouts
    steps = session.verify(a, b)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, disable=quiet, transient=True) as progress:
        task = progress.add_task(f"sampling {rs.count} rollouts of each prompt", total=2 * rs.count)
        for step in steps:
            if isinstance(step, VerifyProgress):
                progress.update(task, description=f"{step.arm}: rollout {step.done}/{step.total}")
                progress.advance(task)
            else:
                return step
    raise AssertionError("verify ended without a report")


def render_verify(report: VerifyReport, console: Console) -> None:
    console.print(verify_view(report))
