"""Rich renderings of core results. Only front ends print; these build renderables."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from evalrefine.core.calibration.placement import Placement
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.scoring.monitor import MonitorResult, SentenceScore

BLOCKS = " ▁▂▃▄▅▆▇█"


def _fmt_prob(p: float) -> str:
    return f"{p:.3e}" if p < 1e-3 else f"{p:.4f}"


def ordinal(p: float) -> str:
    n = round(p)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def token_breakdown(score: SentenceScore) -> Text:
    """``token logprob`` pieces; red = unlikely token."""
    out = Text()
    for t in score.tokens:
        style = "bold red" if t.logprob < -5 else ("yellow" if t.logprob < -1 else "green")
        out.append(repr(t.token)[1:-1], style=style)
        out.append(f" {t.logprob:.2f}  ", style="dim")
    return out


def score_table(
    result: MonitorResult, shown: Collection[str], placement: Placement | None = None, show_tokens: bool = False
) -> Group:
    header = Text.assemble(
        ("model ", "dim"),
        (result.model, "bold"),
        ("   prompt ", "dim"),
        (f"{len(result.prompt.ids)} tokens", "bold"),
        ("   CoT opener ", "dim"),
        (repr(result.prompt.cot_opener), "bold"),
        (f" ({result.prompt.reasoning_family})", "dim"),
    )
    table = Table(title="P(the reasoning starts with …)", title_justify="left", expand=False)
    table.add_column("sentence")
    table.add_column("log P (nats)", justify="right")
    table.add_column("P", justify="right")
    if placement:
        table.add_column("real-traffic pct", justify="right")
    for s in result.sentences:
        if s.sentence not in shown:
            continue
        label = Text(s.sentence)
        if s.boundary_merged:
            label.append(" *", style="yellow")
        row: list[Text | str] = [label, f"{s.logprob:.4f}", _fmt_prob(s.prob)]
        if placement:
            pct = placement.percentiles.get(s.sentence)
            row.append(ordinal(pct) if pct is not None else "–")
        table.add_row(*row)
        if show_tokens:
            table.add_row(token_breakdown(s), *[""] * (len(row) - 1))
    parts: list[Text | Table] = [header, table]
    if any(s.boundary_merged for s in result.sentences):
        parts.append(Text("* tokenized on its own: the tokenizer merged it with the prompt's end", style="yellow"))
    return Group(*parts)


def histogram(values: Sequence[float] | np.ndarray, marker: float, width: int = 48) -> Text:
    """A one-line histogram of ``values`` with ``marker`` drawn as ▲ underneath."""
    vals = np.asarray(values, dtype=np.float64)
    lo, hi = float(min(vals.min(), marker)), float(max(vals.max(), marker))
    counts, _ = np.histogram(vals, bins=width, range=(lo, hi))
    peak = max(int(counts.max()), 1)
    bars = "".join(BLOCKS[int(np.ceil(c / peak * (len(BLOCKS) - 1)))] for c in counts)
    pos = min(width - 1, int((marker - lo) / (hi - lo + 1e-12) * width))
    text = Text(bars, style="blue")
    text.append("\n" + " " * pos + "▲", style="bold red")
    return text


def placement_panel(placement: Placement, reference: Reference) -> Panel:
    deploy = reference.joint_scores("deploy")
    verdict_style = "bold green" if placement.passes else "bold red"
    lines = Text.assemble(
        ("Scores like the ", ""),
        (f"{ordinal(placement.percentile)} percentile", "bold"),
        (f" of real traffic ({len(deploy)} deployment prompts, reference '{reference.name}').\n", ""),
        (
            f"Joint score ({placement.joint_method}) {placement.joint_score:.3f}; target ≤ "
            f"{ordinal(placement.target)} percentile: ",
            "",
        ),
        (placement.verdict, verdict_style),
    )
    if placement.eval_percentile is not None:
        lines.append(f"\nAmong the reference's eval prompts it would rank at the {ordinal(placement.eval_percentile)}.")
    return Panel(
        Group(
            lines,
            Text("\ndeployment distribution of the joint score, this prompt ▲:", style="dim"),
            histogram(deploy, placement.joint_score),
        ),
        title="against deployment traffic",
        expand=False,
    )
