"""``evalrefine`` commands. Each one loads settings, drives core functions and renders the result.

Every :class:`~evalrefine.errors.EvalRefineError` becomes one line on stderr and exit status 2;
usage errors are typer's (also status 2); Ctrl-C exits 130 after keeping finished work.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from evalrefine.backends.factories import judge_for
from evalrefine.cli import compare_cmd, explain_cmd, lint_cmd, reference_cmd, refine_cmd, validate_cmd, verify_cmd
from evalrefine.cli.common import (
    TargetOpt,
    build_settings,
    err_console,
    front_end,
    open_cli_session,
    read_prompt,
)
from evalrefine.cli.help_text import ORDER, epilog, hide_flag_types, workflow_group
from evalrefine.cli.options import Flags, shared_flags
from evalrefine.core.rollouts.verbalization import Verdict, verbalization_rate
from evalrefine.core.rollouts.verify import Arm
from evalrefine.errors import EvalRefineError

if TYPE_CHECKING:
    from evalrefine.core.calibration.placement import Placement

app = typer.Typer(
    name="evalrefine",
    help="Score, explain and refine eval prompts so models can't tell them from real traffic.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=workflow_group(),
)


def trust_line(placement: Placement, trust: object) -> str:
    """How far the headline can be trusted: its held-out AUROC, and the percentile's interval."""
    ci = f"percentile 95% CI {placement.percentile_ci[0]:.0f}–{placement.percentile_ci[1]:.0f} (n={placement.n_deploy})"
    if not isinstance(trust, dict) or "auroc" not in trust:
        return f"{ci}; the reference records no held-out AUROC for its headline"
    worst = f", worst dataset {trust['worst_dataset_auroc']:.2f}" if "worst_dataset_auroc" in trust else ""
    return f"{ci}; headline AUROC {trust['auroc']:.2f} {trust.get('selected_by', 'held out')}{worst}"


@shared_flags(rollouts=True)
def score(
    file: Annotated[
        str, typer.Argument(help="Prompt file (.txt/.md = the user turn; .json/.jsonl = chat messages) or - for stdin.")
    ],
    target: TargetOpt = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="Show the per-token breakdown.")] = False,
    *,
    flags: Flags,
) -> None:
    """Probability that the model starts its reasoning with each eval-aware sentence, placed against
    deployment traffic."""
    settings = build_settings(flags, target)
    rs = settings.rollouts
    conversation = read_prompt(file, flags.system)
    verbal = judge_for(settings) if rs.count > 0 else None  # a bad --judge fails before the model loads
    session = open_cli_session(settings, quiet=flags.as_json)
    ref = session.reference
    view = session.score(conversation)
    result, placement = view.result, view.placement
    shown = set(session.shown)
    rollout = None
    verdicts: list[Verdict] = []
    if rs.count > 0:
        from evalrefine.core.rollouts.monitor import rollout_score

        with err_console.status(f"sampling {rs.count} rollouts…"):
            sampler = session.services.sampler(session.backend)
            rollout = rollout_score(
                session.monitor, conversation, sampler, session.rollout_target(), rs.count, rs.seed, rs.max_new_tokens
            )
            assert verbal is not None
            verdicts = [verbal.judge(conversation.messages[-1].content, r.text) for r in rollout.rollouts]
    if flags.as_json:
        data = result.as_dict()
        data["sentences"] = [
            {**s, "percentile": placement.percentiles.get(str(s["sentence"])) if placement else None}
            for s in data["sentences"]  # type: ignore[attr-defined]
            if s["sentence"] in shown
        ]
        if rollout is not None:
            data["rollout_monitor"] = {
                "rollouts": rs.count,
                "seed": rs.seed,
                "value": rollout.value,
                "start": rollout.start,
                "peaks": [r.peak for r in rollout.rollouts],
                "judge": verbal.name if verbal else None,
                "verbalizes": [v.verbalizes for v in verdicts],
                "verbalization_rate": verbalization_rate(verdicts),
                "per_rollout": Arm("prompt", rollout, tuple(verdicts)).as_dict()["rollouts"],
            }
        if placement and ref:
            data.update(placement.as_dict())
            data["headline_trust"] = ref.provenance.get("headline")
        else:
            data.update({"percentile": None, "joint": {"method": "any", "score": view.value, "percentile": None}})
        data["headline"] = {"target": session.target.name, "units": session.target.units, "value": view.value}
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    from evalrefine.render.scores import placement_panel, score_table

    console = Console()
    console.print(score_table(result, shown, placement, show_tokens=tokens))
    if placement and ref:
        console.print(placement_panel(placement, ref))
        console.print(trust_line(placement, ref.provenance.get("headline")))
    if rollout is not None:
        peaks = ", ".join(f"{r.peak:.2f}" for r in rollout.rollouts)
        console.print(
            f"rollout monitor, log P(any eval-aware sentence), max over {rs.count} rollouts and their sentence "
            f"boundaries: [bold]{rollout.value:.2f}[/] (start of CoT {rollout.start:.2f}; per rollout: {peaks})"
        )
        from evalrefine.render.plots import rollout_positions_terminal

        console.print(rollout_positions_terminal(rollout))
        said = [v for v in verdicts if v.verbalizes]
        console.print(
            f"verbalization ({verbal.name if verbal else ''}): {len(said)} of {len(verdicts)} rollouts say it is a test"
            + (f', e.g. "{said[0].evidence}"' if said and said[0].evidence else "")
        )
    elif not ref:
        err_console.print(
            "no deployment reference matches this model: build one with `evalrefine reference build --deploy FILE`"
        )


@shared_flags(formats=None)
def tui(
    file: Annotated[str | None, typer.Argument(help="Prompt file to open (created on save if missing).")] = None,
    target: TargetOpt = None,
    *,
    flags: Flags,
) -> None:
    """Open the terminal app: edit a prompt and watch its eval-awareness score respond."""
    from pathlib import Path

    settings = build_settings(flags, target)
    path = Path(file) if file else None
    # The app reads the file before its screen opens (a chat file, or any file lint reads: an Inspect
    # log, dataset records), so a broken one is still a one-line error here, not inside the app.
    front_end("tui")(settings, path, flags.system)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"evalrefine {version('evalrefine')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Let libraries show their own progress bars and warnings.")
    ] = False,
) -> None:
    """Score, explain and refine eval prompts so models can't tell them from real traffic."""
    if not verbose:  # tqdm bars from transformers, hub downloads and sentence-transformers clutter CI logs
        import os

        for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE", "TRANSFORMERS_VERBOSITY"):
            os.environ.setdefault(name, "error" if name == "TRANSFORMERS_VERBOSITY" else "1")


_COMMANDS: dict[str, Callable[..., None]] = {
    "score": score,
    "explain": explain_cmd.explain_command,
    "refine": refine_cmd.refine_command,
    "compare": compare_cmd.compare_command,
    "lint": lint_cmd.lint_command,
    "validate": validate_cmd.validate_command,
    "verify": verify_cmd.verify_command,
    "tui": tui,
}
hide_flag_types()
for _name in ORDER:
    if _name == "reference":
        app.add_typer(reference_cmd.app, name="reference")
    else:
        app.command(_name, epilog=epilog(_name))(_COMMANDS[_name])


class _RedactingStream:
    """stdout/stderr through :func:`evalrefine.redact.redact`: whatever any command, library or
    progress bar prints, no key and no URL password reaches the terminal or a CI log."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        from evalrefine.redact import redact

        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding… of the real stream
        return getattr(self._stream, name)


def main() -> None:
    """Console entry point: known errors become one line on stderr and exit status 2."""
    sys.stdout, sys.stderr = _RedactingStream(sys.stdout), _RedactingStream(sys.stderr)  # type: ignore[assignment]
    try:
        app()
    except EvalRefineError as exc:
        from rich.text import Text

        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
