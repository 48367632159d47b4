"""Typed messages of the TUI.

Workers post their results (each a frozen core result) to the widget that shows them; the tabs post
what the user asked for up to the app, which owns the session, the file and the editor. A message a
widget does not handle bubbles on to the app (``WorkFailed`` is shown by the app whoever ran the work).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from evalrefine.core.attribution.base import Attribution
from evalrefine.core.compare import Comparison
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.lint.run import LintEvent
from evalrefine.core.refine.loop import RefineEvent, Version
from evalrefine.core.rollouts.verify import VerifyProgress, VerifyReport
from evalrefine.core.session import ScoreView, Session


# -- worker results -------------------------------------------------------------------------------
@dataclass
class LoadStatus(Message):
    """What loading the model is doing now ("loading the weights", "converting …")."""

    text: str


@dataclass
class SessionReady(Message):
    session: Session


@dataclass
class Scored(Message):
    view: ScoreView
    revision: int
    """The editor revision that was scored (stale results are dropped)."""


@dataclass
class Explained(Message):
    attribution: Attribution
    conversation: Conversation


@dataclass
class RefineProgress(Message):
    event: RefineEvent


@dataclass
class Compared(Message):
    comparison: Comparison


@dataclass
class Verified(Message):
    step: VerifyProgress | VerifyReport
    """A rollout done, or the finished report."""


@dataclass
class LintProgress(Message):
    event: LintEvent


@dataclass
class WorkFailed(Message):
    what: str
    error: str


# -- what the tabs ask of the app -----------------------------------------------------------------
@dataclass
class ExplainRequested(Message):
    """Explain the current prompt with this method and granularity (a control changed)."""

    method: str
    granularity: str


@dataclass
class CandidateChosen(Message):
    """Apply a refine candidate to the scored turn (``edit``: then move to the editor)."""

    version: Version
    context: tuple[str, ...] | None
    """The prompt the candidate was written for, minus the rewritten turn."""
    edit: bool = False


@dataclass
class LintRequested(Message):
    path: str


@dataclass
class OpenConversation(Message):
    """Put this prompt in the editor (``path`` ``None``: it lives in a file ctrl+s must not overwrite)."""

    conversation: Conversation
    path: Path | None
    label: str
