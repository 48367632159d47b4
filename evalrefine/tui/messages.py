"""Typed messages the TUI's workers post back to the app (each carries a frozen core result)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from evalrefine.core.attribution.base import Attribution
from evalrefine.core.compare import Comparison
from evalrefine.core.conversation import Conversation
from evalrefine.core.lint.run import LintEvent
from evalrefine.core.refine import RefineEvent
from evalrefine.core.session import ScoreView, Session
from evalrefine.core.verify import VerifyProgress, VerifyReport


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
