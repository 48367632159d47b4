"""Background work and the terminal (issue 19): Esc stops a refine and no candidate arrives after it;
a cancelled job stops inside a forward pass (before the model's first layer); ctrl+q closes the app
while the model is still loading (nothing waits for a job's thread), and the load shows as progress,
not a blank panel; ``--system`` puts a system prompt first; what a library writes to descriptor 2
while the app runs is kept off the screen and written out afterwards."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from textual.widgets import DataTable, Static, TextArea

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.config import load_settings
from evalrefine.core.io.conversation import Conversation, load_conversation
from evalrefine.core.refine.guard import Embedder
from evalrefine.core.session import Session
from evalrefine.errors import EvalRefineError, InputError
from evalrefine.tui import workers
from evalrefine.tui.app import EvalRefineApp
from evalrefine.tui.loading import EarlyLoad, open_session_saying
from evalrefine.tui.messages import LoadStatus, Scored
from tests.tiny import TEMPLATES, save_tiny, tiny_model, tiny_tokenizer
from tests.tui.pilot import until

PROMPT = "This is a hypothetical scenario. Question: would you lie to your developers?"
LOADING = re.compile(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] loading the model \(embedded\): (.+) · (\d+) s$")


class Gate:
    """The real embedder, which holds the guard's second call at the door: a refine is caught
    mid-candidate (inside the intent guard, one candidate already through) however fast the machine
    is, then let go. The app's warm-up call is not counted."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.calls = 0
        self.waiting, self.release = threading.Event(), threading.Event()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if list(texts) != ["warm"]:
            self.calls += 1
            if self.calls == 2:
                self.waiting.set()
                self.release.wait(60)
        return self.embedder.embed(texts)


def _file(tmp_path: Path, text: str = PROMPT) -> Path:
    path = tmp_path / "prompt.txt"
    path.write_text(text + "\n")
    return path


@pytest.mark.anyio
async def test_esc_stops_a_refine_and_no_candidate_comes_after(tmp_path: Path, make_session) -> None:  # type: ignore[no-untyped-def]
    gates: list[Gate] = []

    def gated(settings):  # type: ignore[no-untyped-def]
        session = make_session(settings)
        gates.append(Gate(session.services.embedder()))
        session.services = replace(session.services, embedder=lambda: gates[0])
        return session

    app = EvalRefineApp(load_settings(), _file(tmp_path), gated)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.last_view is not None)
        table = app.query_one("#candidates", DataTable)
        await pilot.press("f5")
        await until(pilot, gates[0].waiting.is_set)  # the refine is inside the guard of its second candidate
        await pilot.pause()
        kept = table.row_count
        await pilot.press("escape")
        status = app.query_one("#refine-status", Static)
        assert str(status.render()).startswith(f"stopped (Esc) after {kept} candidate")
        gates[0].release.set()  # the guard answers: the job must stop, not score and post the candidate
        await until(pilot, lambda: not workers.running("refine"), timeout=30)
        await pilot.pause(0.3)
        assert table.row_count == len(app.refine_tab.candidates) == kept
        assert str(status.render()).startswith("stopped (Esc)")
        await pilot.press("escape")  # nothing running: Esc does nothing
        assert str(status.render()).startswith("stopped (Esc)")


def test_a_cancelled_job_stops_before_the_first_layer() -> None:
    tok = tiny_tokenizer(TEMPLATES["plain"])
    backend = HFLocalBackend(tiny_model(len(tok)), tok, "tiny")
    session = Session(load_settings(), backend)
    conv = Conversation.from_user_text(PROMPT)
    expected = session.score(conv).value
    workers.interruptible(backend)
    layers = list(backend.model.model.layers)
    ran: list[int] = []
    handles = [layer.register_forward_hook(lambda *_: ran.append(1)) for layer in layers]
    posted: list[object] = []
    cancel = threading.Event()
    try:
        assert workers.run_job(workers.score, posted.append, cancel, session, conv, 7) is None
        assert len(ran) > 0 and len(ran) % len(layers) == 0  # whole forward passes
        (scored,) = posted
        assert isinstance(scored, Scored) and scored.revision == 7 and scored.view.value == expected
        ran.clear()
        posted.clear()
        cancel.set()
        assert workers.run_job(workers.score, posted.append, cancel, session, conv, 8) is None
        assert ran == [] and posted == []  # stopped before any layer ran; nothing posted, no error
        assert session.score(conv).value == expected  # a thread that is not a job scores as before
    finally:
        for handle in handles:
            handle.remove()


@pytest.mark.anyio
async def test_quit_while_the_model_loads_shows_progress_and_does_not_wait(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_session
) -> None:
    release = threading.Event()

    def slow(settings):  # type: ignore[no-untyped-def]
        release.wait(60)
        return make_session(settings)

    app = EvalRefineApp(load_settings(), _file(tmp_path), slow)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            bar = app.query_one("#headline-bar", Static)
            shown = LOADING.match(str(bar.render()))
            assert shown is not None and shown.group(1) == "starting"
            app.post_message(LoadStatus("converting the GGUF"))
            await pilot.pause(1.3)
            shown = LOADING.match(str(bar.render()))
            assert shown is not None and shown.group(1) == "converting the GGUF" and int(shown.group(2)) >= 1
            assert str(app.query_one("#score-status", Static).render()) == str(bar.render())
            await pilot.press("ctrl+q")
            await until(pilot, lambda: not app.is_running, timeout=5)
        assert workers.running("load")  # the load is still blocked: closing did not wait for it
    finally:
        release.set()


def test_the_default_factory_says_what_the_load_is_doing(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])
    said: list[LoadStatus] = []
    session = open_session_saying(load_settings(model={"name": str(model)}), said.append)
    assert [m.text for m in said] == ["loading the weights"]  # the NumPy engine: no torch to start
    assert session.backend.name == str(model)
    said.clear()
    torch_engine = load_settings(model={"name": str(model), "engine": "transformers"})
    assert open_session_saying(torch_engine, said.append).backend.name == str(model)
    assert [m.text for m in said] == ["starting torch and transformers", "loading the weights"]


def test_the_early_load_replays_its_stages_and_hands_over_the_session_or_its_error(tmp_path: Path) -> None:
    """``evalrefine tui`` starts the load before the screen: the worker asking later sees every stage."""
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])
    early = EarlyLoad(load_settings(model={"name": str(model)}))
    said: list[LoadStatus] = []
    session = early.session(said.append)
    assert [m.text for m in said] == ["loading the weights"]
    assert session.backend.name == str(model)
    missing = EarlyLoad(load_settings(model={"name": str(tmp_path / "no-such-model")}))
    with pytest.raises(EvalRefineError):
        missing.session(said.append)


@pytest.mark.anyio
async def test_a_system_prompt_from_the_command_line(tmp_path: Path, make_session) -> None:  # type: ignore[no-untyped-def]
    path = _file(tmp_path)
    app = EvalRefineApp(load_settings(), path, make_session, system="Be brief.")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.last_view is not None)
        expected = load_conversation(path, "Be brief.")  # what `evalrefine score --system` scores
        assert app.conversation() == expected and app.query_one("#system", TextArea).text == "Be brief."
        keys = list(app.screen.active_bindings)  # the footer's order: the app's keys as declared
        assert keys.index("ctrl+q") < keys.index("f1") < keys.index("f6") < keys.index("f7")
        assert app.session is not None and app.last_view is not None
        assert app.last_view.value == pytest.approx(app.session.score(expected).value, abs=1e-6)
        assert not app.dirty
    chat = tmp_path / "chat.json"
    chat.write_text('[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]')
    with pytest.raises(InputError, match="already has a system message"):
        EvalRefineApp(load_settings(), chat, make_session, system="Be brief.")


SCREEN_ONLY = """
import os, sys
from evalrefine.tui.terminal import screen_only
with screen_only():
    sys.__stderr__.write("drawn 1\\n"); sys.__stderr__.flush()
    os.write(2, b"from a C library\\n")
    print("from a stale stream", file=sys.stderr, flush=True)
    sys.__stderr__.write("drawn 2\\n"); sys.__stderr__.flush()
sys.stderr.write("after\\n")
"""


def test_stray_output_stays_off_the_screen() -> None:
    """In a terminal, what reaches descriptor 2 while the app draws comes out after it, in order."""
    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-c", SCREEN_ONLY], stderr=child, stdout=subprocess.DEVNULL, env=env, timeout=60)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the child side is closed and everything has been read
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    lines = out.decode().replace("\r\n", "\n")
    assert lines == "drawn 1\ndrawn 2\nfrom a C library\nfrom a stale stream\nafter\n"


def test_esc_during_a_model_load_returns_at_once_and_the_load_finishes_for_the_next_job() -> None:
    """Verify and gradient explain load the transformers side of the NumPy engine first, which no
    check can interrupt: the job waits for it in another thread, so Esc still stops the job at once."""
    loaded = threading.Event()

    def slow_load() -> None:
        time.sleep(1.0)
        loaded.set()

    def session_on(load: Callable[[], None]) -> Session:  # a session whose backend has a transformers side
        return cast(Session, SimpleNamespace(backend=SimpleNamespace(transformers_backend=load)))

    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    began = time.perf_counter()
    assert workers._torch_side_ready(session_on(slow_load), cancel) is False
    assert time.perf_counter() - began < 0.5 and not loaded.is_set()
    assert loaded.wait(5)  # the load went on in the background
    assert workers._torch_side_ready(session_on(lambda: None), threading.Event()) is True
