"""Regenerate the README's TUI screenshots (SVG) with the embedded model and the shipped reference.

Usage: python docs/make_screenshots.py   (from the repository root; a minute or two on a CPU)

Each picture is taken with no toast on screen and no text cursor (a cursor blinks), and the title
names the example file without a temporary folder, so a regenerated picture only changes when the
app or the model's numbers do. The rules rewriter is used, so it runs offline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from evalrefine.config import load_settings
from evalrefine.tui import workers
from evalrefine.tui.app import EvalRefineApp

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SIZE = (120, 40)


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 600) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise TimeoutError("the screen never reached the expected state")
        await pilot.pause(0.05)
    await pilot.pause(0.3)


async def shot(pilot: Pilot[None], name: str, focus: bool = True) -> None:
    """Save ``name``.svg once the toasts are gone (and, with ``focus`` off, the text cursor)."""
    app = pilot.app
    app.clear_notifications()
    if not focus:
        app.set_focus(None)
    await pilot.pause(0.3)
    app.save_screenshot(f"{name}.svg", str(OUT))
    print(f"  {name}.svg")


def text(app: EvalRefineApp, selector: str) -> str:
    return str(app.main.query_one(selector, Static).render())


async def main() -> None:
    work = Path(tempfile.mkdtemp())
    prompt = work / "hypothetical_scenario.txt"
    shutil.copy(ROOT / "examples" / "hypothetical_scenario.txt", prompt)
    shutil.copytree(ROOT / "tests" / "fixtures" / "evalrepo" / "inspect", work / "evals")
    os.chdir(work)  # so the title shows the file name, not a temporary path
    app = EvalRefineApp(load_settings(refine={"rewriter": "rules"}), Path(prompt.name))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.last_view is not None)
        await shot(pilot, "author", focus=False)

        await pilot.press("f3")
        await until(pilot, lambda: bool(app.explain_tab.rows))
        await shot(pilot, "explain")

        await pilot.press("f5")  # the loop: candidates appear as they are scored
        await until(pilot, lambda: text(app, "#refine-status").startswith("done: "))
        accepted = [v for v in app.refine_tab.candidates.values() if v.accepted and v.score is not None]
        best = min(accepted, key=lambda v: v.score.value if v.score else 0.0)
        table = app.main.query_one("#candidates", DataTable)
        table.move_cursor(row=list(app.refine_tab.candidates).index(best.id))
        await pilot.press("enter")  # its word diff against the text it rewrote
        await shot(pilot, "refine")

        await pilot.press("a")  # accept it: a version to compare and a line in the history
        await until(pilot, lambda: app.last_view is not None and app.scored_text() == best.text)
        await until(pilot, lambda: text(app, "#score-status") == f"scored revision {app.revision}")
        app.action_show_tab("history")
        await shot(pilot, "history")

        await pilot.press("f6")
        await until(pilot, lambda: app.compare_tab.last_comparison is not None)
        await shot(pilot, "compare")

        app.action_show_tab("lint")
        await pilot.press(*"evals", "enter")  # a copy of tests/fixtures/evalrepo/inspect
        lint = app.main.query_one("#lint-table", DataTable)
        await until(pilot, lambda: lint.row_count > 0)
        app.set_focus(lint)
        await shot(pilot, "lint")
    os.chdir(ROOT)
    shutil.rmtree(work)
    print(f"wrote {sorted(p.name for p in OUT.glob('*.svg'))} to {OUT}")
    workers.leave(0)  # as `evalrefine tui` does: no waiting for the warm-up thread or the teardown


if __name__ == "__main__":
    asyncio.run(main())
