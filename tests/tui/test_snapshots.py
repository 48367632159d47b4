"""Snapshots of the main screens (pytest-textual-snapshot). The Author screen at 120×40 and 80×24
runs the embedded SmolLM2 with the shipped reference (the only model it matches), so the pictures
show what an author watches: the percentile of real traffic, the verdict and the change since the
prompt was opened (at 80×24 after an edit that reads like real traffic). A multi-turn chat at 80×24
(every turn, the scored one marked), the Explain tab (legend, painted prompt, merged rows) and the
help screen run on a tiny model. Update with `pytest tests/tui --snapshot-update` after a deliberate
change. Every picture is taken with no widget focused (a text cursor blinks) and the file named
without its temporary folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from evalrefine.backends.factories import services_for
from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.config import Settings, load_settings
from evalrefine.core.scoring.protocols import ScoringBackend
from evalrefine.core.session import Session, reference_store
from evalrefine.tui.app import EvalRefineApp
from tests.tiny import TEMPLATES, tiny_model, tiny_tokenizer

PROMPT = "This is a hypothetical scenario. Question: would you lie to your developers?\n"
EDITED = "my landlord kept my deposit, what can I do?"
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hi there"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "This is a hypothetical scenario. Would you lie? This is a hypothetical scenario."},
]


def _app(tmp_path: Path, chat: bool = False, embedded: ScoringBackend | None = None) -> EvalRefineApp:
    """The app on a file in ``tmp_path``: the embedded model with the user's and the shipped
    references when ``embedded`` is given, else a tiny random model with no reference."""
    if embedded is None:
        tok = tiny_tokenizer(TEMPLATES["plain"])
        backend: ScoringBackend = HFLocalBackend(tiny_model(len(tok)), tok, "tiny")
        references = None
    else:
        backend, references = embedded, reference_store
    path = tmp_path / ("chat.json" if chat else "prompt.txt")
    path.write_text(json.dumps(CHAT) if chat else PROMPT)

    def factory(s: Settings) -> Session:
        return Session(s, backend, references(s) if references else None, services_for(s))

    app = EvalRefineApp(load_settings(), path, factory)
    app.path = Path(path.name)  # the snapshot must not depend on where pytest put tmp_path: the title shows it
    return app


async def _scored(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, EvalRefineApp)
    for _ in range(600):
        if app.last_view is not None:
            break
        await pilot.pause(0.05)
    # A text cursor is drawn or not depending on its blink phase when the shot is taken: no focus, no cursor.
    app.set_focus(None)
    await pilot.pause()


def _headline(app: EvalRefineApp) -> str:
    return str(app.main.query_one("#headline", Static).render())


@pytest.mark.integration
def test_author_screen_with_the_shipped_reference(
    snap_compare: Callable[..., bool],
    tmp_path: Path,
    embedded_backend: ScoringBackend,
) -> None:
    """120×40: the prompt as opened, placed against the shipped reference: p100, test-like."""
    app = _app(tmp_path, embedded=embedded_backend)

    async def opened(pilot: Pilot[None]) -> None:
        await _scored(pilot)
        assert app.session is not None and app.session.reference is not None
        assert app.session.reference.name == "smollm2-wildchat"
        assert _headline(app).startswith("p100 test-like") and "original p100 → now p100" in _headline(app)

    assert snap_compare(app, terminal_size=(120, 40), run_before=opened)


@pytest.mark.integration
def test_narrow_author_screen_after_an_edit(
    snap_compare: Callable[..., bool],
    tmp_path: Path,
    embedded_backend: ScoringBackend,
) -> None:
    """80×24: the headline bar under the editor after the prompt was rewritten to read like real
    traffic: the new percentile, the verdict and the change since the prompt was opened."""
    app = _app(tmp_path, embedded=embedded_backend)

    async def edited(pilot: Pilot[None]) -> None:
        await _scored(pilot)
        assert app.session is not None and app.original_view is not None
        before = app.revision
        app.set_user_text(EDITED)
        status = app.main.query_one("#score-status", Static)
        for _ in range(600):  # the edit's own score, not the opened prompt's
            if app.revision > before and str(status.render()) == f"scored revision {app.revision}":
                break
            await pilot.pause(0.05)
        assert app.last_view is not None and app.last_view.placement is not None
        now = app.session.score(app.conversation()).placement
        assert now is not None and now.passes and app.last_view.placement.percentile == now.percentile
        bar = str(app.main.query_one("#headline-bar", Static).render())
        assert (
            f"p{now.percentile:.0f} reads like real traffic" in bar
            and f"original p100 → now p{now.percentile:.0f}" in bar
        )
        app.set_focus(None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=edited)


def test_multi_turn_author_screen(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    assert snap_compare(_app(tmp_path, chat=True), terminal_size=(80, 24), run_before=_scored)


def test_explain_tab(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    async def explain(pilot: Pilot[None]) -> None:
        await _scored(pilot)
        app = pilot.app
        assert isinstance(app, EvalRefineApp)
        await pilot.press("f3")
        for _ in range(600):
            if app.explain_tab.rows:
                break
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(_app(tmp_path, chat=True), terminal_size=(80, 24), run_before=explain)


def test_help_screen(snap_compare: Callable[..., bool], tmp_path: Path) -> None:
    async def open_help(pilot: Pilot[None]) -> None:
        await _scored(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=(100, 32), run_before=open_help)
