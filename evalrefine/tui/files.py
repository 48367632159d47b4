"""Opening, saving and quitting: the prompt file the editor holds, and never losing unsaved work."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Label, TextArea

from evalrefine.core.conversation import Conversation, Message
from evalrefine.core.prompt_writer import write_prompt
from evalrefine.core.refine import Version
from evalrefine.core.session import ScoreView
from evalrefine.errors import EvalRefineError
from evalrefine.tui.base import MainScreenApp
from evalrefine.tui.widgets import ConfirmQuit, OpenFile


class FileActionsMixin(MainScreenApp):
    path: Path | None
    saved: tuple[str, str]
    earlier_turns: tuple[Message, ...]
    original_view: ScoreView | None
    versions: list[Version]

    def conversation(self) -> Conversation:
        raise NotImplementedError

    def set_user_text(self, text: str) -> None:
        raise NotImplementedError

    def drop_candidates(self) -> None:
        raise NotImplementedError

    def fail(self, what: str, error: str) -> None:
        raise NotImplementedError

    def show_conversation(self, conv: Conversation, path: Path | None) -> None:
        """Put another prompt in the editor (its file, or ``None`` when it lives in a linted file that
        ctrl+s must not overwrite): its history, candidates and original score start afresh."""
        self.path = path
        self.earlier_turns = tuple(m for m in conv.messages[:-1] if m.role != "system")
        self.main.query_one("#system", TextArea).text = conv.system or ""
        self.set_user_text(conv.messages[-1].content)
        self.saved = self._editor_texts()
        self.versions.clear()
        self.drop_candidates()
        self.original_view = None  # the next score is this prompt's original
        self.show_path()

    def show_path(self) -> None:
        """The file being edited, over the editor (it changes with ctrl+o and save-as)."""
        self.main.query_one("#user-label", Label).update(f"user turn ({self.path})" if self.path else "user turn")

    @property
    def dirty(self) -> bool:
        return self._editor_texts() != self.saved

    def _editor_texts(self) -> tuple[str, str]:
        return self.main.query_one("#system", TextArea).text, self.main.query_one("#user", TextArea).text

    def action_open(self) -> None:
        def load(path: str | None) -> None:
            if not path:
                return
            from evalrefine.core.conversation import load_conversation

            try:
                conv = load_conversation(Path(path))
            except EvalRefineError as exc:
                self.fail("open", str(exc))
                return
            self.show_conversation(conv, Path(path))
            self.notify(f"opened {path}", markup=False)

        if self.dirty:
            self.notify("unsaved changes: save first (ctrl+s)", severity="warning")
            return
        self.push_screen(OpenFile(), load)

    def action_save(self) -> None:
        if self.path is None:

            def save_as(path: str | None) -> None:
                if path:
                    self.path = Path(path)
                    self.show_path()
                    self.action_save()

            self.push_screen(OpenFile("Save the prompt as (.txt, .md, .json, .jsonl):"), save_as)
            return
        try:
            write_prompt(self.path, self.conversation())  # keeps the file's other turns, fields and line endings
        except EvalRefineError as exc:  # e.g. a .txt file cannot hold a system prompt: nothing is written
            self.fail("save", str(exc))
            return
        self.saved = self._editor_texts()
        self.notify(f"saved {self.path}", markup=False)

    async def action_quit(self) -> None:
        if not self.dirty:
            self.exit()
            return

        def decide(choice: str | None) -> None:
            if choice == "save":
                self.action_save()
                if not self.dirty:
                    self.exit()
            elif choice == "discard":
                self.exit()

        self.push_screen(ConfirmQuit(), decide)
