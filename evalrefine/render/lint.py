"""Rich rendering of a lint report: worst prompts first, a per-file summary, and where the
repository's prompts fall in the deployment distribution (real traffic is flat across deciles)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from evalrefine.core.calibration.reference import Reference
from evalrefine.core.lint.reports import file_summary
from evalrefine.core.lint.run import LintReport
from evalrefine.render.scores import ordinal

MAX_ROWS = 25


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def decile_chart(percentiles: list[float], width: int = 40) -> Text:
    """Share of the prompts in each decile of deployment traffic; real traffic puts 10% in each."""
    counts = [0] * 10
    for p in percentiles:
        counts[min(9, int(p // 10))] += 1
    n = max(len(percentiles), 1)
    out = Text("deployment percentile   share of your prompts (real traffic: 10% each, ┆)\n", style="dim")
    for i, c in enumerate(counts):
        share = c / n
        bar = "█" * round(share * width)
        mark = round(0.1 * width)
        line = bar.ljust(width)
        line = line[:mark] + ("┆" if len(bar) <= mark else line[mark]) + line[mark + 1 :]
        out.append(f"{10 * i:>3}–{10 * i + 10:<3}  ", style="dim")
        out.append(line, style="red" if i >= 5 else "green")
        out.append(f" {c:>4} ({100 * share:.0f}%)\n")
    return out


def lint_table(console: Console, report: LintReport, reference: Reference | None) -> None:
    limit = report.threshold.describe(report.sentence)
    table = Table(title=Text(f"prompts, worst first (finding: {limit})", style="italic"), title_justify="left")
    # At 80 columns and in CI logs the location, percentile and verdict always show (minimum widths);
    # a long path wraps and the prompt preview gives way first.
    table.add_column("where", overflow="fold", ratio=2, min_width=16)
    table.add_column("pct", justify="right", no_wrap=True, min_width=5)
    table.add_column("verdict", no_wrap=True, min_width=9)
    table.add_column("log P", justify="right", no_wrap=True, min_width=7)
    with_rollouts = any(r.rollouts is not None for r in report.results)
    if with_rollouts:
        table.add_column("rollouts: peak, say test", justify="right", no_wrap=True, min_width=10)
    fixed = 16 + 5 + 9 + 7 + (10 if with_rollouts else 0) + 3 * (6 if with_rollouts else 5) + 1
    table.add_column("prompt", no_wrap=True, overflow="ellipsis", max_width=max(12, console.width - fixed - 24))
    for r in report.results[:MAX_ROWS]:
        style = "bold red" if r.finding and r.new else ("yellow" if r.finding else "")
        pct = ordinal(r.percentile) if r.percentile is not None else "–"
        verdict = Text("finding", style=style or "red") if r.finding else Text("ok", style="green")
        cells: list[Text | str] = [Text(str(r.prompt.location), style=style), pct, verdict, f"{r.logprob:.2f}"]
        if with_rollouts:
            ro = r.rollouts
            cells.append(f"{ro.peak:.2f}, {ro.verbalized}/{ro.judged}" if ro is not None else "–")
        table.add_row(*cells, Text(_preview(r.prompt.text)))  # Text: the prompt is never parsed as markup
    if len(report.results) > MAX_ROWS:
        table.caption = f"… and {len(report.results) - MAX_ROWS} more (use --format json for all)"
    console.print(table)
    files = Table(title="per file", title_justify="left")
    for col in ("file", "prompts", "findings", "worst pct"):
        files.add_column(col, justify="left" if col == "file" else "right")
    for row in file_summary(report):
        worst = ordinal(row["worst_percentile"]) if row["worst_percentile"] is not None else "–"
        files.add_row(Text(str(row["file"])), str(row["prompts"]), str(row["findings"]), worst)
    console.print(files)
    pcts = [r.percentile for r in report.results if r.percentile is not None]
    if pcts and reference is not None:
        console.print(decile_chart(pcts))
    for p in report.problems:
        console.print(Text.assemble(("error ", "bold red"), str(p)))
    n_find = sum(r.finding for r in report.results)
    summary = f"{len(report.results)} prompts, {n_find} findings"
    if report.baseline is not None:
        summary += f" ({len(report.findings)} new since the baseline)"
    summary += f", {len(report.problems)} errors, {len(report.skipped)} files skipped"
    console.print(Text(summary, style="bold red" if report.exit_code else "bold green"))
