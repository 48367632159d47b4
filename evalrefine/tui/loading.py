"""Loading the model, shown as the app's own progress.

A warm start takes seconds (about two on the NumPy engine; importing torch and transformers, five
more where a model needs them; converting a GGUF the first time, half a minute), and a blank panel
for that long looks like a hang. So the default
session factory says what it is doing as it goes (:class:`LoadStatus` messages, from the load
thread), and :class:`LoadProgress` shows that stage, the seconds so far and a spinner that moves.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable

from textual.message_pump import MessagePump
from textual.timer import Timer

from evalrefine.api import open_session
from evalrefine.config import Settings
from evalrefine.core.refine.guard import Embedder
from evalrefine.core.session import Session
from evalrefine.tui.messages import LoadStatus

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def open_session_saying(settings: Settings, say: Callable[[LoadStatus], object]) -> Session:
    """:func:`evalrefine.open_session`, posting each stage of the load (runs in the load thread)."""

    def status(text: str) -> None:
        say(LoadStatus(text.rstrip("…. ")))

    if settings.model.engine == "transformers" and settings.model.server is None:  # the slow part: say so
        status("starting torch and transformers")
        importlib.import_module("transformers")
    status("connecting to the server" if settings.model.server else "loading the weights")
    return open_session(settings, on_status=status)


class EarlyLoad:
    """The model load, started before the app's screen: it is most of a warm start, and it can run
    while Textual imports and lays out the screen (about a second).

    The app's load worker calls :meth:`session` as its factory: it replays the stages said so far,
    passes on the rest as they come, and returns the session (or raises the load's error) once the
    early thread is done. The app module is fully imported before the thread starts, so the two
    threads import disjoint modules.
    """

    def __init__(self, settings: Settings) -> None:
        self._said: list[LoadStatus] = []
        self._sink: Callable[[LoadStatus], object] | None = None
        self._lock = threading.Lock()
        self._result: list[Session] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._load, args=(settings,), name="evalrefine-early-load", daemon=True)
        self._thread.start()

    def _say(self, status: LoadStatus) -> None:
        with self._lock:
            self._said.append(status)
            sink = self._sink
        if sink is not None:
            sink(status)

    def _load(self, settings: Settings) -> None:
        try:
            self._result.append(open_session_saying(settings, self._say))
        except BaseException as exc:  # re-raised in the worker that asks for the session
            self._error.append(exc)

    def session(self, say: Callable[[LoadStatus], object]) -> Session:
        """The loaded session (waits for it), telling ``say`` every stage of the load."""
        with self._lock:
            self._sink = say
            said = list(self._said)
        for status in said:
            say(status)
        self._thread.join()
        if self._error:
            raise self._error[0]
        return self._result[0]


class LoadProgress:
    """What the load is doing and for how long, on ``show`` every quarter second until :meth:`done`."""

    def __init__(self, owner: MessagePump, settings: Settings, show: Callable[[str], None]) -> None:
        self.owner, self.show = owner, show
        self.model = settings.model.server or settings.model.name
        self.stage = "starting"
        self.started = time.monotonic()
        self._timer: Timer | None = None

    def start(self) -> None:
        self.started = time.monotonic()
        self.refresh()
        self._timer = self.owner.set_interval(0.25, self.refresh)

    def set_stage(self, text: str) -> None:
        self.stage = text
        self.refresh()

    def refresh(self) -> None:
        if self.stage == "done":  # a late tick must not cover the score
            return
        seconds = time.monotonic() - self.started
        spin = SPINNER[int(seconds * 4) % len(SPINNER)]
        self.show(f"{spin} loading the model ({self.model}): {self.stage} · {seconds:.0f} s")

    def done(self) -> None:
        self.stage = "done"
        if self._timer is not None:
            self._timer.stop()
            self._timer = None


def shared(make: Callable[[], Embedder]) -> Callable[[], Embedder]:
    """``make()`` built on the first call and shared afterwards (a second caller waits for the first):
    the intent guard's embedder takes seconds to load, and each refine would load its own."""
    lock, made = threading.Lock(), list[Embedder]()

    def get() -> Embedder:
        with lock:
            if not made:
                made.append(make())
            return made[0]

    return get
