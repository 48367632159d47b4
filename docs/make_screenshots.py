"""Regenerate the README's TUI screenshots (SVG) with the embedded model, at 120x40.

Usage: python docs/make_screenshots.py   (from the repository root; ~1 minute on a CPU)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from evalrefine.config import load_settings
from evalrefine.tui.app import EvalRefineApp

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


async def until(pilot: Pilot[None], cond: Callable[[], bool]) -> None:
    for _ in range(6000):
        if cond():
            await pilot.pause(0.5)
            return
        await pilot.pause(0.05)
    raise TimeoutError("the screen never reached the expected state")


async def main() -> None:
    work = Path(tempfile.mkdtemp())
    prompt = work / "hypothetical_scenario.txt"
    shutil.copy(ROOT / "examples" / "hypothetical_scenario.txt", prompt)
    os.chdir(work)  # so the editor's label shows the file name, not a temporary path
    app = EvalRefineApp(load_settings(), Path(prompt.name))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.last_view is not None)
        app.save_screenshot("author.svg", str(OUT))
        await pilot.press("f3")
        await until(pilot, lambda: app.query_one("#spans").row_count > 0)  # type: ignore[attr-defined]
        app.save_screenshot("explain.svg", str(OUT))
        await pilot.press("f4")
        await until(pilot, lambda: "done (" in str(app.query_one("#refine-status").render()))
        best = min((v for v in app.candidates.values() if v.accepted), key=lambda v: v.score.value)  # type: ignore[union-attr]
        table = app.query_one("#candidates")
        table.move_cursor(row=list(app.candidates).index(best.id))  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause(0.3)
        app.save_screenshot("refine.svg", str(OUT))
        await pilot.press("a")  # accept it, so there is something to compare
        await pilot.press("f6")
        await until(pilot, lambda: app.last_comparison is not None)
        app.save_screenshot("compare.svg", str(OUT))
        app.query_one("TabbedContent").active = "lint"  # type: ignore[attr-defined]
        app.query_one("#lint-path").focus()
        await pilot.press(*str(ROOT / "tests" / "fixtures" / "evalrepo" / "inspect"), "enter")
        await until(pilot, lambda: app.query_one("#lint-table").row_count > 0)  # type: ignore[attr-defined]
        app.save_screenshot("lint.svg", str(OUT))
    os.chdir(ROOT)
    shutil.rmtree(work)
    print(f"wrote {sorted(p.name for p in OUT.glob('*.svg'))} to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
