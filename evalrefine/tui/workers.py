"""The TUI's thread workers: each runs one core operation through the Session and posts its
results back as typed messages. ``exclusive=True`` cancels stale work of the same group (a newer
edit, a second refine); long loops get the worker's own cancel event."""

from __future__ import annotations

from textual import work
from textual.worker import get_current_worker

from evalrefine.config import Settings
from evalrefine.core.conversation import Conversation
from evalrefine.core.session import Session
from evalrefine.errors import EvalRefineError
from evalrefine.tui.base import MainScreenApp
from evalrefine.tui.messages import (
    Compared,
    Explained,
    LintProgress,
    RefineProgress,
    Scored,
    SessionReady,
    Verified,
    WorkFailed,
)


class WorkersMixin(MainScreenApp):
    settings: Settings
    session: Session | None

    def load_factory(self, settings: Settings) -> Session:
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="load")
    def load_session(self) -> None:
        try:
            self.post_message(SessionReady(self.load_factory(self.settings)))
        except EvalRefineError as exc:
            self.post_message(WorkFailed("loading the model", str(exc)))

    @work(thread=True, exclusive=True, group="score")
    def score_worker(self, conversation: Conversation, revision: int) -> None:
        assert self.session is not None
        try:
            view = self.session.score(conversation)
        except EvalRefineError as exc:
            self.post_message(WorkFailed("scoring", str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(Scored(view, revision))

    @work(thread=True, exclusive=True, group="explain")
    def explain_worker(self, conversation: Conversation, method: str, granularity: str) -> None:
        assert self.session is not None
        try:
            self.post_message(Explained(self.session.explain(conversation, method, granularity), conversation))
        except EvalRefineError as exc:
            self.post_message(WorkFailed("explain", str(exc)))

    @work(thread=True, exclusive=True, group="refine")
    def refine_worker(self, conversation: Conversation, iterations: int) -> None:
        assert self.session is not None
        cancel = get_current_worker().cancelled_event
        try:
            for event in self.session.refine(conversation, (), self.session.refine_config(iterations), cancel):
                self.post_message(RefineProgress(event))
        except EvalRefineError as exc:
            self.post_message(WorkFailed("refine", str(exc)))

    @work(thread=True, exclusive=True, group="compare")
    def compare_worker(self, variants: list[tuple[str, Conversation]]) -> None:
        assert self.session is not None
        try:
            self.post_message(Compared(self.session.compare(variants)))
        except EvalRefineError as exc:
            self.post_message(WorkFailed("compare", str(exc)))

    @work(thread=True, exclusive=True, group="verify")
    def verify_worker(self, original: Conversation, current: Conversation) -> None:
        assert self.session is not None
        cancel = get_current_worker().cancelled_event
        try:
            for step in self.session.verify(original, current, cancel):
                self.post_message(Verified(step))
        except EvalRefineError as exc:
            self.post_message(WorkFailed("verify", str(exc)))

    @work(thread=True, exclusive=True, group="lint")
    def lint_worker(self, path: str) -> None:
        assert self.session is not None
        cancel = get_current_worker().cancelled_event
        try:
            for event in self.session.lint(path, cancel):
                self.post_message(LintProgress(event))
        except EvalRefineError as exc:
            self.post_message(WorkFailed("lint", str(exc)))
