"""The app's file keys: ctrl+o opens a prompt file, ctrl+s writes every turn back, save as, and the
quit guard (ctrl+q asks before unsaved work is lost). A base class of the app, which supplies the
editor and puts an opened prompt on screen (:meth:`show_conversation`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App

from evalrefine.core.io.conversation import Conversation, validate_conversation
from evalrefine.core.io.prompt_writer import write_prompt
from evalrefine.errors import EvalRefineError
from evalrefine.tui.editor import ConversationEditor
from evalrefine.tui.files import OpenDialog, PromptPicker, SaveAs, read_prompts
from evalrefine.tui.widgets import ConfirmQuit


class FileActions(App[None]):
    path: Path | None
    """Where ctrl+s writes (``None``: a record of a log or dataset, or a new prompt: save as)."""
    editor: ConversationEditor
    _browse: Path
    """Where the open dialog starts: the folder of the file opened last."""

    async def show_conversation(self, conv: Conversation, path: Path | None, label: str) -> None:
        raise NotImplementedError

    def _show_tab(self, tab: str, focus: Callable[[], object]) -> None:
        raise NotImplementedError

    @property
    def dirty(self) -> bool:
        return self.editor.dirty

    def fail(self, what: str, error: str) -> None:
        self.notify(error, title=f"{what} failed", severity="error", timeout=8, markup=False)

    def show_title(self, label: str | None) -> None:
        """The file (or the record of a log or dataset) being edited, in the header."""
        where = str(self.path) if self.path is not None else label
        if self.path is not None and label and label != self.path.name:
            where = f"{self.path} ({label})"
        self.title = f"evalrefine · {where}" if where else "evalrefine · new prompt"

    def action_open(self) -> None:
        if len(self.screen_stack) > 1:  # ctrl+o (a priority key) inside a dialog: not another dialog
            return
        if self.dirty:
            self.notify("unsaved changes: save first (ctrl+s)", severity="warning")
            return
        self.push_screen(OpenDialog(self._browse), self._open_path)

    async def _open_path(self, path: Path | None) -> None:
        if path is None:
            return
        self._browse = path.resolve().parent
        try:
            prompts = read_prompts(path)
        except EvalRefineError as exc:
            self.fail("open", str(exc))
            return

        async def pick(index: int | None) -> None:
            if index is not None:
                chosen = prompts[index]
                await self.show_conversation(chosen.conversation, chosen.path, chosen.label)
                self.notify(f"opened {chosen.label}", markup=False)
                self._show_tab("author", self.editor.focus_scored)

        if len(prompts) == 1:
            await pick(0)
        else:
            self.push_screen(PromptPicker(path, prompts), pick)

    def action_save_as(self) -> None:
        if len(self.screen_stack) > 1:
            return

        def chosen(path: str | None) -> None:
            if path:
                self.path = Path(path)
                self.show_title(None)
                self.action_save()

        self.push_screen(SaveAs(), chosen)

    def action_save(self) -> None:
        if self.path is None:
            self.action_save_as()
            return
        try:  # a prompt ends with the user turn whose reply is scored: a file of any other shape could not be read back
            conversation = validate_conversation(self.editor.conversation(), str(self.path))
            write_prompt(self.path, conversation)  # keeps the file's other fields and line endings
        except EvalRefineError as exc:  # e.g. a .txt file cannot hold a system prompt: nothing is written
            self.fail("save", str(exc))
            return
        self.editor.mark_saved()
        self.notify(f"saved {self.path}", markup=False)

    async def action_quit(self) -> None:
        if not self.dirty:
            self.close()
            return

        def decide(choice: str | None) -> None:
            if choice == "save":
                self.action_save()
                if not self.dirty:
                    self.close()
            elif choice == "discard":
                self.close()

        self.push_screen(ConfirmQuit(), decide)

    def close(self) -> None:
        """Quit now, whatever is running: every job is told to stop first (a forward pass stops at its
        next layer), so none competes with closing the screens; none is waited for."""
        self.workers.cancel_all()
        self.exit()
