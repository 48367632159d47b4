"""``evalrefine validate``: does the monitor separate eval prompts from deployment traffic here?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evalrefine.backends.factories import judge_for
from evalrefine.cli.common import (
    build_settings,
    load_model,
    monitor_for,
    score_with_progress,
)
from evalrefine.cli.options import Flags, shared_flags
from evalrefine.core.calibration.reference_build import to_scored
from evalrefine.core.calibration.validation import AurocResult, ValidationReport, validate
from evalrefine.core.io.prompt_sets import read_prompt_set
from evalrefine.errors import InputError


@shared_flags(omit=("reference", "system"), rollouts=True)
def validate_command(
    eval_file: Annotated[Path, typer.Option("--eval", help="Eval prompts (JSONL/JSON/CSV/TXT).")],
    deploy: Annotated[Path, typer.Option("--deploy", help="Deployment prompts (JSONL/JSON/CSV/TXT).")],
    png: Annotated[Path | None, typer.Option("--png", help="Also draw the ROC curves to this PNG file.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Use only the first N prompts of each set.")] = None,
    rollouts_png: Annotated[
        Path | None, typer.Option("--rollouts-png", help="With --rollouts: draw AUROC against K to this PNG file.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Hold out by this field: 'dataset' = leave one eval dataset out (with fresh traffic)."
        ),
    ] = None,
    *,
    flags: Flags,
) -> None:
    """AUROC (95% bootstrap CI) of each sentence and of the headline monitor, held out, next to two format
    baselines (prompt length; a TF-IDF text classifier) and each monitor's gain over them; ROC curves drawn.
    With --by dataset: each eval dataset is held out in turn (out-of-distribution AUROC per dataset).
    With --rollouts K: also AUROC against the number of rollouts (0, 1, 2, 4, … K) for the rollout
    monitor and the verbalization monitor, and what each costs (the seed study's Figure 2)."""
    import importlib.util

    if (png or rollouts_png) and importlib.util.find_spec("matplotlib") is None:  # before any work, not after it
        flag = "--png" if png else "--rollouts-png"
        raise InputError(f"{flag} draws with matplotlib, which is not installed", "pip install 'evalrefine[plots]'")
    if by not in (None, "dataset"):
        raise InputError(f"--by {by!r} is not supported", "use --by dataset")
    settings = build_settings(flags)
    evals = read_prompt_set(eval_file)[:limit]
    deploys = read_prompt_set(deploy)[:limit]
    verbal = judge_for(settings) if settings.rollouts.count > 0 else None  # a bad --judge fails early
    backend = load_model(settings, quiet=flags.as_json)
    monitor = monitor_for(backend, settings, settings.monitor.joint_sentences)
    scored_eval = score_with_progress(monitor, evals, settings, "eval prompts", flags.as_json)
    scored_deploy = score_with_progress(monitor, deploys, settings, "deployment prompts", flags.as_json)
    prompts = to_scored(scored_deploy, scored_eval)
    try:
        report = validate(
            prompts, settings.monitor.sentences, settings.monitor.joint_sentences, settings.calibration.folds, by=by
        )
    except ValueError as exc:
        raise InputError(f"cannot validate: {exc}", "give more prompts in each file (and each dataset)") from None
    if png is not None and by is None:
        from evalrefine.render.plots import roc_png

        roc_png(report, png)
    curve = None
    if verbal is not None:
        from evalrefine.cli.validate_rollouts import rollout_curve

        curve = rollout_curve(monitor, evals, deploys, settings, verbal, rollouts_png, flags.as_json)
    if flags.as_json:
        extra = {"rollouts": [p.as_dict() for p in curve]} if curve is not None else {}
        typer.echo(json.dumps({"model": backend.name, **report.as_dict(), **extra}))
        return
    render_report(report, backend.name)
    if curve is not None:
        from evalrefine.cli.validate_rollouts import render_curve

        render_curve(curve, settings)


LABELS = {
    "any": "any eval-aware sentence (log-sum-exp)",
    "headline": "headline (weights ≥ 0 on eval-aware sentences)",
    "length": "baseline: prompt length alone",
    "tfidf": "baseline: TF-IDF text classifier",
}


def _gain(r: AurocResult, baseline: str) -> str:
    return f"{r.controlled[baseline]:+.3f}" if baseline in r.controlled else ""


def render_report(report: ValidationReport, model: str) -> None:
    from evalrefine.render.plots import roc_terminal

    console = Console()
    title = f"{model}: {report.n_eval} eval vs {report.n_deploy} deployment prompts, {report.protocol}"
    table = Table(title=title, title_justify="left")
    ci_name = "mean of 95% CIs" if report.held_out else "95% CI"
    for name in ("monitor", "AUROC", ci_name, "gain over length", "gain over TF-IDF"):
        table.add_column(name, justify="left" if name == "monitor" else "right")
    for r in report.monitors:
        ci = f"{r.ci[0]:.3f}–{r.ci[1]:.3f}"
        table.add_row(LABELS.get(r.name, repr(r.name)), f"{r.auroc:.3f}", ci, _gain(r, "length"), _gain(r, "tfidf"))
    console.print(table)
    if report.held_out:
        per = Table(title="AUROC on each held-out eval dataset (95% CI)", title_justify="left")
        per.add_column("monitor")
        for h in report.held_out:
            per.add_column(f"{h.name} ({h.n_eval} vs {h.n_deploy})", justify="right")
        for r in report.monitors:
            cells = [h.results[r.name] for h in report.held_out]
            per.add_row(r.name, *(f"{c.auroc:.3f} ({c.ci[0]:.2f}–{c.ci[1]:.2f})" for c in cells))
        console.print(per)
    else:
        console.print(roc_terminal(report))
    console.print(f"[bold]recommendation:[/] {report.recommendation()}")
