"""The side-by-side comparison of prompt variants: a score table and each variant's edits as a wdiff."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalrefine.core.compare import Comparison, VariantScore
from evalrefine.render.scores import ordinal


def _diff_text(v: VariantScore) -> Text:
    """The variant's text with its edits highlighted; each hunk's effect in brackets."""
    out, pos = Text(), 0
    for h in v.hunks:
        out.append(v.text[pos : h.start])
        if h.base_text.strip():  # wdiff markers, readable in CI logs without colour too
            out.append(f"[-{h.base_text}-]", style="red")
        if h.text:
            out.append(f"{{+{h.text}+}}", style="green")
        out.append(f" [{h.effect:+.2f}]", style="bold red" if h.effect > 0 else "bold green")
        pos = h.start + len(h.text)
    out.append(v.text[pos:])
    return out


def _letter(i: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i] if i < 26 else str(i)


def comparison_view(result: Comparison, shown: Sequence[str]) -> Group:
    title = Text(f"{result.target} ({result.units}); lower reads more like real traffic", style="italic")
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for i, v in enumerate(result.variants):
        table.add_column(Text(f"{_letter(i)}: {v.name}"), justify="right", overflow="fold")
    table.add_row("score", *[f"{v.value:.3f}" for v in result.variants])
    if result.reference:
        table.add_row(
            "real-traffic pct", *[ordinal(v.percentile) if v.percentile is not None else "–" for v in result.variants]
        )
        table.add_row(
            "verdict",
            *[Text("real", style="green") if v.passes else Text("test-like", style="red") for v in result.variants],
        )
    for s in shown:
        table.add_row(Text(f"log P({s!r})"), *[f"{v.logprobs.get(s, float('nan')):.2f}" for v in result.variants])
    parts: list[Table | Text] = [table]
    for i, v in enumerate(result.variants[1:], start=1):
        parts.append(Text(f"\n{_letter(i)} vs A (edit effect on the score in brackets):", style="bold"))
        parts.append(_diff_text(v) if v.hunks else Text("identical to A", style="dim"))
    return Group(*parts)
