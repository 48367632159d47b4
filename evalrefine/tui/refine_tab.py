"""The Refine tab: the rewriter's candidates for the scored turn, as they are scored and guarded.

The tab owns the candidates and the prompt they were written for (everything but the rewritten turn):
``a`` (accept), ``e`` (accept, then edit) post :class:`CandidateChosen` to the app, which applies a
candidate only while that context is still the editor's (after the system prompt or another turn
changed, a candidate would be applied to a prompt it was never scored with). ``x`` drops one.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabPane

from evalrefine.core.refine.loop import CandidateEvaluated, Finished, IterationFinished, Started, Version
from evalrefine.tui.messages import CandidateChosen, RefineProgress
from evalrefine.tui.widgets import diff_text


class RefineTab(TabPane):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "choose(False)", "Accept"),
        Binding("e", "choose(True)", "Accept+edit"),
        Binding("x", "reject", "Reject"),
        Binding("u", "app.undo", "Undo"),
    ]

    def __init__(self) -> None:
        super().__init__("Refine", id="refine")
        self.candidates: dict[int, Version] = {}
        self.context: tuple[str, ...] | None = None
        """The prompt the candidates were written for, minus the rewritten turn."""
        self.base_text = ""
        """The scored turn's text when refining started (the diff's left side)."""
        self.base_percentile: float | None = None

    def compose(self) -> ComposeResult:
        yield Static("F4: one refine step · F5: the loop until the target", id="refine-status")
        yield DataTable(id="candidates", cursor_type="row")
        yield VerticalScroll(Static("", id="candidate-diff"), id="diff-scroll")

    def on_mount(self) -> None:
        self.query_one("#candidates", DataTable).add_columns("id", "iter", "score", "pct", "Δpct", "guard", "why")

    def begin(self, context: tuple[str, ...], text: str, percentile: float | None) -> None:
        """New candidates for this prompt: the old ones are dropped."""
        self.clear()
        self.context, self.base_text, self.base_percentile = context, text, percentile
        self.query_one("#refine-status", Static).update("refining…")

    def stopped(self) -> None:
        """Esc: the candidates scored so far stay (and can be accepted); no more come."""
        n = len(self.candidates)
        self.query_one("#refine-status", Static).update(
            f"stopped (Esc) after {n} candidate{'s' * (n != 1)}; enter previews one, a accepts it, F5 refines again"
        )

    def clear(self) -> None:
        """Forget candidates (another prompt was opened, or a new refine starts)."""
        self.candidates.clear()
        self.context = None
        self.query_one("#candidates", DataTable).clear()
        self.query_one("#candidate-diff", Static).update("")

    def on_refine_progress(self, message: RefineProgress) -> None:
        message.stop()
        event, status = message.event, self.query_one("#refine-status", Static)
        if isinstance(event, Started):
            status.update("refining…")
        elif isinstance(event, CandidateEvaluated):
            self._add(event.version)
        elif isinstance(event, IterationFinished):
            status.update(f"iteration {event.iteration}: best {event.best.score.value if event.best.score else 0:.3f}")
        elif isinstance(event, Finished):
            status.update(f"done: {event.verdict()}; enter previews a candidate, a accepts it")

    def _add(self, v: Version) -> None:
        self.candidates[v.id] = v
        pct = v.score.percentile if v.score else None
        delta = f"{pct - self.base_percentile:+.0f}" if pct is not None and self.base_percentile is not None else "–"
        guard = "ok" if v.accepted else (v.guard.reason if v.guard else "rejected")
        self.query_one("#candidates", DataTable).add_row(
            str(v.id),
            str(v.iteration),
            f"{v.score.value:.3f}" if v.score else "–",
            f"{pct:.0f}" if pct is not None else "–",
            delta,
            Text(guard),  # Text: a DataTable parses str cells as markup, and these are the rewriter's words
            Text(v.rationale),
            key=str(v.id),
        )

    @on(DataTable.RowSelected, "#candidates")
    def _preview(self, event: DataTable.RowSelected) -> None:
        v = self.candidates.get(int(str(event.row_key.value)))
        if v is not None:
            self.query_one("#candidate-diff", Static).update(diff_text(self.base_text, v.text))

    def selected(self) -> Version | None:
        table = self.query_one("#candidates", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self.candidates.get(int(str(key.value)))

    def action_choose(self, edit: bool) -> None:
        v = self.selected()
        if v is None or not v.accepted:
            self.notify("pick a candidate the guard accepted", severity="warning")
            return
        self.post_message(CandidateChosen(v, self.context, edit))

    def action_reject(self) -> None:
        """Drop the highlighted candidate from the list (it stays out of accept and compare)."""
        v = self.selected()
        if v is not None:
            self.query_one("#candidates", DataTable).remove_row(str(v.id))
            del self.candidates[v.id]
