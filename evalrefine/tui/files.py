"""Prompt files: what the TUI can open, the open dialog (a directory tree filtered to prompt files),
the save-as question, and a picker for files that hold several prompts.

A chat or text file (``.txt``, ``.md``, ``.json``, ``.jsonl``) opens as the conversation it holds and
saves back in place. Anything else lint reads opens too, through the same reader (``parse_file``):
an Inspect log (``.eval``, or a ``.json`` log), Inspect or OpenAI-evals sample records, a promptfoo
config. Such a file holds records, not one editable prompt, so its prompts open without a path:
ctrl+s asks where to save and never rewrites the log or the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label, OptionList

from evalrefine.core.io.conversation import TEXT_SUFFIXES, Conversation, load_conversation
from evalrefine.errors import EvalRefineError, InputError

PROMPT_SUFFIXES = (".txt", ".md", ".json", ".jsonl", ".yaml", ".yml", ".eval")
"""What the open dialog lists (and what :func:`read_prompts` reads)."""
CHAT_SUFFIXES = (*TEXT_SUFFIXES, ".json", ".jsonl")


@dataclass(frozen=True)
class OpenedPrompt:
    conversation: Conversation
    label: str
    """The file's name, and which of its prompts this is ("quiz.eval · sample 3")."""
    path: Path | None
    """Where ctrl+s writes it back (``None``: one record of many, or a log: save-as)."""
    record: str = ""
    """Which prompt of the file ("sample 3"; empty for a chat or text file)."""


def read_prompts(path: Path) -> list[OpenedPrompt]:
    """Every prompt ``path`` holds, read as ``score`` reads a chat file or, failing that, as ``lint``
    reads it. Raises the chat reader's (or lint's first) one-line error when there is no prompt."""
    first_error: EvalRefineError | None = None
    if path.suffix.lower() in CHAT_SUFFIXES:
        try:
            return [OpenedPrompt(load_conversation(path), path.name, path)]
        except EvalRefineError as exc:  # not a chat file: maybe sample records or an Inspect log
            first_error = exc
    if not path.is_file():
        raise first_error or InputError(f"{path}: no such file", "check the path")
    from evalrefine.core.lint.formats import parse_file
    from evalrefine.core.lint.sources import LintPrompt, ParseProblem

    parsed = parse_file(path, explicit=True)
    prompts = [p for p in parsed if isinstance(p, LintPrompt)]
    if prompts:
        return [OpenedPrompt(p.conversation, f"{path.name} · {p.record_id}", None, p.record_id) for p in prompts]
    if first_error is not None:
        raise first_error
    problem = next((p for p in parsed if isinstance(p, ParseProblem)), None)
    if problem is not None:
        raise InputError(f"{problem.location}: {problem.message}", problem.hint)
    raise InputError(f"{path}: holds no prompt", "open a prompt file (.txt, .md, .json, .jsonl, .yaml, .eval)")


class PromptTree(DirectoryTree):
    """A directory tree showing folders and prompt files only (hidden entries left out)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in PROMPT_SUFFIXES)]


class OpenDialog(ModalScreen[Path | None]):
    """Pick a prompt file in the tree (enter opens it), or type a path (a folder re-roots the tree)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(id="open-dialog"):
            yield Label("Open a prompt file (.txt .md .json .jsonl .yaml, Inspect .eval logs): type a path or pick one")
            yield Input(placeholder=f"path (the tree below shows {self.start})", id="open-path")
            yield PromptTree(self.start, id="open-tree")

    @on(Input.Submitted, "#open-path")
    def _typed(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        path = Path(value).expanduser() if value else None
        if path is not None and path.is_dir():
            self.query_one(PromptTree).path = path
            self.query_one(PromptTree).focus()
            return
        self.dismiss(path)

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)


class SaveAs(ModalScreen[str | None]):
    """Ask where to save the prompt."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Grid(id="open"):
            yield Label("Save the prompt as (.txt, .md, .json, .jsonl):")
            yield Input(placeholder="path/to/prompt.json", id="save-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class PromptPicker(ModalScreen[int | None]):
    """A file holds several prompts (an Inspect log, a dataset): pick the one to open."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, path: Path, prompts: list[OpenedPrompt]) -> None:
        super().__init__()
        self.path, self.prompts = path, prompts

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label(f"{self.path.name} holds {len(self.prompts)} prompts: enter opens one")
            # Text, not str: an option's str is parsed as markup, and these are the prompts' own words.
            yield OptionList(
                *(Text(f"{p.record or p.label}: {_preview(p.conversation)}") for p in self.prompts), id="picker-list"
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)


def _preview(conversation: Conversation, width: int = 70) -> str:
    text = " ".join(conversation.messages[-1].content.split())
    return text if len(text) <= width else text[: width - 1] + "…"
