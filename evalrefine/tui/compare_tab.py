"""The Compare tab: every version side by side (F6), and whether the difference holds up in
sampled rollouts (F7, ``evalrefine verify``)."""

from __future__ import annotations

from textual.widgets import Static

from evalrefine.core.compare import Comparison
from evalrefine.core.conversation import Conversation, Message
from evalrefine.core.refine import Version
from evalrefine.core.session import Session
from evalrefine.core.verify import VerifyProgress, VerifyReport
from evalrefine.tui.base import while_open
from evalrefine.tui.messages import Compared, Verified
from evalrefine.tui.workers import WorkersMixin


class CompareMixin(WorkersMixin):
    session: Session | None
    versions: list[Version]
    last_comparison: Comparison | None
    last_verification: VerifyReport | None

    def conversation(self) -> Conversation:
        raise NotImplementedError

    def _show_tab(self, tab: str, focus: str) -> None:
        raise NotImplementedError

    @while_open
    def on_compared(self, message: Compared) -> None:
        from evalrefine.render.compare import comparison_view

        assert self.session is not None
        self.last_comparison = message.comparison
        self.main.query_one("#comparison", Static).update(
            comparison_view(message.comparison, self.session.settings.monitor.sentences)
        )

    @while_open
    def on_verified(self, message: Verified) -> None:
        from evalrefine.render.verify import verify_view

        panel, step = self.main.query_one("#verification", Static), message.step
        if isinstance(step, VerifyProgress):
            panel.update(f"sampling: {step.arm}, rollout {step.done} of {step.total}…")
            return
        self.last_verification = step
        panel.update(verify_view(step))

    def action_verify(self) -> None:
        """Rollouts of the original and the current text: does the improvement hold in what the model writes?"""
        if self.session is None or not self.versions:
            return
        current = self.conversation()
        original = Conversation((*current.messages[:-1], Message("user", self.versions[0].text)))
        if original == current:
            self.notify("nothing to verify yet: edit the prompt or accept a suggestion", severity="warning")
            return
        self._show_tab("compare", "#comparison-scroll")
        k = self.session.settings.rollouts.count or 8
        self.main.query_one("#verification", Static).update(f"sampling {k} rollouts of each version…")
        self.verify_worker(original, current)

    def action_compare(self) -> None:
        if self.session is None or not self.versions:
            return
        current = self.conversation()
        self._show_tab("compare", "#comparison-scroll")
        # The original, every accepted version, and the editor's text now (each text once).
        named = [("original", self.versions[0].text)]
        named += [(f"version {i}", v.text) for i, v in enumerate(self.versions[1:], start=1)]
        named.append(("current", current.messages[-1].content))
        seen: dict[str, str] = {}
        for name, text in named:
            seen[text] = name  # first place, latest name: an unchanged current text shows as "current"
        variants = [(name, Conversation((*current.messages[:-1], Message("user", t)))) for t, name in seen.items()]
        if len(variants) < 2:
            self.notify("nothing to compare yet: edit the prompt or accept a suggestion", severity="warning")
            return
        self.compare_worker(variants)
