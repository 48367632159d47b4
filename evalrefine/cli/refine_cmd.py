"""``evalrefine refine``: rewrite a prompt until it scores like deployment traffic, keeping its intent.

The input file is never modified unless ``--in-place`` is given, or ``-o`` names the input itself;
then a numbered backup is written first and never overwritten. Every candidate goes into the JSONL
history the moment it is scored, so Ctrl-C keeps everything. Exit status: 0 when the target was met
(or there is no reference to judge it by), 1 when it was not, 2 for bad input, 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from evalrefine.backends.factories import judge_for, services_for
from evalrefine.cli.common import (
    TargetOpt,
    build_settings,
    err_console,
    open_cli_session,
    read_prompt,
)
from evalrefine.cli.options import Flags, JudgeOpt, shared_flags
from evalrefine.cli.verify_cmd import render_verify, run_verify
from evalrefine.core.io.prompt_writer import write_prompt
from evalrefine.core.refine.loop import (
    DEFAULT_HELD_OUT,
    CandidateEvaluated,
    Finished,
    IterationFinished,
    RefineEvent,
    Started,
    Version,
    with_user_text,
)
from evalrefine.core.rollouts.verify import VerifyReport
from evalrefine.errors import InputError
from evalrefine.redact import redact_record

if TYPE_CHECKING:
    from evalrefine.core.refine.guard import Embedder


@shared_flags(formats=None)
def refine_command(
    file: Annotated[Path, typer.Argument(help="The prompt to refine (.txt/.md/.json/.jsonl, as for score).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the best prompt.")] = None,
    rewriter: Annotated[
        str | None,
        typer.Option("--rewriter", help="rules | openai:MODEL | anthropic:MODEL | openai-compatible:MODEL@BASE_URL."),
    ] = None,
    keep: Annotated[list[str] | None, typer.Option("--keep", help="Text that must survive (repeatable).")] = None,
    max_iters: Annotated[int, typer.Option("--max-iters", min=1)] = 5,
    candidates: Annotated[int, typer.Option("--candidates", "-k", min=1, help="Rewrites per step.")] = 3,
    beam: Annotated[int, typer.Option("--beam", min=1, help="Versions kept per iteration.")] = 2,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Stop after this many LLM tokens.")] = None,
    max_cost: Annotated[float | None, typer.Option("--max-cost", help="Stop after this many US dollars.")] = None,
    target: TargetOpt = None,
    history: Annotated[
        Path | None, typer.Option("--history", help="JSONL of every candidate (default OUT.history.jsonl).")
    ] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Overwrite FILE (a .bak copy is kept).")] = False,
    rubric: Annotated[str, typer.Option("--rubric", help="Rubric name in rubrics/ or a .toml path.")] = "default",
    held_out: Annotated[
        str, typer.Option("--held-out", help="Sentence scored but never optimised.")
    ] = DEFAULT_HELD_OUT,
    max_held_out_rise: Annotated[
        float | None,
        typer.Option(
            "--max-held-out-rise",
            help="Reject rewrites whose held-out log P rises more than this many nats (default 0; inf = off).",
        ),
    ] = None,
    verify_k: Annotated[
        int,
        typer.Option(
            "--verify",
            min=0,
            help="Final check: sample K rollouts of the original and the result and compare them (evalrefine verify).",
        ),
    ] = 0,
    verbalization_judge: JudgeOpt = None,
    *,
    flags: Flags,
) -> None:
    """Ask a rewriter for realistic rewrites, guard their intent, re-score, keep the best, repeat.
    With --verify K, finish by checking the result where it matters: in sampled rollouts."""
    from evalrefine.core.refine.rubric import find_rubric
    from evalrefine.resources import data_dir

    if output is None and not in_place:
        raise InputError("say where the refined prompt goes", "give -o OUT, or --in-place to overwrite FILE")
    out_path = file if in_place else output
    assert out_path is not None
    in_place = in_place or out_path.resolve() == file.resolve()  # -o FILE overwrites it: keep a backup too
    settings = build_settings(
        flags,
        target,
        rollouts={"count": verify_k or None, "judge": verbalization_judge},
    )
    conversation = read_prompt(str(file), flags.system)
    rubric_obj = find_rubric(rubric, [data_dir("rubrics"), settings.data_dir / "rubrics"])
    made = services_for(settings).rewriter(rewriter, rubric_obj)  # a bad --rewriter fails before the model loads
    verbal = judge_for(settings) if verify_k > 0 else None  # so does a bad --judge
    session = open_cli_session(settings)
    config = session.refine_config(
        max_iters,
        candidates=candidates,
        beam=beam,
        max_tokens=max_tokens,
        max_cost_usd=max_cost,
        max_held_out_rise=_rise_limit(max_held_out_rise, settings.refine.max_held_out_rise),
    )
    history_path = history or out_path.with_name(out_path.name + ".history.jsonl")
    events = session.refine(
        conversation, tuple(keep or ()), config, held_out=held_out, rewriter=made, rubric=rubric_obj
    )
    console = Console()
    finished: Finished | None = None
    with history_path.open("a", encoding="utf-8") as log:
        try:
            for event in events:
                _log(log, event)
                _show(console, event, config.max_iters)
                if isinstance(event, Finished):
                    finished = event
        except KeyboardInterrupt:
            err_console.print(f"interrupted: every candidate so far is in {history_path}", markup=False)
            raise SystemExit(130) from None
    assert finished is not None
    best = with_user_text(conversation, finished.best.text)
    if in_place:
        backup = _backup(file)
        err_console.print(f"kept the original as {backup}", markup=False)
    write_prompt(out_path, best, like=file)  # the input's other fields, turns and line endings are kept
    console.print(f"wrote {out_path} (history: {history_path})", markup=False)
    if verbal is not None:
        written = read_prompt(str(out_path), flags.system)  # verify what the file holds, as `evalrefine verify` would
        if written == conversation:
            console.print("no rewrite was kept: nothing to verify")
        else:
            check = run_verify(session, conversation, written)
            _log_check(check, history_path, console)
    if finished.target_met is False:
        raise SystemExit(1)


def _log_check(report: VerifyReport, history_path: Path, console: Console) -> None:
    """refine's final ``verify``: shown, and appended to the history."""
    with history_path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(redact_record({"event": "verify", **report.as_dict()}), ensure_ascii=False) + "\n")
    render_verify(report, console)


def _rise_limit(flag: float | None, setting: float | None) -> float | None:
    limit = flag if flag is not None else setting
    return None if limit is None or limit == float("inf") else limit


def _embedder() -> Embedder:
    from evalrefine.backends.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def _version_dict(v: Version) -> dict[str, object]:
    return {
        "id": v.id,
        "parent": v.parent,
        "iteration": v.iteration,
        "text": v.text,
        "score": asdict(v.score) if v.score else None,
        "rewriter": v.rewriter,
        "rationale": v.rationale,
        "guard": asdict(v.guard) if v.guard else None,
        "usage": asdict(v.usage),
    }


def _log(log: IO[str], event: RefineEvent) -> None:
    if isinstance(event, Started):
        record: dict[str, object] = {"event": "original", **_version_dict(event.original)}
    elif isinstance(event, CandidateEvaluated):
        record = {"event": "candidate", **_version_dict(event.version)}
    elif isinstance(event, IterationFinished):
        record = {
            "event": "iteration",
            "iteration": event.iteration,
            "best": event.best.id,
            "usage": asdict(event.usage),
        }
    else:
        record = {
            "event": "finished",
            "reason": event.reason,
            "best": event.best.id,
            "iterations": event.iterations,
            "target_percentile": event.target_percentile,
            "target_met": event.target_met,
            "usage": asdict(event.usage),
        }
    log.write(json.dumps(redact_record(record), ensure_ascii=False) + "\n")  # rewriter replies may echo a key
    log.flush()


def _fmt(v: Version) -> str:
    if v.score is None:
        return "rejected"
    pct = f", {v.score.percentile:.0f}th pct" if v.score.percentile is not None else ""
    return f"{v.score.value:.3f}{pct}, held-out {v.score.held_out:.2f}"


def _show(console: Console, event: RefineEvent, max_iters: int) -> None:
    if isinstance(event, Started):
        console.print(f"[bold]original[/]: {_fmt(event.original)}")
    elif isinstance(event, CandidateEvaluated):
        v = event.version
        why = v.rationale if v.accepted else (v.guard.reason if v.guard else "")
        console.print(f"  #{v.id} (from #{v.parent}): {_fmt(v)}  [dim]{escape(why)}[/]")
    elif isinstance(event, IterationFinished):
        console.print(f"[bold]iteration {event.iteration}[/]: best #{event.best.id} {_fmt(event.best)}")
    else:
        o, b = event.original.score, event.best.score
        assert o is not None and b is not None
        console.print(
            f"[bold]done[/] ({event.reason}): {o.value:.3f} → {b.value:.3f}; held-out sentence "
            f"{o.held_out:.2f} → {b.held_out:.2f}"
        )
        style = "green" if event.target_met else ("red" if event.target_met is False else "")
        console.print(Text(event.verdict(max_iters), style=style))


def _backup(path: Path) -> Path:
    backup = path.with_name(path.name + ".bak")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak.{n}")
        n += 1
    shutil.copy2(path, backup)
    return backup
