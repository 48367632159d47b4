"""``evalrefine tui``: edit an eval prompt and watch the model's eval-awareness respond.

The app only drives :class:`~evalrefine.core.session.Session` (core functions) from thread
workers and renders what they post back as typed messages; scoring is debounced after edits and
``exclusive`` workers cancel stale work, so typing never blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Sparkline,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

from evalrefine.api import open_session
from evalrefine.config import Settings
from evalrefine.core.attribution.base import SpanEffect
from evalrefine.core.compare import Comparison
from evalrefine.core.conversation import Conversation, Message, normalize_text
from evalrefine.core.lint.run import FilesRead, LintFinished
from evalrefine.core.lint.run import Scored as LintScored
from evalrefine.core.refine import CandidateEvaluated, Finished, IterationFinished, Started, Version
from evalrefine.core.session import ScoreView, Session
from evalrefine.core.verify import VerifyReport
from evalrefine.tui.base import while_open
from evalrefine.tui.compare_tab import CompareMixin
from evalrefine.tui.files import FileActionsMixin
from evalrefine.tui.messages import (
    Explained,
    LintProgress,
    RefineProgress,
    Scored,
    SessionReady,
    WorkFailed,
)
from evalrefine.tui.versions import VersionsMixin, prompt_score
from evalrefine.tui.widgets import (
    HelpScreen,
    ScorePanel,
    diff_text,
    headline,
    score_renderable,
)
from evalrefine.tui.workers import WorkersMixin

DEBOUNCE_SECONDS = 0.6
TABS = ("author", "explain", "refine", "compare", "lint")
NARROW = 110
"""Below this many columns the score panel gives way to a headline bar under the editor."""
SessionFactory = Callable[[Settings], Session]


class EvalRefineApp(CompareMixin, VersionsMixin, FileActionsMixin, WorkersMixin):
    CSS_PATH = "evalrefine.tcss"
    TITLE = "evalrefine"
    BINDINGS: ClassVar[list[BindingType]] = [
        # priority: the app's keys work while the editor has focus (a TextArea took F6/F7 before).
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help", priority=True),
        Binding("f2", "score", "Score", priority=True, show=False),
        Binding("f3", "explain", "Explain", priority=True),
        Binding("f4", "refine(1)", "Step", priority=True),
        Binding("f5", "refine(5)", "Refine", priority=True),
        Binding("f6", "compare", "Compare", priority=True),
        Binding("f7", "verify", "Verify", priority=True),
        Binding("ctrl+s", "save", "Save", priority=True, show=False),
        Binding("ctrl+o", "open", "Open", priority=True, show=False),
        *(Binding(f"alt+{i}", f"show_tab('{tab}')", tab.title(), show=False) for i, tab in enumerate(TABS, 1)),
    ]

    def __init__(self, settings: Settings, path: Path | None = None, factory: SessionFactory | None = None) -> None:
        super().__init__()
        self.settings, self.path = settings, path
        self.factory = factory or open_session
        self.session: Session | None = None
        self.last_view: ScoreView | None = None
        self.original_view: ScoreView | None = None
        """The first score of the prompt as opened: the headline shows the change since."""
        self.last_comparison: Comparison | None = None
        self.last_verification: VerifyReport | None = None
        self.revision = 0
        self.saved: tuple[str, str] = ("", "")
        """The system prompt and user turn as last opened or saved (what "unsaved changes" compares to)."""
        self.earlier_turns: tuple[Message, ...] = ()
        """Turns between the system prompt and the last user turn: scored, and written back on save."""
        self.versions: list[Version] = []
        self.candidates: dict[int, Version] = {}
        self.candidates_context: tuple[str, ...] | None = None
        self._debounce: Timer | None = None
        self._lint_rows: dict[str, Conversation] = {}
        self._span_effects: list[SpanEffect] = []
        system, user = "", ""
        if path is not None and path.exists():
            from evalrefine.core.conversation import load_conversation

            conv = load_conversation(path)
            system, user = conv.system or "", conv.messages[-1].content
            self.earlier_turns = tuple(m for m in conv.messages[:-1] if m.role != "system")
        self._initial = (system, user)
        self.saved = (system, user)

    # -- layout -----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="author"):
            with TabPane("Author", id="author"), Horizontal():
                with Vertical(id="editor-pane"):
                    yield Label("system prompt")
                    yield TextArea(self._initial[0], id="system", soft_wrap=True)
                    yield Label("user turn" + (f" ({self.path})" if self.path else ""), id="user-label")
                    yield TextArea(self._initial[1], id="user", soft_wrap=True)
                    yield Static("loading the model…", id="headline-bar")
                yield ScorePanel(id="score")
            with TabPane("Explain", id="explain"), Vertical():
                with Horizontal(classes="controls"):
                    yield Select(
                        [(m, m) for m in ("loo", "ablation", "gradient")], value="loo", id="method", allow_blank=False
                    )
                    yield Select(
                        [(g, g) for g in ("sentence", "clause", "word")],
                        value="sentence",
                        id="granularity",
                        allow_blank=False,
                    )
                yield VerticalScroll(Static("press F3 to explain the current prompt", id="heatmap"))
                yield DataTable(id="spans", cursor_type="row")
                yield Static("", id="span-detail")
            with TabPane("Refine", id="refine"), Vertical():
                yield Static("F4: one refine step · F5: the loop until the target", id="refine-status")
                yield DataTable(id="candidates", cursor_type="row")
                yield VerticalScroll(Static("", id="candidate-diff"), id="diff-scroll")
                yield Label("score of each accepted version (lower = more like real traffic)")
                yield Sparkline([0.0], id="history")
            with TabPane("Compare", id="compare"):
                yield VerticalScroll(
                    Static("F6 compares the original with the current version", id="comparison"),
                    Static("F7 samples rollouts of both and checks the difference holds up", id="verification"),
                    id="comparison-scroll",
                )
            with TabPane("Lint", id="lint"), Vertical():
                yield Input(placeholder="a directory or file of eval prompts, then enter", id="lint-path")
                yield Static("", id="lint-status")
                yield DataTable(id="lint-table", cursor_type="row")
        yield Footer()

    def load_factory(self, settings: Settings) -> Session:
        return self.factory(settings)

    def on_mount(self) -> None:
        self.main.query_one("#candidates", DataTable).add_columns("id", "iter", "score", "pct", "Δpct", "guard", "why")
        self.main.query_one("#spans", DataTable).add_columns("effect", "span")
        self.main.query_one("#lint-table", DataTable).add_columns("where", "pct", "log P", "prompt")
        self.set_class(self.size.width < NARROW, "narrow")
        self.main.query_one("#user", TextArea).focus()  # typing starts in the prompt, not on the tab bar
        self.load_session()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "narrow")

    def action_show_tab(self, tab: str) -> None:
        self.main.query_one(TabbedContent).active = tab

    # -- state helpers ----------------------------------------------------------------------------
    def conversation(self) -> Conversation:
        system = self.main.query_one("#system", TextArea).text
        user = self.main.query_one("#user", TextArea).text
        msgs = ([Message("system", system)] if system.strip() else []) + [*self.earlier_turns, Message("user", user)]
        return Conversation(tuple(msgs))

    def prompt_context(self) -> tuple[str, ...]:
        """Everything but the user turn being rewritten: candidates belong to this context."""
        system = self.main.query_one("#system", TextArea).text
        return (normalize_text(system), *(f"{m.role}:{m.content}" for m in self.earlier_turns))

    def set_user_text(self, text: str) -> None:
        self.main.query_one("#user", TextArea).text = text

    def fail(self, what: str, error: str) -> None:
        self.notify(error, title=f"{what} failed", severity="error", timeout=8, markup=False)

    # -- messages from workers --------------------------------------------------------------------
    @while_open
    def on_session_ready(self, message: SessionReady) -> None:
        self.session = message.session
        ref = self.session.reference
        self.sub_title = f"{self.session.backend.name} · reference: {ref.name if ref else 'none'}"
        self.action_score()

    @while_open
    def on_work_failed(self, message: WorkFailed) -> None:
        self.fail(message.what, message.error)
        self.main.query_one(ScorePanel).set_status(f"{message.what} failed: {message.error}")

    @while_open
    def on_scored(self, message: Scored) -> None:
        if message.revision != self.revision or self.session is None:
            return  # a stale score of text that has changed since
        self.last_view = message.view
        if self.original_view is None:
            self.original_view = message.view
        panel = self.main.query_one(ScorePanel)
        panel.set_status(f"scored revision {message.revision}")
        panel.show(score_renderable(message.view, self.session))
        line = headline(message.view, self.original_view, self.session)
        panel.set_headline(line)
        self.main.query_one("#headline-bar", Static).update(line)
        if not self.versions:
            text = self.main.query_one("#user", TextArea).text
            score = prompt_score(message.view)
            self.versions.append(Version(0, None, 0, text, score))
            self._update_history()

    @while_open
    def on_explained(self, message: Explained) -> None:
        from evalrefine.render.explain import describe, heatmap

        self.main.query_one("#heatmap", Static).update(heatmap(message.attribution, message.conversation))
        table = self.main.query_one("#spans", DataTable)
        table.clear()
        self._span_effects = message.attribution.ranked()
        for i, effect in enumerate(self._span_effects):
            table.add_row(f"{effect.effect:+.3f}", describe(effect, message.attribution.units), key=str(i))
        self.notify("explained: red raises the score, blue lowers it")

    @while_open
    def on_refine_progress(self, message: RefineProgress) -> None:
        event = message.event
        status = self.main.query_one("#refine-status", Static)
        if isinstance(event, Started):
            status.update("refining…")
        elif isinstance(event, CandidateEvaluated):
            v = event.version
            self.candidates[v.id] = v
            pct = f"{v.score.percentile:.0f}" if v.score and v.score.percentile is not None else "–"
            now = self.last_view.placement if self.last_view else None
            delta = (
                f"{v.score.percentile - now.percentile:+.0f}"
                if v.score and v.score.percentile is not None and now is not None
                else "–"
            )
            guard = "ok" if v.accepted else (v.guard.reason if v.guard else "rejected")
            self.main.query_one("#candidates", DataTable).add_row(
                str(v.id),
                str(v.iteration),
                f"{v.score.value:.3f}" if v.score else "–",
                pct,
                delta,
                Text(guard),  # Text: a DataTable parses str cells as markup, and these are the rewriter's words
                Text(v.rationale),
                key=str(v.id),
            )
        elif isinstance(event, IterationFinished):
            status.update(f"iteration {event.iteration}: best {event.best.score.value if event.best.score else 0:.3f}")
        elif isinstance(event, Finished):
            status.update(f"done: {event.verdict(event.iterations)}; enter previews a candidate, a accepts it")

    @while_open
    def on_lint_progress(self, message: LintProgress) -> None:
        event, status = message.event, self.main.query_one("#lint-status", Static)
        if isinstance(event, FilesRead):
            status.update(f"{event.prompts} prompts in {event.files} files, {event.problems} errors")
        elif isinstance(event, LintScored):
            status.update(f"scored {event.done}/{event.total}")
        elif isinstance(event, LintFinished):
            table = self.main.query_one("#lint-table", DataTable)
            table.clear()
            self._lint_rows.clear()
            for r in event.report.results:
                key = f"{r.prompt.location}#{r.prompt.record_id}"
                self._lint_rows[key] = r.prompt.conversation
                pct = f"{r.percentile:.0f}" if r.percentile is not None else "–"
                style = "bold red" if r.finding else ""
                table.add_row(
                    Text(str(r.prompt.location), style=style),
                    pct,
                    f"{r.logprob:.2f}",
                    Text(" ".join(r.prompt.text.split())[:60]),
                    key=key,
                )
            findings = sum(r.finding for r in event.report.results)
            status.update(f"{len(event.report.results)} prompts, {findings} findings; enter opens one")

    # -- user events ------------------------------------------------------------------------------
    @on(TextArea.Changed)
    def _edited(self) -> None:
        self.revision += 1
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self.action_score)

    @on(DataTable.RowSelected, "#candidates")
    def _preview(self, event: DataTable.RowSelected) -> None:
        v = self.candidates.get(int(str(event.row_key.value)))
        if v is not None:
            self.main.query_one("#candidate-diff", Static).update(
                diff_text(self.main.query_one("#user", TextArea).text, v.text)
            )

    @on(DataTable.RowHighlighted, "#spans")
    def _span_detail(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted span in full, with its effect (and, for one sentence, the factor)."""
        effects = self._span_effects
        if event.row_key.value is None or int(str(event.row_key.value)) >= len(effects):
            return
        e = effects[int(str(event.row_key.value))]
        detail = Text.assemble(
            (f"{e.effect:+.3f} ", "bold red" if e.effect > 0 else "bold blue"),
            ("removing this span changes the score by that much (message ", "dim"),
            (f"{e.span.message}, characters {e.span.start}-{e.span.end}):\n", "dim"),
            e.span.text,
        )
        self.main.query_one("#span-detail", Static).update(detail)

    @on(DataTable.RowSelected, "#lint-table")
    def _open_lint_row(self, event: DataTable.RowSelected) -> None:
        conv = self._lint_rows.get(str(event.row_key.value))
        if conv is None:
            return
        if self.dirty:  # never replace unsaved work
            self.notify("unsaved changes: save first (ctrl+s)", severity="warning")
            return
        self.show_conversation(conv, None)  # no path: ctrl+s asks where to save, never over the linted file
        self._show_tab("author", "#user")

    @on(Select.Changed)
    def _reexplain(self) -> None:
        if self.session is not None and self.main.query_one(TabbedContent).active == "explain":
            self.action_explain()

    @on(Input.Submitted, "#lint-path")
    def _lint(self, event: Input.Submitted) -> None:
        if self.session is None:
            self.notify("the model is still loading")
            return
        self.main.query_one("#lint-status", Static).update(f"linting {event.value}…")
        self.lint_worker(event.value)

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        if self.main.query_one(TabbedContent).active != "refine":
            return
        actions = {
            "a": self.action_accept,
            "e": self.action_edit_candidate,
            "x": self.action_reject,
            "u": self.action_undo,
        }
        if key in actions:
            actions[key]()

    # -- actions ----------------------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    @while_open
    def action_score(self) -> None:
        if self.session is None:
            return
        panel = self.main.query_one(ScorePanel)
        panel.set_status(f"scoring revision {self.revision}…")
        self.score_worker(self.conversation(), self.revision)

    def _show_tab(self, tab: str, focus: str) -> None:
        """Switch tabs and move the focus there (a focused editor would pull its own tab back)."""
        self.main.query_one(TabbedContent).active = tab
        self.main.query_one(focus).focus()

    def action_explain(self) -> None:
        if self.session is None:
            return
        method = str(self.main.query_one("#method", Select).value)
        granularity = str(self.main.query_one("#granularity", Select).value)
        self._show_tab("explain", "#spans")
        self.main.query_one("#heatmap", Static).update(f"explaining with {method} over {granularity}s…")
        self.explain_worker(self.conversation(), method, granularity)

    def action_refine(self, iterations: int) -> None:
        if self.session is None:
            return
        self._show_tab("refine", "#candidates")
        self.drop_candidates()
        self.candidates_context = self.prompt_context()
        self.refine_worker(self.conversation(), iterations)


def run(settings: Settings, path: Path | None) -> None:
    """The ``tui`` front end's entry point (registered under ``evalrefine.front_ends``; the CLI finds it there)."""
    EvalRefineApp(settings, path).run()
