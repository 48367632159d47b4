"""The TUI's background work: each function runs one core operation through the Session in a thread
and posts its results, as typed messages, to the widget that shows them.

:func:`start` runs a job in a *daemon* thread of its own, watched by an ``exclusive`` Textual worker
of that widget: a newer job of the same group (a newer edit, a second refine), Esc or quitting
cancels the worker at once, which sets the job's cancel event. From then on the job posts nothing,
and it stops at its next check: between refine candidates, rollouts and lint batches, and (once
:func:`interruptible` has hooked the model) before each layer of a forward pass, so a stale score
or a stopped refine gives the CPU back within milliseconds instead of after its attribution pass.

Nothing waits for a job's thread. A Textual thread worker (a thread of the event loop's executor)
would hold ctrl+q until its work ended, since the loop and the interpreter join those threads on
exit; a model load cannot be interrupted at all. A daemon thread is not joined, and :func:`leave`
ends the process as soon as the app has closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from textual.dom import DOMNode
from textual.message import Message

from evalrefine.config import Settings
from evalrefine.core.io.conversation import Conversation
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
T = TypeVar("T")
_live: set[threading.Thread] = set()
"""Job threads still running (possibly cancelled, finishing the step they are in)."""
_job = threading.local()
"""The running job's cancel event, in its own thread (read by the forward-pass hook)."""
_hooked: weakref.WeakSet[Any] = weakref.WeakSet()


class Cancelled(BaseException):
    """Raised inside a cancelled job's forward pass to unwind it. A BaseException, so no
    ``except Exception`` on the way out mistakes it for a failure of the model."""


def _check(*_: object) -> None:
    cancel: threading.Event | None = getattr(_job, "cancel", None)
    if cancel is not None and cancel.is_set():
        raise Cancelled


def interruptible(backend: object) -> None:
    """Let a cancelled job stop inside a forward pass of ``backend``'s model: the local backends run a
    check before each layer (``on_layer``); other threads, the CLI and the API are unaffected."""
    on_layer = getattr(backend, "on_layer", None)
    if not callable(on_layer) or backend in _hooked:
        return  # a remote model: each request is short, and the job stops after it
    on_layer(_check)
    _hooked.add(backend)


def start(node: DOMNode, group: str, job: Callable[..., None], *args: object) -> None:
    """Run ``job(post, cancel, *args)`` in a daemon thread, watched by ``node``'s exclusive worker of
    ``group``; ``post`` delivers messages to ``node`` until the job is cancelled."""
    cancel = threading.Event()

    def post(message: Message) -> None:
        if not cancel.is_set():  # a cancelled job's late results must not land on screen
            node.post_message(message)

    async def watch() -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def finished(error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(None)

        def body() -> None:
            try:
                error = run_job(job, post, cancel, *args)
            finally:
                _live.discard(threading.current_thread())
            if not cancel.is_set():
                with contextlib.suppress(RuntimeError):  # the loop has closed: the app is gone
                    loop.call_soon_threadsafe(finished, error)

        thread = threading.Thread(target=body, name=f"evalrefine-{group}", daemon=True)
        _live.add(thread)
        thread.start()
        try:
            await done
        finally:  # cancelled (a newer job, Esc, quit) or done: either way the job must stop
            cancel.set()

    node.run_worker(watch, exclusive=True, group=group, name=group)  # type: ignore[arg-type]


def run_job(job: Callable[..., None], post: Post, cancel: threading.Event, *args: object) -> BaseException | None:
    """Run ``job(post, cancel, *args)`` in this thread as a job that ``cancel`` stops, inside a forward
    pass too; the error it raised, or ``None`` when it finished or was cancelled."""
    _job.cancel = cancel
    try:
        job(post, cancel, *args)
    except Cancelled:
        pass
    except BaseException as exc:  # re-raised in the worker: Textual shows it and exits
        return exc
    finally:
        _job.cancel = None
    return None


def running(group: str | None = None) -> bool:
    """Whether a job thread (of ``group``) is still at work, cancelled or not."""
    return any(t.is_alive() and (group is None or t.name == f"evalrefine-{group}") for t in list(_live))


def share_cpu() -> None:
    """Before torch loads: its OpenMP threads wait for work by spinning, which on a busy machine (or
    a two-core one, where the event loop needs a core too) burns the CPU the forward pass and the
    screen need. Passive waiting made three scores take 2.2 s instead of 8 to 12 s on a loaded
    two-core machine (benchmarks/bench_tui.py). An ``OMP_WAIT_POLICY`` the user set is kept."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def leave(code: int = 0) -> None:
    """End the process now that the app has closed and the terminal is restored (``evalrefine tui``
    only). A job may still be at work (a model load, a forward pass), and even without one, tearing
    down torch, transformers and sympy at interpreter exit takes seconds (7 s on a busy two-core
    machine) after the user pressed ctrl+q. Nothing is left to save: files are written on ctrl+s."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _until_cancelled(events: Iterable[T], cancel: threading.Event) -> Iterable[T]:
    """Stop iterating a core generator as soon as ``cancel`` is set (it is closed when dropped)."""
    for event in events:
        if cancel.is_set():
            return
        yield event


def _torch_side_ready(session: Session, cancel: threading.Event) -> bool:
    """Load the transformers side of the NumPy engine (gradients and sampling run there; no check can
    interrupt a load) in a daemon thread, waiting for it or for Esc: a cancelled job returns at once
    and the load finishes in the background, ready for the next job. Any other backend is ready. A
    failed load is not reported here: the job's own call of it raises the error again."""
    load = getattr(session.backend, "transformers_backend", None)
    if not callable(load):
        return True
    done = threading.Event()

    def run() -> None:
        with contextlib.suppress(Exception):
            load()
        done.set()

    threading.Thread(target=run, name="evalrefine-model-load", daemon=True).start()
    while not done.wait(0.02):
        if cancel.is_set():
            return False
    return True


def _failed(post: Post, what: str, job: Callable[[], object]) -> None:
    try:
        job()
    except EvalRefineError as exc:
        post(WorkFailed(what, str(exc)))


def load(post: Post, cancel: threading.Event, factory: Callable[[Settings], Session], settings: Settings) -> None:
    _failed(post, "loading the model", lambda: post(SessionReady(factory(settings))))


def score(post: Post, cancel: threading.Event, session: Session, conversation: Conversation, revision: int) -> None:
    _failed(post, "scoring", lambda: post(Scored(session.score(conversation), revision)))


def warm(post: Post, cancel: threading.Event, session: Session) -> None:
    """Build the rewriter and load the intent guard's embedder before the first F4/F5 needs them.
    Silent: a rewriter that cannot be built is reported when refine asks for it, not at start-up."""
    with contextlib.suppress(EvalRefineError):
        session.rewriter()
        session.services.embedder().embed(["warm"])


def explain(
    post: Post, cancel: threading.Event, session: Session, conversation: Conversation, method: str, granularity: str
) -> None:
    if method == "gradient" and not _torch_side_ready(session, cancel):
        return
    _failed(post, "explain", lambda: post(Explained(session.explain(conversation, method, granularity), conversation)))


def refine(post: Post, cancel: threading.Event, session: Session, conversation: Conversation, iterations: int) -> None:
    def job() -> None:
        events = session.refine(conversation, (), session.refine_config(iterations), cancel)
        for event in _until_cancelled(events, cancel):
            post(RefineProgress(event))

    _failed(post, "refine", job)


def compare(post: Post, cancel: threading.Event, session: Session, variants: list[tuple[str, Conversation]]) -> None:
    _failed(post, "compare", lambda: post(Compared(session.compare(variants))))


def verify(
    post: Post, cancel: threading.Event, session: Session, original: Conversation, current: Conversation
) -> None:
    def job() -> None:
        if not _torch_side_ready(session, cancel):
            return
        for step in _until_cancelled(session.verify(original, current, cancel), cancel):
            post(Verified(step))

    _failed(post, "verify", job)


def lint(post: Post, cancel: threading.Event, session: Session, path: str) -> None:
    def job() -> None:
        for event in _until_cancelled(session.lint([path], cancel), cancel):
            post(LintProgress(event))

    _failed(post, "lint", job)
