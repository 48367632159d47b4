"""``evalrefine tui``: edit an eval prompt and watch the model's eval-awareness respond.

The app is a frame around widgets that own their state: the conversation editor (every turn), and
one tab each for Explain, Refine, History, Compare and Lint. The tabs post typed messages up to the
app (explain with these settings, apply this candidate, lint this path, open this prompt); the app
owns the :class:`~evalrefine.core.session.Session` (the model), the file being edited and the score,
and starts the background work (:mod:`evalrefine.tui.workers`), whose results go to the widget that
shows them. Scoring is debounced after edits and stale work is cancelled, so typing never blocks;
Esc stops a long job and ctrl+q never waits for one. Loading the model takes seconds, so the app
says what the load is doing and for how long, instead of a blank panel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.dom import DOMNode
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from evalrefine.config import Settings
from evalrefine.core.io.conversation import Conversation, Message, apply_system
from evalrefine.core.refine.loop import Version
from evalrefine.core.session import ScoreView, Session
from evalrefine.tui import workers
from evalrefine.tui.base import while_open
from evalrefine.tui.commands import COMMANDS, FOCUS, TABS
from evalrefine.tui.compare_tab import CompareTab
from evalrefine.tui.editor import ConversationEditor
from evalrefine.tui.explain_tab import ExplainTab
from evalrefine.tui.file_actions import FileActions
from evalrefine.tui.files import OpenedPrompt, read_prompts
from evalrefine.tui.lint_tab import LintTab
from evalrefine.tui.loading import EarlyLoad, LoadProgress, open_session_saying, shared
from evalrefine.tui.messages import (
    CandidateChosen,
    ExplainRequested,
    LintRequested,
    LoadStatus,
    OpenConversation,
    Scored,
    SessionReady,
    WorkFailed,
)
from evalrefine.tui.refine_tab import RefineTab
from evalrefine.tui.terminal import quiet_libraries, screen_only
from evalrefine.tui.versions import HistoryTab, prompt_score
from evalrefine.tui.widgets import HelpScreen, ScorePanel, headline, score_renderable

DEBOUNCE_SECONDS = 0.6
NARROW = 110
"""Below this many columns the score panel gives way to a headline bar under the editor."""
SessionFactory = Callable[[Settings], Session]
STOPPABLE = ("refine", "verify", "explain", "compare", "lint")
"""The worker groups Esc stops (scoring is cheap and always current; loading cannot be stopped)."""


class EvalRefineApp(FileActions):
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
        Binding("escape", "stop", "Stop", show=False),  # not priority: a dialog's Esc closes the dialog
        # alt+digit is not typeable everywhere (a Mac terminal's option+4 types ¢): ctrl+page up/down too.
        *(Binding(f"alt+{i}", f"show_tab('{tab}')", tab.title(), show=False) for i, tab in enumerate(TABS, 1)),
        Binding("ctrl+pagedown", "next_tab(1)", "Next tab", priority=True, show=False),
        Binding("ctrl+pageup", "next_tab(-1)", "Previous tab", priority=True, show=False),
    ]

    def __init__(
        self,
        settings: Settings,
        path: Path | None = None,
        factory: SessionFactory | None = None,
        system: str | None = None,
    ) -> None:
        """``system``: a system prompt to put first (``--system``); a prompt with its own is an error."""
        super().__init__()
        self.settings, self.path = settings, path
        self.factory = factory or (lambda s: open_session_saying(s, self.post_message))
        self.session: Session | None = None
        self._warmed = False
        self.last_view: ScoreView | None = None
        self.original_view: ScoreView | None = None
        """The first score of the prompt as opened: the headline shows the change since."""
        self.revision = 0
        self._debounce: Timer | None = None
        self._opened: OpenedPrompt | None = None
        self._also: int = 0
        """How many more prompts the file named on the command line holds (said once it opens)."""
        self._browse = (path.parent if path is not None else Path.cwd()).resolve()
        """Where the open dialog starts: the folder of the file opened last."""
        if path is not None and path.exists():
            prompts = read_prompts(path)  # a bad file is the CLI's one-line error, before the screen opens
            self._opened, self._also = prompts[0], len(prompts) - 1
            self.path = prompts[0].path
        if system is not None:
            opened = self._opened
            conv = opened.conversation if opened else Conversation((Message("user", ""),))
            conv = apply_system(conv, system, str(path) if path is not None else "the new prompt")
            self._opened = replace(opened, conversation=conv) if opened else OpenedPrompt(conv, "", None)

    # -- layout -----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        self.editor = ConversationEditor(self._opened.conversation if self._opened else None, id="editor")
        self.explain_tab, self.refine_tab, self.history = ExplainTab(), RefineTab(), HistoryTab()
        self.compare_tab, self.lint_tab = CompareTab(), LintTab()
        self.panel = ScorePanel(id="score")
        self.headline_bar = Static("loading the model…", id="headline-bar")
        self.tabs = TabbedContent(initial="author")
        self.footer = Footer()
        yield Header()
        with self.tabs:
            with TabPane("Author", id="author"), Horizontal():
                with Vertical(id="editor-pane"):
                    yield self.editor
                    yield self.headline_bar
                yield self.panel
            yield from (self.explain_tab, self.refine_tab, self.history, self.compare_tab, self.lint_tab)
        yield self.footer

    def on_mount(self) -> None:
        self._narrow(self.size.width)
        self.show_title(self._opened.label if self._opened else None)
        if self._also:
            name = self._opened.record if self._opened else ""
            self.notify(f"the file holds {self._also + 1} prompts: opened {name}; ctrl+o picks another", timeout=8)
        self.editor.focus_scored()  # typing starts in the prompt, not on the tab bar
        self.loading = LoadProgress(self, self.settings, self._show_status)
        self.loading.start()
        workers.start(self, "load", workers.load, self.factory, self.settings)

    def _show_status(self, line: str) -> None:
        """A status line in the score panel and, on a narrow screen, in the headline bar."""
        if self.screen_stack:
            self.panel.set_status(line)
            self.headline_bar.update(line)

    def on_load_status(self, message: LoadStatus) -> None:
        self.loading.set_stage(message.text)

    def on_resize(self, event: events.Resize) -> None:
        self._narrow(event.size.width)

    def _narrow(self, width: int) -> None:
        """Narrow terminals: the headline bar replaces the score panel, the footer packs its keys."""
        self.set_class(width < NARROW, "narrow")
        self.footer.compact = width < NARROW

    @property
    def main(self) -> Screen[object]:
        """The screen the app composed (bottom of the stack), whatever dialog is showing."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) lists every action of the app, the editor and the tabs."""
        yield from super().get_system_commands(screen)
        for title, help_text, action, where in COMMANDS:
            yield SystemCommand(title, help_text, partial(self._command, action, where))

    async def _command(self, action: str, where: str) -> None:
        node: DOMNode = {"app": self, "editor": self.editor, "refine": self.refine_tab}[where]
        if where != "app":  # the turn and candidate actions act on their tab: show it
            self.action_show_tab("author" if where == "editor" else "refine")
        await self.run_action(action, node)

    # -- state ------------------------------------------------------------------------------------
    def conversation(self) -> Conversation:
        """What is scored: the editor's conversation up to the last user turn."""
        return self.editor.scored_conversation()

    def scored_text(self) -> str:
        return self.conversation().messages[-1].content

    def set_user_text(self, text: str) -> None:
        self.editor.set_scored_text(text)

    async def show_conversation(self, conv: Conversation, path: Path | None, label: str) -> None:
        """Put another prompt in the editor (its file, or ``None`` when it lives in a log, a dataset
        or a linted file that ctrl+s must not overwrite): history, candidates and original start afresh."""
        self.path = path
        await self.editor.load(conv)
        self.history.reset()
        self.refine_tab.clear()
        self.original_view = None  # the next score is this prompt's original
        self.show_title(label)
        self.revision += 1
        self.action_score()

    # -- messages from workers and tabs -----------------------------------------------------------
    @while_open
    def on_session_ready(self, message: SessionReady) -> None:
        self.loading.done()
        self.session = message.session
        # One embedder for the whole app, built by the first refine or by the warm-up after the
        # first score, whichever comes first; Esc and newer work stop the model mid-forward-pass.
        self.session.services = replace(self.session.services, embedder=shared(self.session.services.embedder))
        workers.interruptible(self.session.backend)
        self.headline_bar.update("scoring…")
        ref = self.session.reference
        self.sub_title = f"{self.session.backend.name} · reference: {ref.name if ref else 'none'}"
        for note in self.session.reference_notes:  # a reference for these weights that could not be used, and why
            self.notify(note, severity="warning", timeout=10, markup=False)
        self.action_score()

    @while_open
    def on_work_failed(self, message: WorkFailed) -> None:
        if message.what == "loading the model":
            self.loading.done()
            self.headline_bar.update(f"{message.what} failed: {message.error}")
        self.fail(message.what, message.error)
        self.panel.set_status(f"{message.what} failed: {message.error}")

    @while_open
    def on_scored(self, message: Scored) -> None:
        if message.revision != self.revision or self.session is None:
            return  # a stale score of text that has changed since
        self.last_view = message.view
        if self.original_view is None:
            self.original_view = message.view
        self.panel.set_status(f"scored revision {message.revision}")
        self.panel.show(score_renderable(message.view, self.session))
        line = headline(message.view, self.original_view, self.session)
        self.panel.set_headline(line)
        self.headline_bar.update(line)
        self.history.record(self.scored_text(), message.view)
        if not self._warmed:  # the first score is on screen: now prepare refine while the user reads
            self._warmed = True
            workers.start(self, "warm", workers.warm, self.session)

    def on_conversation_editor_changed(self) -> None:
        self.revision += 1
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self.action_score)

    def on_explain_requested(self, message: ExplainRequested) -> None:
        if self.session is not None and self.tabs.active == "explain":
            self.action_explain()

    def on_candidate_chosen(self, message: CandidateChosen) -> None:
        if message.context != self.editor.context():
            self.notify("these candidates were written for another prompt: refine again (F4)", severity="warning")
            return
        v, current = message.version, self.scored_text()
        versions = self.history.versions
        if versions and versions[-1].text == v.text and current == v.text:
            self.notify(f"candidate {v.id} is already the current version")
            return
        if self.last_view is not None and versions and versions[-1].text != current:
            # Hand edits since the last version become a version of their own, so undo returns to them.
            self.history.add(Version(-1, None, 0, current, prompt_score(self.last_view)), "your edit")
        self.history.add(v, f"candidate {v.id} (iteration {v.iteration})")
        self.set_user_text(v.text)
        self.notify(f"accepted candidate {v.id}")
        if message.edit:
            self._show_tab("author", self.editor.focus_scored)

    def on_lint_requested(self, message: LintRequested) -> None:
        if self.session is None:
            self.notify("the model is still loading")
            return
        workers.start(self.lint_tab, "lint", workers.lint, self.session, message.path)

    async def on_open_conversation(self, message: OpenConversation) -> None:
        if self.dirty:  # never replace unsaved work
            self.notify("unsaved changes: save first (ctrl+s)", severity="warning")
            return
        await self.show_conversation(message.conversation, message.path, message.label)
        self._show_tab("author", self.editor.focus_scored)

    # -- actions ----------------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        """Show ``tab`` with the focus on its main widget (a focused widget on the tab left behind
        would pull its tab back)."""
        if tab == "author":
            self._show_tab(tab, self.editor.focus_scored)
            return
        pane = self.tabs.get_pane(tab)
        self._show_tab(tab, pane.query_one(FOCUS[tab]).focus)

    def action_next_tab(self, step: int) -> None:
        self.action_show_tab(TABS[(TABS.index(self.tabs.active) + step) % len(TABS)])

    def _show_tab(self, tab: str, focus: Callable[[], object]) -> None:
        """Switch tabs and move the focus there (a focused editor would pull its own tab back)."""
        self.tabs.active = tab
        focus()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):  # F1 again closes it (the app's F1 comes first)
            self.screen.dismiss()
        elif len(self.screen_stack) == 1:
            self.push_screen(HelpScreen())

    @while_open
    def action_score(self) -> None:
        if self.session is None:
            return
        self.panel.set_status(f"scoring revision {self.revision}…")
        workers.start(self, "score", workers.score, self.session, self.conversation(), self.revision)

    def action_explain(self) -> None:
        if self.session is None:
            return
        tab = self.explain_tab
        self._show_tab("explain", tab.query_one("#spans").focus)
        tab.waiting()
        workers.start(tab, "explain", workers.explain, self.session, self.conversation(), tab.method, tab.granularity)

    def action_refine(self, iterations: int) -> None:
        if self.session is None:
            return
        self._show_tab("refine", self.refine_tab.query_one("#candidates").focus)
        percentile = self.last_view.placement.percentile if self.last_view and self.last_view.placement else None
        self.refine_tab.begin(self.editor.context(), self.scored_text(), percentile)
        workers.start(self.refine_tab, "refine", workers.refine, self.session, self.conversation(), iterations)

    def action_compare(self) -> None:
        if self.session is None or not self.history.versions:
            return
        if not self.compare_tab.compare(self.session, self.conversation(), self.history.texts):
            self.notify("nothing to compare yet: edit the prompt or accept a suggestion", severity="warning")
            return
        self._show_tab("compare", self.compare_tab.query_one("#comparison-scroll").focus)

    def action_verify(self) -> None:
        if self.session is None or not self.history.versions:
            return
        current = self.conversation()
        original = Conversation((*current.messages[:-1], Message("user", self.history.versions[0].text)))
        if original == current:
            self.notify("nothing to verify yet: edit the prompt or accept a suggestion", severity="warning")
            return
        self._show_tab("compare", self.compare_tab.query_one("#comparison-scroll").focus)
        self.compare_tab.verify(self.session, original, current)

    def action_stop(self) -> None:
        """Esc: stop the running refine, verify, explain, compare or lint; what came in stays."""
        running = [w for w in self.workers if w.group in STOPPABLE and w.is_running]
        for worker in running:
            worker.cancel()  # sets the job's cancel event: it stops at its next step, posting nothing more
        groups = sorted({w.group for w in running})
        for group in groups:
            stopped = {"refine": self.refine_tab.stopped, "explain": self.explain_tab.stopped}
            stopped["lint"] = self.lint_tab.stopped
            stopped.get(group, partial(self.compare_tab.stopped, group))()
        if groups:
            self.notify(f"stopped {' and '.join(groups)}")

    def action_undo(self) -> None:
        text = self.history.undo()
        if text is None:
            self.notify("no earlier version", severity="warning")
            return
        self.set_user_text(text)


def run(settings: Settings, path: Path | None, system: str | None = None) -> None:
    """The ``tui`` front end's entry point (registered under ``evalrefine.front_ends``; the CLI finds it there).
    ``system``: a system prompt to put first, as ``--system`` does for the other commands."""
    quiet_libraries()
    workers.share_cpu()
    app = EvalRefineApp(settings, path, system=system)  # reads the file: a bad one fails before any load
    with screen_only():
        early = EarlyLoad(settings)  # the model loads while Textual builds the screen
        app.factory = lambda _settings: early.session(app.post_message)
        app.run()
    workers.leave(app.return_code or 0)
