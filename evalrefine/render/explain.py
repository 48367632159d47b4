"""The explanation drawn: each turn painted red (raises the score) to blue (lowers it), the top
spans in words, and the deletion curve that says whether to trust the picture."""

from __future__ import annotations

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


def describe(effect: SpanEffect, units: str) -> str:
    """One line in console markup (rich tables and Textual data tables parse it): the author's span
    text is escaped, so a prompt holding ``[/INST]`` is shown, not parsed."""
    snippet = " ".join(effect.span.text.split())
    snippet = escape(snippet if len(snippet) <= 60 else snippet[:57] + "…")
    verb = "lowers" if effect.effect > 0 else "raises"
    if units == "nats":
        factor = effect.factor if effect.effect > 0 else 1 / effect.factor
        return f"removing '{snippet}' {verb} P(test) {factor:.1f}×"
    return f"removing '{snippet}' {verb} the joint score by {abs(effect.effect):.2f}"


def explanation(result: Attribution, conversation: Conversation, top: int = 5) -> Group:
    head = Text.assemble(
        (f"{result.method} attribution of {result.target} = {result.value:.3f} {result.units}", "bold"),
        ("   red raises it, blue lowers it", "dim"),
    )
    ranked = result.ranked()
    table = Table("effect", "span", title="spans that make it read most like a test", title_justify="left")
    for e in ranked[:top]:
        table.add_row(f"{e.effect:+.3f}", describe(e, result.units))
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
