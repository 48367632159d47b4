"""One call from a prompt to a checked explanation: spans → method → deletion curve."""

from __future__ import annotations

from dataclasses import replace

from evalrefine.core.attribution.ablation import AblationSurrogate
from evalrefine.core.attribution.base import Attribution, Attributor
from evalrefine.core.attribution.faithfulness import deletion_curve
from evalrefine.core.attribution.gradient import GradientTimesInput
from evalrefine.core.attribution.occlusion import LeaveOneOut
from evalrefine.core.attribution.spans import Granularity, split_spans
from evalrefine.core.attribution.target import Target
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import InputError

METHODS: tuple[str, ...] = ("loo", "ablation", "gradient")


def attributor(method: str, monitor: StartOfCotMonitor, target: Target) -> Attributor:
    if method == "loo":
        return LeaveOneOut(monitor, target)
    if method == "ablation":
        return AblationSurrogate(monitor, target)
    if method == "gradient":
        return GradientTimesInput(monitor, target)
    raise InputError(f"unknown attribution method {method!r}", f"use one of {', '.join(METHODS)}")


def explain(
    monitor: StartOfCotMonitor,
    target: Target,
    conversation: Conversation,
    method: str = "loo",
    granularity: Granularity = "sentence",
    check: bool = True,
) -> Attribution:
    """Attribute ``target`` to the spans of ``conversation``; with ``check``, add the deletion curve."""
    spans = split_spans(conversation, granularity)
    if not spans:
        raise InputError("the prompt has no text to attribute", "give a prompt with some words in it")
    result = attributor(method, monitor, target).attribute(conversation, spans)
    if check:
        result = replace(result, faithfulness=deletion_curve(monitor, target, conversation, result))
    return result
