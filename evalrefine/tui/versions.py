"""The Refine tab's version history: accept, edit or reject a candidate, undo to any earlier
version, and the sparkline of accepted versions' scores."""

from __future__ import annotations

from textual.widgets import DataTable, Sparkline, TextArea

from evalrefine.core.refine import DEFAULT_HELD_OUT, PromptScore, Version
from evalrefine.core.session import ScoreView
from evalrefine.tui.base import MainScreenApp
from evalrefine.tui.widgets import sparkline_values


class VersionsMixin(MainScreenApp):
    candidates: dict[int, Version]
    candidates_context: tuple[str, ...] | None
    """The prompt the candidates were written for, minus the rewritten turn (system prompt and
    earlier turns): a candidate is applied only while that context is still the editor's."""
    versions: list[Version]
    last_view: ScoreView | None

    def prompt_context(self) -> tuple[str, ...]:
        raise NotImplementedError

    def drop_candidates(self) -> None:
        """Forget candidates written for another prompt (a file or lint row was opened)."""
        self.candidates.clear()
        self.candidates_context = None
        self.main.query_one("#candidates", DataTable).clear()

    def set_user_text(self, text: str) -> None:
        raise NotImplementedError

    def _show_tab(self, tab: str, focus: str) -> None:
        raise NotImplementedError

    def _selected_candidate(self) -> Version | None:
        table = self.main.query_one("#candidates", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        if self.candidates_context != self.prompt_context():
            self.notify("these candidates were written for another prompt: refine again (F4)", severity="warning")
            return None
        return self.candidates.get(int(str(key.value)))

    def action_reject(self) -> None:
        """Drop the highlighted candidate from the list (it stays out of accept and compare)."""
        v = self._selected_candidate()
        if v is not None:
            self.main.query_one("#candidates", DataTable).remove_row(str(v.id))
            del self.candidates[v.id]

    def action_edit_candidate(self) -> None:
        """Accept the highlighted candidate and move to the editor to change it further."""
        if self.action_accept():
            self._show_tab("author", "#user")

    def action_accept(self) -> bool:
        v = self._selected_candidate()
        if v is None or not v.accepted:
            self.notify("pick a candidate the guard accepted", severity="warning")
            return False
        current = self.main.query_one("#user", TextArea).text
        if self.last_view is not None and (not self.versions or self.versions[-1].text != current):
            # Hand edits since the last version become a version of their own, so undo returns to them.
            self.versions.append(Version(-1, None, 0, current, prompt_score(self.last_view)))
        self.versions.append(v)
        self.set_user_text(v.text)
        self._update_history()
        self.notify(f"accepted candidate {v.id}")
        return True

    def action_undo(self) -> None:
        if len(self.versions) < 2:
            self.notify("no earlier version", severity="warning")
            return
        self.versions.pop()
        self.set_user_text(self.versions[-1].text)
        self._update_history()

    def _update_history(self) -> None:
        values = [v.score.value for v in self.versions if v.score is not None]
        self.main.query_one("#history", Sparkline).data = sparkline_values(values)


def prompt_score(view: ScoreView) -> PromptScore:
    """The refine loop's score record for a scored editor version (for the history sparkline)."""
    held = next((s.logprob for s in view.result.sentences if s.sentence == DEFAULT_HELD_OUT), 0.0)
    return PromptScore(view.value, view.placement.percentile if view.placement else None, held)
