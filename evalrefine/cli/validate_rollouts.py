"""``validate --rollouts K``: sample rollouts of every prompt with a progress bar, then AUROC against
K for the rollout and verbalization monitors, as a table, a terminal chart and optionally a PNG.

Ctrl-C stops sampling and still reports the curve of the prompts done so far (eval and deployment
prompts alternate, so an early stop keeps both classes)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from itertools import chain, zip_longest
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evalrefine.backends.factories import sampler_for
from evalrefine.cli.common import err_console
from evalrefine.config import Settings
from evalrefine.core.attribution.target import AnyTarget
from evalrefine.core.io.prompt_sets import PromptRecord
from evalrefine.core.rollouts.validation import KPoint, PromptRollouts, auroc_by_k, k_values, sample_prompts
from evalrefine.core.rollouts.verbalization import VerbalizationJudge
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import InputError


def rollout_curve(
    monitor: StartOfCotMonitor,
    evals: Sequence[PromptRecord],
    deploys: Sequence[PromptRecord],
    settings: Settings,
    judge: VerbalizationJudge,
    png: Path | None,
    quiet: bool,
) -> list[KPoint]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    rs = settings.rollouts
    pairs = zip_longest([(r.conversation, True) for r in evals], [(r.conversation, False) for r in deploys])
    prompts = [p for p in chain.from_iterable(pairs) if p is not None]
    sampler = sampler_for(monitor.backend, rs)
    target = AnyTarget(tuple(settings.monitor.sentences))
    done: list[PromptRollouts] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    cancel = threading.Event()
    events = sample_prompts(
        monitor, prompts, sampler, target, judge, rs.count, rs.seed, rs.max_new_tokens, cancel=cancel
    )
    try:
        with Progress(*columns, console=err_console, disable=quiet) as progress:
            task = progress.add_task(f"{rs.count} rollouts per prompt", total=len(prompts))
            for result in events:
                done.append(result)
                progress.advance(task)
    except KeyboardInterrupt:
        cancel.set()
        err_console.print(f"interrupted: the curve below uses the {len(done)} of {len(prompts)} prompts sampled")
    try:
        points = auroc_by_k(done, k_values(rs.count), seed=rs.seed)
    except ValueError as exc:
        raise InputError(f"cannot draw AUROC against K: {exc}", "let more prompts be sampled") from None
    if png is not None:
        from evalrefine.render.plots import auroc_by_k_png

        title = f"{monitor.backend.name}: {len(done)} prompts, ≤ {rs.max_new_tokens} tokens per rollout"
        auroc_by_k_png(points, png, title)
    return points


def render_curve(points: Sequence[KPoint], settings: Settings) -> None:
    from evalrefine.render.plots import auroc_by_k_terminal

    rs = settings.rollouts
    console = Console()
    table = Table(
        title=f"AUROC against rollouts (seed {rs.seed}, ≤ {rs.max_new_tokens} tokens each; judge: {rs.judge})",
        title_justify="left",
    )
    for col in ("K", "rollout monitor", "verbalization", "verbalizing eval/deploy", "fwd tokens"):
        table.add_column(col, justify="right")
    for p in points:
        v = p.verbalization
        table.add_row(
            str(p.k),
            f"{p.monitor.auroc:.3f} ({p.monitor.ci[0]:.2f}–{p.monitor.ci[1]:.2f})",
            f"{v.auroc:.3f} ({v.ci[0]:.2f}–{v.ci[1]:.2f})" if v else "—",
            f"{p.verbalizing_eval:.0%}/{p.verbalizing_deploy:.0%}" if p.k else "—",
            f"{p.monitor_cost:.0f} / {p.verbalization_cost:.0f}" if p.k else f"{p.monitor_cost:.0f}",
        )
    console.print(table)
    console.print(
        "AUROC with 95% CI; fwd tokens: forward-token equivalents per prompt, rollout monitor / verbalization "
        "(the judge's own tokens not included)"
    )
    console.print(auroc_by_k_terminal(points))
