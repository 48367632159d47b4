"""Splitting a prompt into spans (sentences, clauses, words) with exact character offsets.

Attribution edits the prompt by deleting spans, and the front ends paint results back onto the
text, so every span is an exact slice ``message.content[start:end]`` of one system or user turn.
A span includes the whitespace that follows it, so deleting it leaves clean text. Sentences come
from pysbd (rule-based, offline); fenced code blocks are kept whole; clauses split sentences
after , ; : and dashes; words are runs of non-space characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from evalrefine.core.io.conversation import Conversation, Message

Granularity = Literal["sentence", "clause", "word"]
GRANULARITIES: tuple[str, ...] = ("sentence", "clause", "word")
ROLES_TO_SPLIT = ("system", "user")
_FENCE = re.compile(r"```.*?(?:```|\Z)\s*", re.S)
_CLAUSE_END = re.compile(r"[,;:—–]\s+|\s+[-–—]\s+|\n+")
_WORD = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class Span:
    message: int
    """Index of the turn in the conversation."""
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


_LINE_WRAP = re.compile(r"(?<!\n)\n(?!\n)")


def _sentences(text: str, offset: int) -> list[tuple[int, int]]:
    """Sentence boundaries of prose; pysbd's offsets are re-found in the text to be safe. A single
    newline is a hard line wrap, not a sentence end: it is shown to pysbd as a space (same length,
    so offsets are unchanged)."""
    text = _LINE_WRAP.sub(" ", text)
    out, pos = [], 0
    for piece in _segmenter().segment(text):
        sent = piece.sent
        at = text.find(sent, pos)
        if at < 0 or not sent:
            continue
        out.append((offset + at, offset + at + len(sent)))
        pos = at + len(sent)
    return out


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    bounds: list[tuple[int, int]] = []
    pos = 0
    for fence in _FENCE.finditer(text):
        if fence.start() > pos:
            bounds += _sentences(text[pos : fence.start()], pos)
        bounds.append((fence.start(), fence.end()))
        pos = fence.end()
    if pos < len(text):
        bounds += _sentences(text[pos:], pos)
    return _cover(text, bounds)


def _cover(text: str, bounds: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Make the bounds tile the text: gaps (whitespace pysbd skipped) join the span before them."""
    tiled: list[tuple[int, int]] = []
    for start, end in sorted(bounds):
        if tiled and start > tiled[-1][1]:
            tiled[-1] = (tiled[-1][0], start)
        elif not tiled and start > 0:
            start = 0
        if end > start:
            tiled.append((start, end))
    if tiled and tiled[-1][1] < len(text):
        tiled[-1] = (tiled[-1][0], len(text))
    return [b for b in tiled if text[b[0] : b[1]].strip()] or ([(0, len(text))] if text.strip() else [])


def _split_within(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    pieces, pos = [], start
    for m in pattern.finditer(text, start, end):
        if m.end() > pos and text[pos : m.start()].strip():
            pieces.append((pos, m.end()))
            pos = m.end()
    if pos < end:
        if pieces and not text[pos:end].strip():
            pieces[-1] = (pieces[-1][0], end)
        else:
            pieces.append((pos, end))
    return pieces


def text_bounds(text: str, granularity: Granularity) -> list[tuple[int, int]]:
    """Tiling spans of ``text`` at ``granularity`` (whitespace-only pieces are dropped)."""
    if granularity == "word":
        bounds = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        return bounds
    sentences = sentence_bounds(text)
    if granularity == "sentence":
        return sentences
    return [c for s, e in sentences for c in _split_within(text, s, e, _CLAUSE_END)]


def split_spans(
    conversation: Conversation, granularity: Granularity = "sentence", roles: Iterable[str] = ROLES_TO_SPLIT
) -> list[Span]:
    """Spans of every system and user turn, in order."""
    wanted = set(roles)
    spans = []
    for i, msg in enumerate(conversation.messages):
        if msg.role in wanted:
            spans += [Span(i, s, e, msg.content[s:e]) for s, e in text_bounds(msg.content, granularity)]
    return spans


def delete_spans(conversation: Conversation, spans: Iterable[Span]) -> Conversation:
    """The conversation with every given span cut out (``text[:start] + text[end:]`` per span)."""
    by_message: dict[int, list[Span]] = {}
    for span in spans:
        by_message.setdefault(span.message, []).append(span)
    messages = list(conversation.messages)
    for index, group in by_message.items():
        content = messages[index].content
        for span in sorted(group, key=lambda s: s.start, reverse=True):
            content = content[: span.start] + content[span.end :]
        messages[index] = Message(messages[index].role, content)
    return Conversation(tuple(messages))
