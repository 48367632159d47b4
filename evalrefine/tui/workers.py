"""The TUI's background work: each function runs one core operation through the Session in a thread
worker and posts its results, as typed messages, to the widget that shows them.

:func:`start` runs a job as an ``exclusive`` thread worker of that widget: a newer job of the same
group cancels the stale one (a newer edit, a second refine), and long loops get the worker's own
cancel event. Posting from a thread is safe in Textual; typing never waits for the model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import get_current_worker

from evalrefine.config import Settings
from evalrefine.core.conversation import Conversation
from evalrefine.core.session import Session
from evalrefine.errors import EvalRefineError
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

Post = Callable[[Message], object]


def start(node: DOMNode, group: str, job: Callable[..., None], *args: object) -> None:
    """Run ``job(node.post_message, *args)`` as ``node``'s exclusive thread worker of ``group``."""
    node.run_worker(partial(job, node.post_message, *args), thread=True, exclusive=True, group=group, name=group)


def _failed(post: Post, what: str, job: Callable[[], object]) -> None:
    try:
        job()
    except EvalRefineError as exc:
        post(WorkFailed(what, str(exc)))


def load(post: Post, factory: Callable[[Settings], Session], settings: Settings) -> None:
    _failed(post, "loading the model", lambda: post(SessionReady(factory(settings))))


def score(post: Post, session: Session, conversation: Conversation, revision: int) -> None:
    def job() -> None:
        view = session.score(conversation)
        if not get_current_worker().is_cancelled:
            post(Scored(view, revision))

    _failed(post, "scoring", job)


def explain(post: Post, session: Session, conversation: Conversation, method: str, granularity: str) -> None:
    _failed(post, "explain", lambda: post(Explained(session.explain(conversation, method, granularity), conversation)))


def refine(post: Post, session: Session, conversation: Conversation, iterations: int) -> None:
    def job() -> None:
        for event in session.refine(
            conversation, (), session.refine_config(iterations), get_current_worker().cancelled_event
        ):
            post(RefineProgress(event))

    _failed(post, "refine", job)


def compare(post: Post, session: Session, variants: list[tuple[str, Conversation]]) -> None:
    _failed(post, "compare", lambda: post(Compared(session.compare(variants))))


def verify(post: Post, session: Session, original: Conversation, current: Conversation) -> None:
    def job() -> None:
        for step in session.verify(original, current, get_current_worker().cancelled_event):
            post(Verified(step))

    _failed(post, "verify", job)


def lint(post: Post, session: Session, path: str) -> None:
    def job() -> None:
        for event in session.lint([path], get_current_worker().cancelled_event):
            post(LintProgress(event))

    _failed(post, "lint", job)
