"""Small reusable pieces of the TUI: the score panel, a word diff, the help and confirm screens."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Markdown, Static

from evalrefine.core.compare import word_diff
from evalrefine.core.session import ScoreView, Session
from evalrefine.render.scores import placement_panel, score_table


def score_renderable(view: ScoreView, session: Session) -> RenderableType:
    """The CLI's score table and deployment panel (same renderables, so both front ends agree)."""
    shown = set(session.settings.monitor.sentences)
    parts: list[RenderableType] = [score_table(view.result, shown, view.placement)]
    if view.placement is not None and session.reference is not None:
        parts.append(placement_panel(view.placement, session.reference))
    else:
        parts.append(Text(f"{session.target.name} = {view.value:.3f} {session.target.units} (no reference)"))
    return Group(*parts)


def headline(view: ScoreView, original: ScoreView | None, session: Session) -> Text:
    """The one line an author watches: the percentile of real traffic and the verdict (or, without a
    reference, the raw score), and the change since the prompt was opened ("p91 → p38")."""
    place = view.placement
    if place is not None:
        verdict = ("reads like real traffic", "bold green") if place.passes else ("test-like", "bold red")
        out = Text.assemble((f"p{place.percentile:.0f} ", verdict[1]), verdict)
        before = original.placement if original is not None else None
        if before is not None:
            out.append(f"   original p{before.percentile:.0f} → now p{place.percentile:.0f}", style="dim")
        return out
    out = Text.assemble((f"{view.value:.2f} {session.target.units}", "bold"))
    if original is not None:
        out.append(f"  original {original.value:.2f} → now {view.value:.2f}", style="dim")
    out.append("  (raw log P: no reference for percentiles)", style="dim italic")
    return out


def diff_text(base: str, text: str) -> Text:
    """``text`` with what changed from ``base`` marked: [-removed-] in red, {+added+} in green."""
    out, pos = Text(), 0
    for _, bs, be, vs, ve in word_diff(base, text):
        out.append(text[pos:vs])
        if be > bs:
            out.append(f"[-{base[bs:be]}-]", style="red")
        if ve > vs:
            out.append(f"{{+{text[vs:ve]}+}}", style="green")
        pos = ve
    out.append(text[pos:])
    return out


class ScorePanel(VerticalScroll):
    """The current prompt's scores; shows a status line while a score is being computed."""

    def compose(self) -> ComposeResult:
        yield Static("", id="headline")
        yield Static("loading the model…", id="score-status")
        yield Static("", id="score-body")

    def set_headline(self, line: Text) -> None:
        self.query_one("#headline", Static).update(line)

    def set_status(self, text: str) -> None:
        self.query_one("#score-status", Static).update(text)

    def show(self, renderable: RenderableType) -> None:
        self.query_one("#score-body", Static).update(renderable)


HELP = """\
# evalrefine

Edit the prompt on the **Author** tab: every turn of the conversation, in order. The monitor scores
the model's reply to the **last user turn** (marked "scored"); it is re-scored as you type.

| key | what |
|---|---|
| ctrl+n | a new turn after this one |
| ctrl+r | switch this turn between user and assistant |
| alt+↑ / alt+↓ | move this turn up / down |
| ctrl+delete | remove this turn |
| F2 | score now |
| F3 | explain: which spans make it read like a test (Explain tab) |
| F4 | one refine step: rewrite candidates for the scored turn (Refine tab) |
| F5 | the whole refine loop, until the target percentile |
| F6 | compare the original and every version (Compare tab) |
| F7 | verify: sample rollouts of both and test the difference (Compare tab) |
| Esc | stop a running refine, verify, explain, compare or lint (what came in stays) |
| alt+1 … alt+6 | Author, Explain, Refine, History, Compare, Lint (ctrl+page down/up: next/previous tab) |
| ctrl+o | open a prompt file (txt, md, json, jsonl, yaml, Inspect .eval logs) |
| ctrl+s | save (every turn; a log or dataset record asks where) |
| ctrl+p | every command, searchable |
| ctrl+q | quit at once, whatever is running (asks if there are unsaved changes) |
| F1 | this help |

On the **Refine** tab: `enter` previews a candidate, `a` accepts it, `e` accepts it and opens the
editor to change it, `x` rejects it, `u` goes back one version (also on the **History** tab).
On the **Lint** tab: type a directory, press enter, then `enter` on a row opens that prompt.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
            yield Button("Close", id="help-close")

    def on_button_pressed(self) -> None:
        self.dismiss()


class ConfirmQuit(ModalScreen[str]):
    """Unsaved changes: save, discard or cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss('cancel')", "Cancel")]

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label("The prompt has unsaved changes.", id="confirm-question")
            yield Button("Save and quit", variant="primary", id="save")
            yield Button("Quit without saving", variant="error", id="discard")
            yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")
