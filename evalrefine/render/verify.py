"""The verify report as one renderable: the CLI prints it, the TUI shows it in a panel."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table

from evalrefine.core.rollouts.verify import VerifyReport


def verify_view(report: VerifyReport) -> Group:
    """The report as one renderable: a table and the verdict (the CLI prints it, the TUI shows it)."""
    title = f"{report.k} rollouts each, seed {report.seed}; monitor: {report.target}; judge: {report.judge}"
    table = Table(title=title, title_justify="left")
    for col in ("", "original", "refined", "refined − original [95% CI]"):
        table.add_column(col, justify="right")
    o, r = report.original, report.refined
    start_diff = r.score.start - o.score.start
    table.add_row("start of CoT", f"{o.score.start:.2f}", f"{r.score.start:.2f}", f"{start_diff:+.2f}")
    d = report.monitor
    table.add_row(
        "rollout peak (mean)",
        f"{o.mean_peak:.2f}",
        f"{r.mean_peak:.2f}",
        f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}]",
    )
    v = report.verbalization
    table.add_row(
        "verbalizes eval awareness",
        f"{o.verbalization_rate:.0%}",
        f"{r.verbalization_rate:.0%}",
        f"{v.mean:+.0%} [{v.low:+.0%}, {v.high:+.0%}]",
    )
    verdict = "lowers" if d.lowered else "does not clearly lower"
    falls = "falls" if v.lowered else "does not clearly fall"
    return Group(table, f"The refined prompt {verdict} the rollout monitor; verbalization {falls}.")
