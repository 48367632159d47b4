"""Variants of a prompt side by side: scores, percentiles, verdicts, and which edits moved the score.

Every variant is diffed word by word against the first (the baseline). Each differing hunk gets an
exact attribution: the variant is re-scored with that one hunk reverted to the baseline's words,
and the hunk's effect is the change it causes, ``value(variant) − value(variant with the hunk
reverted)`` (negative = the edit made the prompt read more like deployment traffic). The
reverted variants share the variant's prefix, so they are scored together in packed passes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from evalrefine.core.attribution.target import Target
from evalrefine.core.calibration.placement import place
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.io.conversation import Conversation, Message
from evalrefine.core.scoring.monitor import MonitorResult, StartOfCotMonitor
from evalrefine.errors import InputError

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class DiffHunk:
    op: str
    """``replace``, ``insert`` or ``delete`` (relative to the baseline)."""
    base_text: str
    text: str
    start: int
    """Character offset of the hunk in the variant's text."""
    effect: float
    """value(variant) − value(variant with this hunk reverted to the baseline)."""


@dataclass(frozen=True)
class VariantScore:
    name: str
    text: str
    value: float
    percentile: float | None
    passes: bool | None
    logprobs: dict[str, float]
    hunks: tuple[DiffHunk, ...]
    """Differences from the first variant (empty for the first)."""


@dataclass(frozen=True)
class Comparison:
    target: str
    units: str
    reference: str | None
    target_percentile: float
    variants: tuple[VariantScore, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "units": self.units,
            "reference": self.reference,
            "target_percentile": self.target_percentile,
            "variants": [
                {
                    "name": v.name,
                    "value": v.value,
                    "percentile": v.percentile,
                    "passes": v.passes,
                    "logprobs": v.logprobs,
                    "hunks": [
                        {"op": h.op, "base": h.base_text, "text": h.text, "start": h.start, "effect": h.effect}
                        for h in v.hunks
                    ],
                    "text": v.text,
                }
                for v in self.variants
            ],
        }


def word_diff(base: str, text: str) -> list[tuple[str, int, int, int, int]]:
    """``(op, base_start, base_end, start, end)`` character ranges of the differing runs of words.

    Words are compared, not whitespace, so one rewritten phrase is one hunk. An inserted or deleted
    run takes the whitespace after it (before it, at the end) along, so applying every hunk to the
    base gives the text exactly and reverting one leaves no doubled spaces.
    """
    a = [m.span() for m in _WORD.finditer(base)]
    b = [m.span() for m in _WORD.finditer(text)]
    matcher = difflib.SequenceMatcher(None, [base[s:e] for s, e in a], [text[s:e] for s, e in b], autojunk=False)

    def bounds(spans: list[tuple[int, int]], i: int, j: int, whole: str, extend: bool) -> tuple[int, int]:
        if j == i:  # the empty side of an insert or delete: a point
            point = spans[i][0] if i < len(spans) else (spans[-1][1] if spans else len(whole))
            return point, point
        start, end = spans[i][0], spans[j - 1][1]
        if extend and j < len(spans):
            end = spans[j][0]  # take the whitespace after the run along
        elif extend:
            start = spans[i - 1][1] if i > 0 else 0  # at the end: the whitespace before it
        return start, end

    out: list[tuple[str, int, int, int, int]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            bs, be = bounds(a, i1, i2, base, op == "delete")
            vs, ve = bounds(b, j1, j2, text, op == "insert")
            out.append((op, bs, be, vs, ve))
    return out


def _with_text(conversation: Conversation, text: str) -> Conversation:
    return Conversation((*conversation.messages[:-1], Message("user", text)))


def compare(
    variants: Sequence[tuple[str, Conversation]],
    monitor: StartOfCotMonitor,
    target: Target,
    reference: Reference | None,
    target_percentile: float = 50.0,
) -> Comparison:
    """Score every variant, diff each against the first, and attribute each differing hunk."""
    if len(variants) < 2:
        raise InputError(
            "compare needs at least two variants", "give two or more files, or a file with several records"
        )
    base_text = variants[0][1].messages[-1].content
    scored: list[VariantScore] = []
    for name, conv in variants:
        text = conv.messages[-1].content
        diffs = word_diff(base_text, text) if scored else []
        reverted = [text[:vs] + base_text[bs:be] + text[ve:] for _, bs, be, vs, ve in diffs]
        results = monitor.score_many([conv, *(_with_text(conv, r) for r in reverted)])
        value = target.value(results[0])
        hunks = tuple(
            DiffHunk(op, base_text[bs:be], text[vs:ve], vs, value - target.value(res))
            for (op, bs, be, vs, ve), res in zip(diffs, results[1:], strict=True)
        )
        scored.append(_variant(name, text, results[0], value, reference, target_percentile, hunks))
    return Comparison(
        target.name, target.units, reference.name if reference else None, target_percentile, tuple(scored)
    )


def _variant(
    name: str,
    text: str,
    result: MonitorResult,
    value: float,
    reference: Reference | None,
    target_percentile: float,
    hunks: tuple[DiffHunk, ...],
) -> VariantScore:
    placement = place(result, reference, target_percentile) if reference else None
    return VariantScore(
        name,
        text,
        value,
        placement.percentile if placement else None,
        placement.passes if placement else None,
        {s.sentence: s.logprob for s in result.sentences},
        hunks,
    )
