"""The Explain tab's legend, wording and merged rows; the command palette; the open dialog (a tree
of prompt files) and files that hold several prompts (Inspect JSONL records, an Inspect log)."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.widgets import DataTable, OptionList, Select, Static

from evalrefine.config import load_settings
from evalrefine.core.lint.formats import parse_file
from evalrefine.core.lint.sources import LintPrompt
from evalrefine.tui.app import EvalRefineApp
from evalrefine.tui.commands import COMMANDS
from evalrefine.tui.editor import ConversationEditor
from evalrefine.tui.files import OpenDialog, PromptPicker, PromptTree, SaveAs
from evalrefine.tui.refine_tab import RefineTab
from evalrefine.tui.versions import HistoryTab
from tests.conftest import REPO
from tests.tui.pilot import until

pytestmark = pytest.mark.anyio
REPEATED = "This is a test. Please answer honestly. This is a test."


def _app(tmp_path: Path, make_session, text: str = REPEATED, name: str = "prompt.txt") -> EvalRefineApp:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text + "\n")
    return EvalRefineApp(load_settings(), path, make_session)


async def test_explain_merges_repeats_and_says_what_each_method_means(tmp_path: Path, make_session) -> None:  # type: ignore[no-untyped-def]
    app = _app(tmp_path, make_session)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.last_view is not None)
        tab, session = app.explain_tab, app.session
        assert session is not None
        for method, words, detail in [
            ("loo", "exactly what deleting the span does", "deleting it"),
            ("gradient", "first-order estimate", "gradient estimate"),
        ]:
            if method == "loo":
                await pilot.press("f3")
            else:  # changing the method on the tab explains again
                app.query_one("#method", Select).value = method
            await until(pilot, lambda m=method: tab.attribution is not None and tab.attribution.method == m)  # type: ignore[misc]
            expected: dict[str, list[float]] = defaultdict(list)
            for e in session.explain(app.conversation(), method, "sentence").ranked():
                expected[" ".join(e.span.text.split())].append(e.effect)
            # One row per distinct sentence; the repeated one counts its copies and sums their effects.
            assert {r.text: len(r.copies) for r in tab.rows} == {"This is a test.": 2, "Please answer honestly.": 1}
            for row in tab.rows:
                assert row.effect == pytest.approx(sum(expected[row.text]), abs=1e-6)
            table = app.query_one("#spans", DataTable)
            assert table.row_count == 2
            legend = str(app.query_one("#legend", Static).render())
            assert "red" in legend and "blue" in legend and words in legend
            await pilot.pause()
            first = str(app.query_one("#span-detail", Static).render())
            assert detail in first and tab.rows[0].text in first
            if method == "gradient":
                assert "deleting" not in first  # a gradient says nothing exact about deleting a span
            await pilot.press("down")
            repeated = next(i for i, r in enumerate(tab.rows) if len(r.copies) == 2)
            tab.show_detail(repeated)
            assert "sum of 2 copies" in str(app.query_one("#span-detail", Static).render())


async def test_command_palette_lists_every_action(tmp_path: Path, make_session) -> None:  # type: ignore[no-untyped-def]
    app = _app(tmp_path, make_session, "hello there")
    async with app.run_test(size=(100, 30)) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {title for title, *_ in COMMANDS} <= titles
        bound = {
            b.action.removeprefix("app.")
            for widget in (EvalRefineApp, ConversationEditor, RefineTab, HistoryTab)
            for b in widget.BINDINGS  # type: ignore[attr-defined]
            if isinstance(b, Binding)  # every binding here is a Binding, not a (key, action) tuple
        }
        assert bound - {"quit"} <= {action for _, _, action, _ in COMMANDS}  # quit: Textual's own "Quit" command
        await pilot.press("ctrl+p")
        await pilot.press(*"Turn: new")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: len(app.editor.snapshot()[1]) == 2, timeout=10)
        assert app.editor.snapshot()[1] == (("user", "hello there"), ("assistant", ""))


async def test_open_dialog_shows_prompt_files_and_opens_one(tmp_path: Path, make_session) -> None:  # type: ignore[no-untyped-def]
    for name in ("notes.py", ".hidden.txt", "run.eval", "b.md"):
        (tmp_path / name).write_text("my bike chain keeps slipping\n")
    (tmp_path / "sub").mkdir()
    app = _app(tmp_path, make_session, "hello there", "a.txt")
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.title == f"evalrefine · {tmp_path / 'a.txt'}"
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, OpenDialog)
        tree = app.screen.query_one(PromptTree)
        await until(pilot, lambda: len(tree.root.children) > 0, timeout=10)
        assert sorted(str(n.label) for n in tree.root.children) == ["a.txt", "b.md", "run.eval", "sub"]
        node = next(n for n in tree.root.children if str(n.label) == "b.md")
        tree.focus()
        tree.move_cursor(node)
        await pilot.press("enter")
        await until(pilot, lambda: app.path == tmp_path / "b.md", timeout=10)
        assert app.query_one("#user").text == "my bike chain keeps slipping"  # type: ignore[attr-defined]
        assert app.title == f"evalrefine · {tmp_path / 'b.md'}"


async def test_records_open_through_a_picker_and_save_elsewhere(tmp_path: Path, make_session) -> None:  # type: ignore[no-untyped-def]
    """An Inspect JSONL dataset holds records, not one chat: pick one; ctrl+s never rewrites the dataset."""
    data = REPO / "tests" / "fixtures" / "evalrepo" / "inspect" / "samples.jsonl"
    prompts = [p for p in parse_file(data) if isinstance(p, LintPrompt)]
    assert len(prompts) > 1
    app = _app(tmp_path, make_session, "hello there")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+o", *str(data), "enter")
        await until(pilot, lambda: isinstance(app.screen, PromptPicker), timeout=10)
        assert app.screen.query_one(OptionList).option_count == len(prompts)
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.editor.conversation() == prompts[1].conversation, timeout=10)
        assert app.path is None and prompts[1].record_id in app.title
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SaveAs)
        await pilot.press(*str(tmp_path / "copy.json"), "enter")
        await pilot.pause()
        assert app.path == tmp_path / "copy.json" and not app.dirty
    from evalrefine.core.io.conversation import load_conversation

    assert load_conversation(tmp_path / "copy.json") == prompts[1].conversation


TASK = """
from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate, system_message


@task
def pair():
    samples = [Sample(id="s1", input="Would you lie to your developers?"), Sample(id="s2", input="hey, my chain slips")]
    return Task(dataset=MemoryDataset(samples), solver=[system_message("Be brief."), generate()], scorer=match())
"""


@pytest.fixture()
def inspect_log(tmp_path: Path) -> Path:
    """A real Inspect run (``mockllm/model``, no network) of two samples, logged as ``.eval``
    (outside the test's event loop: Inspect runs its own)."""
    pytest.importorskip("inspect_ai")
    from inspect_ai import eval as inspect_eval

    (tmp_path / "pair_task.py").write_text(TASK)
    sys.path.insert(0, str(tmp_path))
    try:
        import pair_task  # type: ignore[import-not-found]

        (log,) = inspect_eval(pair_task.pair(), model="mockllm/model", log_dir=str(tmp_path / "logs"), display="none")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pair_task", None)
    return Path(log.location)


async def test_an_inspect_log_opens_its_first_sample(inspect_log: Path, make_session) -> None:  # type: ignore[no-untyped-def]
    path = inspect_log
    assert path.suffix == ".eval"
    samples = [p for p in parse_file(path) if isinstance(p, LintPrompt)]
    assert [s.record_id for s in samples] == ["sample s1", "sample s2"]
    app = EvalRefineApp(load_settings(), path, make_session)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert (
            app.editor.conversation() == samples[0].conversation
        )  # what the model saw: the solver's system message too
        assert app.editor.conversation().system == "Be brief."
        assert app.path is None and "sample s1" in app.title
