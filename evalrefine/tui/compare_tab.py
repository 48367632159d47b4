"""The Compare tab: every version side by side (F6), and whether the difference holds up in
sampled rollouts (F7, ``evalrefine verify``). The tab runs both as its own workers and keeps the
last result of each."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabPane

from evalrefine.core.compare import Comparison
from evalrefine.core.io.conversation import Conversation, Message
from evalrefine.core.rollouts.verify import VerifyProgress, VerifyReport
from evalrefine.core.session import Session
from evalrefine.tui import workers
from evalrefine.tui.messages import Compared, Verified


def variants(scored: Conversation, texts: list[str]) -> list[tuple[str, Conversation]]:
    """The original, every accepted version and the editor's text now, each text once, each in the
    editor's conversation (only the scored turn differs)."""
    named = [("original", texts[0]), *((f"version {i}", t) for i, t in enumerate(texts[1:], start=1))]
    named.append(("current", scored.messages[-1].content))
    seen: dict[str, str] = {}
    for name, text in named:
        seen[text] = name  # first place, latest name: an unchanged current text shows as "current"
    return [(name, Conversation((*scored.messages[:-1], Message("user", t)))) for t, name in seen.items()]


class CompareTab(TabPane):
    def __init__(self) -> None:
        super().__init__("Compare", id="compare")
        self.last_comparison: Comparison | None = None
        self.last_verification: VerifyReport | None = None
        self._sentences: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield VerticalScroll(
            Static("F6 compares the original with the current version", id="comparison"),
            Static("F7 samples rollouts of both and checks the difference holds up", id="verification"),
            id="comparison-scroll",
        )

    def compare(self, session: Session, scored: Conversation, texts: list[str]) -> bool:
        """Score every version (``False``: there is only one text, nothing to compare)."""
        named = variants(scored, texts)
        if len(named) < 2:
            return False
        self._sentences = session.shown
        self.query_one("#comparison", Static).update(f"scoring {len(named)} versions…")
        workers.start(self, "compare", workers.compare, session, named)
        return True

    def verify(self, session: Session, original: Conversation, current: Conversation) -> None:
        """Rollouts of the original and the current text: does the improvement hold in what the model writes?"""
        k = session.settings.rollouts.count or 8
        self.query_one("#verification", Static).update(f"sampling {k} rollouts of each version…")
        workers.start(self, "verify", workers.verify, session, original, current)

    def stopped(self, group: str) -> None:
        """Esc stopped the comparison (F6) or the rollouts (F7): a half-sampled verdict is not shown."""
        panel, key = ("#verification", "F7") if group == "verify" else ("#comparison", "F6")
        self.query_one(panel, Static).update(f"{group} stopped (Esc): {key} runs it again")

    def on_compared(self, message: Compared) -> None:
        from evalrefine.render.compare import comparison_view

        message.stop()
        self.last_comparison = message.comparison
        self.query_one("#comparison", Static).update(comparison_view(message.comparison, list(self._sentences)))

    def on_verified(self, message: Verified) -> None:
        from evalrefine.render.verify import verify_view

        message.stop()
        panel, step = self.query_one("#verification", Static), message.step
        if isinstance(step, VerifyProgress):
            panel.update(f"sampling: {step.arm}, rollout {step.done} of {step.total}…")
            return
        self.last_verification = step
        panel.update(verify_view(step))
