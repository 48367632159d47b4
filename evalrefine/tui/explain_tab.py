"""The Explain tab: which wording makes the prompt read like a test, in words that match the method.

The three attribution methods measure different things, and the tab says which one it shows: a
leave-one-out effect is exactly what deleting the span does to the score, an ablation effect is a
fit over random deletions, a gradient effect is a first-order estimate of the span's pull and says
nothing exact about deleting it. A legend on screen says what the colours mean. A sentence that
occurs several times (a repeated disclaimer) is one row with its count: its effect is the sum over
its copies, and the detail line lists each copy's own effect.
"""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Select, Static, TabPane

from evalrefine.core.attribution.base import Attribution
from evalrefine.core.io.conversation import Conversation
from evalrefine.render.explain import METHODS, SpanRow, effect_words, merge_spans
from evalrefine.tui.messages import Explained, ExplainRequested


def paint(effect: float, scale: float) -> Style:
    """Red for a span that raises the score, blue for one that lowers it, deeper for larger effects."""
    k = min(1.0, abs(effect) / scale) if scale > 0 else 0.0
    fade = int(255 * (1 - 0.75 * k))
    return Style(
        color="black", bgcolor=Color.from_rgb(255, fade, fade) if effect > 0 else Color.from_rgb(fade, fade, 255)
    )


def painted(result: Attribution, conversation: Conversation) -> Text:
    """Every turn painted by its spans' effects, headed as the editor heads it ("3 · user")."""
    scale = max((abs(e.effect) for e in result.spans), default=0.0)
    out = Text()
    for i, msg in enumerate(conversation.messages):
        head = "system prompt" if msg.role == "system" else f"{turn_label(conversation, i)} · {msg.role}"
        out.append(("\n" if i else "") + head + "\n", style="bold dim")
        text = Text(msg.content)
        for e in (e for e in result.spans if e.span.message == i):
            text.stylize(paint(e.effect, scale), e.span.start, e.span.end)
        out.append_text(text)
    return out


def legend(method: str, attribution: Attribution | None = None) -> Text:
    """The colour key and what the effects mean; with a result, what was explained."""
    out = Text.assemble(
        (" red ", paint(1.0, 1.0)),
        " raises the score (more test-like)  ",
        (" blue ", paint(-1.0, 1.0)),
        " lowers it · deeper = larger\n",
        (METHODS.get(method, method), "dim"),
    )
    if attribution is not None:
        out.append(f"\nexplains {attribution.target} = {attribution.value:.3f} {attribution.units}", style="dim")
    return out


class ExplainTab(TabPane):
    """Method and granularity controls, the legend, the painted prompt and the span table."""

    def __init__(self) -> None:
        super().__init__("Explain", id="explain")
        self.rows: list[SpanRow] = []
        self.attribution: Attribution | None = None
        self.conversation: Conversation | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="controls"):
            yield Label("method ")
            yield Select([(m, m) for m in METHODS], value="loo", id="method", allow_blank=False, compact=True)
            yield Label(" over ")
            yield Select(
                [(g, g) for g in ("sentence", "clause", "word")],
                value="sentence",
                id="granularity",
                allow_blank=False,
                compact=True,
            )
            yield Label("  F3 explains", classes="dim-note")
        yield Static(legend("loo"), id="legend")
        yield VerticalScroll(Static("press F3 to explain the current prompt", id="heatmap"), id="heatmap-scroll")
        yield DataTable(id="spans", cursor_type="row")
        yield Static("", id="span-detail")

    def on_mount(self) -> None:
        self.query_one("#spans", DataTable).add_columns("effect", "copies", "turn", "span")

    @property
    def method(self) -> str:
        return str(self.query_one("#method", Select).value)

    @property
    def granularity(self) -> str:
        return str(self.query_one("#granularity", Select).value)

    def waiting(self) -> None:
        self.query_one("#legend", Static).update(legend(self.method))
        self.query_one("#heatmap", Static).update(f"explaining with {self.method} over {self.granularity}s…")

    def stopped(self) -> None:
        self.query_one("#heatmap", Static).update("explain stopped (Esc): F3 explains again")

    @on(Select.Changed)
    def _controls(self, event: Select.Changed) -> None:
        event.stop()
        self.query_one("#legend", Static).update(legend(self.method, None))
        self.post_message(ExplainRequested(self.method, self.granularity))

    def on_explained(self, message: Explained) -> None:
        message.stop()
        result = self.attribution = message.attribution
        conv = self.conversation = message.conversation
        self.query_one("#legend", Static).update(legend(result.method, result))
        self.query_one("#heatmap", Static).update(painted(result, conv))
        table = self.query_one("#spans", DataTable)
        table.clear()
        self.rows = merge_spans(result.ranked())
        for i, row in enumerate(self.rows):
            snippet = row.text if len(row.text) <= 60 else row.text[:57] + "…"
            turns = ",".join(dict.fromkeys(turn_label(conv, c.span.message) for c in row.copies))
            style = "red" if row.effect > 0 else "blue"
            table.add_row(
                Text(f"{row.effect:+.3f}", style=style), f"{len(row.copies)}×", turns, Text(snippet), key=str(i)
            )
        self.show_detail(0)

    @on(DataTable.RowHighlighted, "#spans")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_detail(int(str(event.row_key.value)))

    def show_detail(self, index: int) -> None:
        """The row's span in full, what its effect means under this method, and each copy's effect."""
        result, conv = self.attribution, self.conversation
        if result is None or conv is None or not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        words = effect_words(result.method, row.effect, result.units)
        detail = Text.assemble((f"{row.effect:+.3f} ", "bold red" if row.effect > 0 else "bold blue"), (words, "dim"))
        if len(row.copies) > 1:
            each = "; ".join(
                f"turn {turn_label(conv, c.span.message)} @{c.span.start}: {c.effect:+.3f}" for c in row.copies
            )
            detail.append(f" (sum of {len(row.copies)} copies: {each})", style="dim")
        detail.append("\n" + row.text)
        self.query_one("#span-detail", Static).update(detail)


def turn_label(conversation: Conversation, message: int) -> str:
    """The editor's name for a message: "system", or the turn's number (the system prompt is not a turn)."""
    if conversation.messages[message].role == "system":
        return "system"
    return str(message + (0 if conversation.system is not None else 1))
