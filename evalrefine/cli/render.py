"""Rich renderings of core results. Only front ends print; these build renderables."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evalrefine.core.monitor import MonitorResult, SentenceScore


def _fmt_prob(p: float) -> str:
    return f"{p:.3e}" if p < 1e-3 else f"{p:.4f}"


def token_breakdown(score: SentenceScore) -> Text:
    """``token(logprob)`` pieces; darker red = less likely token."""
    out = Text()
    for t in score.tokens:
        style = "bold red" if t.logprob < -5 else ("yellow" if t.logprob < -1 else "green")
        out.append(repr(t.token)[1:-1], style=style)
        out.append(f" {t.logprob:.2f}  ", style="dim")
    return out


def score_table(result: MonitorResult, show_tokens: bool = False) -> Group:
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
    table.add_column("tokens", justify="right")
    for s in result.sentences:
        label = Text(s.sentence)
        if s.boundary_merged:
            label.append(" *", style="yellow")
        table.add_row(label, f"{s.logprob:.4f}", _fmt_prob(s.prob), str(len(s.tokens)))
        if show_tokens:
            table.add_row(token_breakdown(s), "", "", "")
    parts: list[Text | Table] = [header, table]
    if any(s.boundary_merged for s in result.sentences):
        parts.append(Text("* tokenized on its own: the tokenizer merged it with the prompt's end", style="yellow"))
    return Group(*parts)
