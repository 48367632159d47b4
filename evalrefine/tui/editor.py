"""The Author tab's editor: every turn of the conversation, in order, each editable.

A multi-turn eval is scored as a whole (the monitor reads every turn), so the author must see and
edit every turn, not only the last user turn. The editor owns the conversation's structure (which
turns, in which order, with which roles); the text lives in one :class:`TurnArea` per turn. Adding,
removing, moving a turn or switching its role rebuilds the widgets, so their ids always follow the
order: ``#system``, ``#turn-0``, ``#turn-1``, …, and ``#user`` for the *scored* turn, the last user
turn, whose answer the monitor scores (a line under it says so). Turns after it are shown as not
scored (the model's reasoning starts right after the last user turn); the app saves the file only
once the conversation ends with a user turn again, as every prompt file does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.widgets import Label, Static, TextArea

from evalrefine.core.io.conversation import Conversation, Message, Role, normalize_text

Snapshot = tuple[str, tuple[tuple[str, str], ...]]
"""The editor's raw texts: the system prompt and each turn's (role, text)."""
KEY_HINT = "ctrl+n new · ctrl+r role · alt+↑↓ move · ctrl+del remove"
SCORED = "▼ scored here: how likely the model's reply opens by calling this a test"


class TurnArea(TextArea):
    """One turn's text; ``index`` is its place among the turns (``None``: the system prompt)."""

    APP_KEYS: ClassVar[frozenset[str]] = frozenset({"f6", "f7"})
    """TextArea's select-line and select-all keys, which the app uses for Compare and Verify (ctrl+a
    still selects all). Left in, they put F6 and F7 first in the footer, before ^q and F1."""

    def __init__(self, text: str, index: int | None, **kwargs: object) -> None:
        super().__init__(text, soft_wrap=True, compact=True, **kwargs)  # type: ignore[arg-type]
        self.index = index
        for key in self.APP_KEYS:
            self._bindings.key_to_bindings.pop(key, None)


@dataclass
class Turn:
    role: Role
    text: str


class ConversationEditor(VerticalScroll, can_focus=False):
    """System prompt and turns; posts :class:`ConversationEditor.Changed` on every edit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "add_turn", "New turn", show=False),
        Binding("ctrl+r", "switch_role", "Switch role", show=False),
        Binding("alt+up", "move_turn(-1)", "Move up", show=False),
        Binding("alt+down", "move_turn(1)", "Move down", show=False),
        Binding("ctrl+delete", "remove_turn", "Remove turn", show=False),
    ]

    @dataclass
    class Changed(TextualMessage):
        """A text or the structure changed (the prompt must be re-scored)."""

        structure: bool = False

    def __init__(self, conversation: Conversation | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._system = ""
        self._turns: list[Turn] = [Turn("user", "")]
        self._focus: int | None = None
        """The turn the keys and the command palette act on (the last one focused)."""
        if conversation is not None:
            self._set(conversation)
        self._saved: Snapshot = self.snapshot()

    # -- reading --------------------------------------------------------------------------------
    @property
    def scored_index(self) -> int | None:
        """Index of the last user turn: the model's reply to it is what the monitor scores."""
        return next((i for i in range(len(self._turns) - 1, -1, -1) if self._turns[i].role == "user"), None)

    def _read(self) -> None:
        """Pull the texts from the widgets (they are the truth for text; ``_turns`` for structure)."""
        for area in self.query(TurnArea):
            if area.index is None:
                self._system = area.text
            elif area.index < len(self._turns):
                self._turns[area.index].text = area.text

    def snapshot(self) -> Snapshot:
        if self.is_mounted:
            self._read()
        return self._system, tuple((t.role, t.text) for t in self._turns)

    def conversation(self) -> Conversation:
        """Every turn, as saved (an empty system prompt means none)."""
        system, turns = self.snapshot()
        head = [Message("system", system)] if system.strip() else []
        return Conversation((*head, *(Message(role, text) for role, text in turns)))  # type: ignore[arg-type]

    def scored_conversation(self) -> Conversation:
        """What the monitor scores: everything up to the last user turn (the model's reasoning
        starts right after it, so a turn added after it is not part of the prompt yet)."""
        conv, at = self.conversation(), self.scored_index
        if at is None:
            return conv
        offset = 1 if conv.system is not None else 0
        return Conversation(conv.messages[: offset + at + 1])

    def context(self) -> tuple[str, ...]:
        """Everything but the scored turn: refine candidates belong to this context."""
        system, turns = self.snapshot()
        at = self.scored_index
        return (normalize_text(system), *(f"{i}:{r}:{normalize_text(t)}" for i, (r, t) in enumerate(turns) if i != at))

    @property
    def dirty(self) -> bool:
        return self.snapshot() != self._saved

    def mark_saved(self) -> None:
        self._saved = self.snapshot()

    # -- writing --------------------------------------------------------------------------------
    def _set(self, conversation: Conversation) -> None:
        self._system = conversation.system or ""
        self._turns = [Turn(m.role, m.content) for m in conversation.messages if m.role != "system"]
        if not self._turns:
            self._turns = [Turn("user", "")]

    async def load(self, conversation: Conversation) -> None:
        """Show another conversation; it counts as saved."""
        self._set(conversation)
        self._focus = None
        await self.recompose()
        self._saved = self.snapshot()
        self.focus_scored()

    def set_scored_text(self, text: str) -> None:
        """Replace the scored turn's text (an accepted candidate, an undo)."""
        at = self.scored_index
        if at is not None:
            self.query_one("#user", TurnArea).text = text

    def focus_scored(self) -> None:
        areas = self.query("#user")
        target = areas.first() if areas else self.query(TurnArea).last()
        target.focus()

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        at = self.scored_index
        with Vertical(classes="turn-box system"):
            yield self._head("system prompt", "(left empty: no system message)")
            yield TurnArea(self._system, None, id="system", classes="turn")
        for i, turn in enumerate(self._turns):
            after = at is not None and i > at
            classes = f"turn-box {turn.role}" + (" unscored" if after else "") + (" scored" if i == at else "")
            with Vertical(classes=classes):
                note = "scored turn" if i == at else ("not scored: a prompt ends with a user turn" if after else "")
                yield self._head(f"{i + 1} · {turn.role}", note)
                yield TurnArea(turn.text, i, id="user" if i == at else f"turn-{i}", classes="turn")
            if i == at:
                yield Static(SCORED, id="scored-marker")
        if at is None:
            yield Static(
                "no user turn, nothing to score: add one (ctrl+n) or switch a role (ctrl+r)", id="scored-marker"
            )

    @staticmethod
    def _head(title: str, note: str) -> Horizontal:
        return Horizontal(
            Label(Text.assemble((title, "bold"), ("  " + note if note else "", "dim")), classes="turn-title"),
            Label(KEY_HINT, classes="hint"),
            classes="turn-head",
        )

    # -- events ---------------------------------------------------------------------------------
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Remember the turn the keys act on, and mark its box (its header shows the turn keys)."""
        if isinstance(event.widget, TurnArea):
            self._focus = event.widget.index
            for box in self.query(".turn-box"):
                box.set_class(box is event.widget.parent, "current")

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self.post_message(self.Changed())

    # -- structure ------------------------------------------------------------------------------
    async def _rebuild(self, focus: int | None) -> None:
        await self.recompose()
        area = self.query_one("#system", TurnArea) if focus is None else self._area(focus)
        area.focus()
        area.scroll_visible()
        self.post_message(self.Changed(structure=True))

    def _area(self, index: int) -> TurnArea:
        return next(a for a in self.query(TurnArea) if a.index == index)

    async def action_add_turn(self) -> None:
        """A new empty turn after the focused one (the other role, so the chat keeps alternating)."""
        self._read()
        at = self._focus
        if at is None:
            role: Role = "user"
            self._turns.insert(0, Turn(role, ""))
            new = 0
        else:
            role = "assistant" if self._turns[at].role == "user" else "user"
            self._turns.insert(at + 1, Turn(role, ""))
            new = at + 1
        self._focus = new
        await self._rebuild(new)

    async def action_remove_turn(self) -> None:
        self._read()
        at = self._focus
        if at is None:
            self.notify("the system prompt cannot be removed: empty it instead", severity="warning")
            return
        if len(self._turns) == 1:
            self.notify("the only turn cannot be removed", severity="warning")
            return
        gone = self._turns.pop(at)
        self._focus = min(at, len(self._turns) - 1)
        await self._rebuild(self._focus)
        snippet = " ".join(gone.text.split())[:40]
        self.notify(f"removed turn {at + 1} ({gone.role}: {snippet!r})", markup=False)

    async def action_move_turn(self, step: int) -> None:
        self._read()
        at = self._focus
        if at is None or not 0 <= at + step < len(self._turns):
            return
        self._turns[at], self._turns[at + step] = self._turns[at + step], self._turns[at]
        self._focus = at + step
        await self._rebuild(self._focus)

    async def action_switch_role(self) -> None:
        self._read()
        at = self._focus
        if at is None:
            self.notify("the system prompt keeps its role", severity="warning")
            return
        turn = self._turns[at]
        turn.role = "assistant" if turn.role == "user" else "user"
        await self._rebuild(at)
