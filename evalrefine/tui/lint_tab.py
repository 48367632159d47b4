"""The Lint tab: lint a directory or file of eval prompts, and open any row in the editor.

The tab owns the rows and their conversations; it posts :class:`LintRequested` (the app owns the
model and runs the lint) and :class:`OpenConversation` with no path: the prompt lives inside a
linted file, which ctrl+s must never overwrite.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Input, Static, TabPane

from evalrefine.core.io.conversation import Conversation
from evalrefine.core.lint.run import FilesRead, LintFinished
from evalrefine.core.lint.run import Scored as LintScored
from evalrefine.tui.messages import LintProgress, LintRequested, OpenConversation


class LintTab(TabPane):
    def __init__(self) -> None:
        super().__init__("Lint", id="lint")
        self.rows: dict[str, tuple[Conversation, str]] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="a directory or file of eval prompts, then enter", id="lint-path")
        yield Static("", id="lint-status")
        yield DataTable(id="lint-table", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#lint-table", DataTable).add_columns("where", "pct", "log P", "prompt")

    @on(Input.Submitted, "#lint-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#lint-status", Static).update(f"linting {event.value}…")
        self.post_message(LintRequested(event.value))

    def stopped(self) -> None:
        self.query_one("#lint-status", Static).update("lint stopped (Esc): enter in the path box lints again")

    def on_lint_progress(self, message: LintProgress) -> None:
        message.stop()
        event, status = message.event, self.query_one("#lint-status", Static)
        if isinstance(event, FilesRead):
            status.update(f"{event.prompts} prompts in {event.files} files, {event.problems} errors")
        elif isinstance(event, LintScored):
            status.update(f"scored {event.done}/{event.total}")
        elif isinstance(event, LintFinished):
            table = self.query_one("#lint-table", DataTable)
            table.clear()
            self.rows.clear()
            for r in event.report.results:
                key = f"{r.prompt.location}#{r.prompt.record_id}"
                self.rows[key] = (r.prompt.conversation, f"{r.prompt.location} {r.prompt.record_id}")
                pct = f"{r.percentile:.0f}" if r.percentile is not None else "–"
                table.add_row(
                    Text(str(r.prompt.location), style="bold red" if r.finding else ""),
                    pct,
                    f"{r.logprob:.2f}",
                    Text(" ".join(r.prompt.text.split())[:60]),
                    key=key,
                )
            findings = sum(r.finding for r in event.report.results)
            status.update(f"{len(event.report.results)} prompts, {findings} findings; enter opens one")

    @on(DataTable.RowSelected, "#lint-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        row = self.rows.get(str(event.row_key.value))
        if row is not None:
            self.post_message(OpenConversation(row[0], None, row[1]))
