"""The History tab: the scored turn's versions as a plain-words timeline.

The original as opened, then each accepted version (a refine candidate, or the author's own edit
that an accept or undo would otherwise lose), each with its score, its percentile of real traffic
when there is a reference, the change from the version before and what was changed, in words. The
editor's text, when it is not a version yet, is the last line. ``u`` goes back one version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Label, Sparkline, Static, TabPane

from evalrefine.core.compare import word_diff
from evalrefine.core.refine.loop import DEFAULT_HELD_OUT, PromptScore, Version
from evalrefine.core.session import ScoreView


def prompt_score(view: ScoreView) -> PromptScore:
    """The refine loop's score record for a scored editor version (for the timeline)."""
    held = next((s.logprob for s in view.result.sentences if s.sentence == DEFAULT_HELD_OUT), 0.0)
    return PromptScore(view.value, view.placement.percentile if view.placement else None, held)


def _clip(text: str, width: int = 28) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def change_words(before: str, after: str, most: int = 3) -> str:
    """What an edit did, in words: 'removed "…"', 'added "…"', '"…" → "…"' (the first few)."""
    hunks = word_diff(before, after)
    parts = []
    for _, bs, be, vs, ve in hunks[:most]:
        old, new = before[bs:be], after[vs:ve]
        if not old.strip():
            parts.append(f'added "{_clip(new)}"')
        elif not new.strip():
            parts.append(f'removed "{_clip(old)}"')
        else:
            parts.append(f'"{_clip(old, 20)}" → "{_clip(new, 20)}"')
    if len(hunks) > most:
        parts.append(f"and {len(hunks) - most} more")
    return "; ".join(parts) if parts else "no change"


def _score(s: PromptScore | None) -> str:
    if s is None:
        return "–"
    return f"p{s.percentile:.0f} ({s.value:.2f})" if s.percentile is not None else f"{s.value:.2f}"


def _delta(before: PromptScore | None, after: PromptScore | None) -> Text:
    """The change in percentile (or raw score); lower reads more like real traffic, so green."""
    if before is None or after is None:
        return Text("–")
    if before.percentile is not None and after.percentile is not None:
        d, unit = after.percentile - before.percentile, " pts"
    else:
        d, unit = after.value - before.value, ""
    words = f"{d:+.0f}{unit}" if unit else f"{d:+.2f}"
    if abs(d) < 1e-9:
        return Text("same", style="dim")
    return Text(words + (" less test-like" if d < 0 else " more test-like"), style="green" if d < 0 else "red")


class HistoryTab(TabPane):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("u", "app.undo", "Back one version")]

    def __init__(self) -> None:
        super().__init__("History", id="history")
        self.versions: list[Version] = []
        self.labels: list[str] = []
        self._now: tuple[str, PromptScore | None] | None = None

    def compose(self) -> ComposeResult:
        yield VerticalScroll(
            Static("the original's score appears once it is scored", id="timeline"), id="timeline-scroll"
        )
        yield Label("score of each version (lower = more like real traffic) · u: back one version")
        yield Sparkline([0.0], id="history-spark")

    @property
    def texts(self) -> list[str]:
        return [v.text for v in self.versions]

    def reset(self) -> None:
        """Another prompt was opened: its history starts afresh."""
        self.versions.clear()
        self.labels.clear()
        self._now = None
        self.refresh_timeline()

    def add(self, version: Version, label: str) -> None:
        self.versions.append(version)
        self.labels.append(label)
        self.refresh_timeline()

    def record(self, text: str, view: ScoreView) -> None:
        """The editor's scored text: the original when nothing is recorded yet, else the "now" line."""
        if not self.versions:
            self.add(Version(0, None, 0, text, prompt_score(view)), "original")
            return
        self._now = (text, prompt_score(view))
        self.refresh_timeline()

    def undo(self) -> str | None:
        """Drop the newest version; the text to go back to (``None``: there is no earlier one)."""
        if len(self.versions) < 2:
            return None
        self.versions.pop()
        self.labels.pop()
        self._now = None
        self.refresh_timeline()
        return self.versions[-1].text

    def refresh_timeline(self) -> None:
        """One entry per version: its name, score and change on one line, what changed under it."""
        out, prev = Text(), None
        entries: list[tuple[str, str, PromptScore | None, str]] = [
            (str(i) if i else "○", label, v.score, v.text)
            for i, (v, label) in enumerate(zip(self.versions, self.labels, strict=True))
        ]
        if self._now is not None and self.versions and self._now[0] != self.versions[-1].text:
            entries.append(("▶", "now, in the editor (not a version yet)", self._now[1], self._now[0]))
        for mark, label, score, text in entries:
            out.append(f"{mark} ", style="bold")
            out.append(f"{label:<30}", style="bold" if mark == "▶" else "")
            out.append(f" {_score(score):>16}  ")
            if prev is not None:
                out.append_text(_delta(prev[0], score))
            out.append("\n   " + ("as opened" if prev is None else change_words(prev[1], text)) + "\n", style="dim")
            prev = (score, text)
        self.query_one("#timeline", Static).update(out if entries else "nothing scored yet")
        values = [v.score.value for v in self.versions if v.score is not None]
        spark = self.query_one("#history-spark", Sparkline)
        spark.data = sparkline_values(values)
        # One 3-cell column per version, so two versions read as two bars, not two half-screen blocks.
        spark.styles.width = 3 * len(spark.data)
        spark.display = len(values) >= 2


def sparkline_values(values: Sequence[float]) -> list[float]:
    """Sparkline data: Textual's Sparkline needs at least one value."""
    return list(values) or [0.0]
