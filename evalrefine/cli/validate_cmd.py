"""``evalrefine validate``: does the monitor separate eval prompts from deployment traffic here?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from evalrefine.cli.common import (
    DeviceOpt,
    JsonOpt,
    ModelOpt,
    OpenerOpt,
    SentenceOpt,
    ServerOpt,
    TokenizerOpt,
    build_settings,
    load_model,
    monitor_for,
    score_with_progress,
)
from evalrefine.cli.rollout_opts import JudgeOpt, MaxTokensOpt, RolloutsOpt, SeedOpt, judge_for, rollout_flags
from evalrefine.core.prompt_sets import read_prompt_set
from evalrefine.core.validation import Scored, ValidationReport, validate
from evalrefine.errors import InputError


def validate_command(
    eval_file: Annotated[Path, typer.Option("--eval", help="Eval prompts (JSONL/JSON/CSV/TXT).")],
    deploy: Annotated[Path, typer.Option("--deploy", help="Deployment prompts (JSONL/JSON/CSV/TXT).")],
    sentence: SentenceOpt = None,
    model: ModelOpt = None,
    cot_opener: OpenerOpt = None,
    device: DeviceOpt = None,
    server: ServerOpt = None,
    tokenizer: TokenizerOpt = None,
    png: Annotated[Path | None, typer.Option("--png", help="Also draw the ROC curves to this PNG file.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Use only the first N prompts of each set.")] = None,
    rollouts: RolloutsOpt = None,
    seed: SeedOpt = None,
    max_new_tokens: MaxTokensOpt = None,
    judge: JudgeOpt = None,
    rollouts_png: Annotated[
        Path | None, typer.Option("--rollouts-png", help="With --rollouts: draw AUROC against K to this PNG file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """AUROC (95% bootstrap CI) of each sentence and of the joint monitor, with the ROC curves drawn.
    With --rollouts K: also AUROC against the number of rollouts (0, 1, 2, 4, … K) for the rollout
    monitor and the verbalization monitor, and what each costs (the seed study's Figure 2)."""
    flags = rollout_flags(rollouts, seed, max_new_tokens, judge)
    settings = build_settings(model, sentence, cot_opener, device, server=server, tokenizer=tokenizer, rollouts=flags)
    evals = read_prompt_set(eval_file)[:limit]
    deploys = read_prompt_set(deploy)[:limit]
    verbal = judge_for(settings) if settings.rollouts.count > 0 else None  # a bad --judge fails early
    backend = load_model(settings, quiet=as_json)
    monitor = monitor_for(backend, settings, settings.monitor.joint_sentences)
    scored_eval = score_with_progress(monitor, evals, settings, "eval prompts", as_json)
    scored_deploy = score_with_progress(monitor, deploys, settings, "deployment prompts", as_json)
    prompts = [Scored(p.logprobs, p.prompt_tokens, True, p.record.dataset) for p in scored_eval] + [
        Scored(p.logprobs, p.prompt_tokens, False, p.record.dataset) for p in scored_deploy
    ]
    try:
        report = validate(
            prompts, settings.monitor.sentences, settings.monitor.joint_sentences, settings.calibration.folds
        )
    except ValueError as exc:
        raise InputError(f"cannot validate: {exc}", "give more prompts in each file") from None
    if png is not None:
        from evalrefine.cli.plots import roc_png

        roc_png(report, png)
    curve = None
    if verbal is not None:
        from evalrefine.cli.validate_rollouts import rollout_curve

        curve = rollout_curve(monitor, evals, deploys, settings, verbal, rollouts_png, as_json)
    if as_json:
        extra = {"rollouts": [p.as_dict() for p in curve]} if curve is not None else {}
        typer.echo(json.dumps({"model": backend.name, **report.as_dict(), **extra}))
        return
    render_report(report, backend.name)
    if curve is not None:
        from evalrefine.cli.validate_rollouts import render_curve

        render_curve(curve, settings)


def render_report(report: ValidationReport, model: str) -> None:
    from evalrefine.cli.plots import roc_terminal

    console = Console()
    table = Table(title=f"{model}: {report.n_eval} eval vs {report.n_deploy} deployment prompts", title_justify="left")
    table.add_column("monitor")
    table.add_column("AUROC", justify="right")
    table.add_column("95% CI", justify="right")
    rows = [*report.sentences, report.any_sentence, report.logistic, report.length_only]
    labels = {
        "any": "joint: any sentence (log-sum-exp)",
        "logistic": f"joint: logistic, {report.folds}-fold held out",
        "length_only": "baseline: prompt length only",
    }
    for r in rows:
        table.add_row(labels.get(r.name, repr(r.name)), f"{r.auroc:.3f}", f"{r.ci[0]:.3f}–{r.ci[1]:.3f}")
    console.print(table)
    console.print(roc_terminal(report))
    console.print(f"[bold]recommendation:[/] {report.recommendation()}")
