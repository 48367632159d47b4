"""``evalrefine verify ORIGINAL REFINED --rollouts K``: check a refinement where it matters, in
sampled chains of thought (rollout monitor and verbalization), not only at the start of the CoT."""

from __future__ import annotations

import json
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
    build_settings,
    err_console,
    load_model,
    monitor_for,
    read_prompt,
)
from evalrefine.errors import InputError

RolloutsOpt = Annotated[int, typer.Option("--rollouts", min=0, help="Chains of thought to sample per prompt.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Sampling seed (same seed, same rollouts).")]
MaxTokensOpt = Annotated[int, typer.Option("--max-new-tokens", min=1, help="Length of each sampled rollout.")]


def sampler_for(backend: object) -> object:
    """A seeded sampler for a local model (remote sampling is not supported yet)."""
    from evalrefine.backends.hf_local import HFLocalBackend

    if not isinstance(backend, HFLocalBackend):
        raise InputError("rollouts need a local model to sample from", "drop --server for --rollouts")
    from evalrefine.backends.sampler import HFSampler

    return HFSampler(backend)


def verify_command(
    original: Annotated[str, typer.Argument(help="The original prompt file.")],
    refined: Annotated[str, typer.Argument(help="The refined prompt file.")],
    rollouts: RolloutsOpt = 8,
    seed: SeedOpt = 0,
    max_new_tokens: MaxTokensOpt = 96,
    sentence: SentenceOpt = None,
    model: ModelOpt = None,
    cot_opener: OpenerOpt = None,
    device: DeviceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sample rollouts of both prompts and test whether the refined one lowers the rollout monitor
    and verbalized eval awareness (95% bootstrap intervals), not only the start-of-CoT score."""
    from evalrefine.core.attribution.target import AnyTarget
    from evalrefine.core.verify import verify

    if rollouts < 1:
        raise InputError("verify needs rollouts", "give --rollouts K with K >= 1")
    settings = build_settings(model, sentence, cot_opener, device)
    a, b = read_prompt(original, None), read_prompt(refined, None)
    backend = load_model(settings, quiet=as_json)
    monitor = monitor_for(backend, settings)
    target = AnyTarget(tuple(settings.monitor.sentences))
    with err_console.status(f"sampling {rollouts} rollouts of each prompt…"):
        report = verify(a, b, monitor, sampler_for(backend), target, rollouts, seed, max_new_tokens)  # type: ignore[arg-type]
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    table = Table(title=f"{rollouts} rollouts each, seed {seed}; monitor: {report.target}", title_justify="left")
    for col in ("", "original", "refined", "refined − original [95% CI]"):
        table.add_column(col, justify="right")
    o, r = report.original.as_dict(), report.refined.as_dict()
    table.add_row("start of CoT", f"{o['start']:.2f}", f"{r['start']:.2f}", f"{r['start'] - o['start']:+.2f}")  # type: ignore[operator]
    d = report.monitor
    table.add_row(
        "rollout peak (mean)",
        f"{o['mean_peak']:.2f}",
        f"{r['mean_peak']:.2f}",
        f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}]",
    )
    v = report.verbalization
    table.add_row(
        "verbalizes eval awareness",
        f"{o['verbalization_rate']:.0%}",
        f"{r['verbalization_rate']:.0%}",
        f"{v.mean:+.0%} [{v.low:+.0%}, {v.high:+.0%}]",
    )
    console = Console()
    console.print(table)
    verdict = "lowers" if d.lowered else "does not clearly lower"
    console.print(
        f"The refined prompt {verdict} the rollout monitor; verbalization "
        f"{'falls' if v.lowered else 'does not clearly fall'}."
    )
