"""The explanation drawn: each turn painted red (raises the score) to blue (lowers it), the top
spans in words, and the deletion curve that says whether to trust the picture."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.color import Color
from rich.console import Group
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text

from evalrefine.core.attribution.base import Attribution, SpanEffect
from evalrefine.core.io.conversation import Conversation


def _style(effect: float, scale: float) -> Style:
    k = min(1.0, abs(effect) / scale) if scale > 0 else 0.0
    fade = int(255 * (1 - 0.75 * k))
    bg = Color.from_rgb(255, fade, fade) if effect > 0 else Color.from_rgb(fade, fade, 255)
    return Style(bgcolor=bg, color="black")


def heatmap(result: Attribution, conversation: Conversation) -> Group:
    scale = max((abs(e.effect) for e in result.spans), default=0.0)
    by_message: dict[int, list[SpanEffect]] = {}
    for e in result.spans:
        by_message.setdefault(e.span.message, []).append(e)
    parts = []
    for i, msg in enumerate(conversation.messages):
        text = Text(msg.content)
        for e in by_message.get(i, []):
            text.stylize(_style(e.effect, scale), e.span.start, e.span.end)
        parts.append(Text(f"[{msg.role}]", style="bold dim"))
        parts.append(text)
    return Group(*parts)


METHODS = {
    "loo": "leave-one-out: an effect is exactly what deleting the span does to the score",
    "ablation": "ablation: effects fitted over random deletions of half the spans (estimates)",
    "gradient": "gradient × input: a first-order estimate of each span's pull, not a deletion",
}


@dataclass(frozen=True)
class SpanRow:
    """One distinct span text and every place it occurs (several for a repeated sentence)."""

    text: str
    copies: tuple[SpanEffect, ...]

    @property
    def effect(self) -> float:
        """The sum of the copies' effects (one copy: its effect)."""
        return sum(c.effect for c in self.copies)

    @property
    def copies_note(self) -> str:
        """`` (3 copies)`` after a repeated span's text; nothing for a span that occurs once."""
        return f" ({len(self.copies)} copies)" if len(self.copies) > 1 else ""


def merge_spans(effects: list[SpanEffect]) -> list[SpanRow]:
    """One row per distinct span text (whitespace-insensitive), by decreasing summed effect."""
    groups: dict[str, list[SpanEffect]] = {}
    for e in effects:
        groups.setdefault(" ".join(e.span.text.split()), []).append(e)
    rows = [SpanRow(text, tuple(copies)) for text, copies in groups.items() if text]
    return sorted(rows, key=lambda r: r.effect, reverse=True)


def effect_words(method: str, effect: float, units: str) -> str:
    """What an effect means under ``method``, in words ("deleting it lowers the score by 0.42 nats")."""
    size, up, factor = f"{abs(effect):.2f} {units}", effect > 0, ""
    if units == "nats" and method != "gradient":  # a log-probability difference is also a factor on P
        # deleting a span that raises the score divides P; keeping it multiplies P
        factor = f" (P {'÷' if up == (method == 'loo') else '×'}{math.exp(min(abs(effect), 700.0)):.3g})"
    if method == "loo":
        return f"deleting it {'lowers' if up else 'raises'} the score by {size}{factor}"
    if method == "ablation":
        return f"keeping it makes the score about {size} {'higher' if up else 'lower'}{factor}, fitted"
    return f"it pushes the score {'up' if up else 'down'} (gradient estimate {size}; not a deletion)"


def describe(row: SpanRow, method: str, units: str) -> str:
    """One line in console markup (rich tables and Textual data tables parse it): the author's span
    text is escaped, so a prompt holding ``[/INST]`` is shown, not parsed."""
    snippet = row.text if len(row.text) <= 60 else row.text[:57] + "…"
    return f"'{escape(snippet)}'{row.copies_note}: {escape(effect_words(method, row.effect, units))}"


def explanation(result: Attribution, conversation: Conversation, top: int = 5) -> Group:
    head = Text.assemble(
        (f"explains {result.target} = {result.value:.3f} {result.units}", "bold"),
        ("   red raises it, blue lowers it\n", "dim"),
        (METHODS.get(result.method, result.method), "dim"),
    )
    table = Table("effect", "span", title="spans that make it read most like a test", title_justify="left")
    for row in merge_spans(result.ranked())[:top]:
        table.add_row(f"{row.effect:+.3f}", describe(row, result.method, result.units))
    parts: list[Text | Table | Group] = [head, heatmap(result, conversation), table]
    curve = result.faithfulness
    if curve is not None:
        verdict = (
            "faithful: deleting the top spans lowers the score faster than random deletions"
            if curve.trustworthy
            else "NOT faithful here: random deletions do as well; do not trust this ranking"
        )
        rows = "  ".join(
            f"k={k}: top {t:.2f} / random {r:.2f}" for k, t, r in zip(curve.ks, curve.top, curve.random, strict=True)
        )
        parts.append(Text.assemble(("deletion check ", "bold"), (verdict, "green" if curve.trustworthy else "red")))
        parts.append(Text(rows, style="dim"))
    return Group(*parts)
