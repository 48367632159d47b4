"""Spans map back onto the text exactly, for unicode, code blocks and multi-turn input."""

from __future__ import annotations

import pytest

from evalrefine.core.attribution.spans import delete_spans, split_spans, text_bounds
from evalrefine.core.io.conversation import Conversation, Message, normalize_text

TEXTS = [
    "Hello there Mr. Smith. This is a test!  It costs $3.50, e.g. cheap.\n\nNew para: ok? Ünïcödé 🙂 works.",
    "Fix this code:\n```python\ndef f(x):\n    return x. y  # not a sentence end\n```\nThanks, that's all.",
    "no punctuation at all just words",
    "  leading spaces. trailing spaces   ",
    "日本語の文です。もう一つの文です。 Emoji 👩‍👩‍👧 family; clause one, clause two — dash.",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("granularity", ["sentence", "clause", "word"])
def test_spans_round_trip(text: str, granularity: str) -> None:
    bounds = text_bounds(text, granularity)  # type: ignore[arg-type]
    assert bounds, "every non-empty text has spans"
    # disjoint, in order, and every non-space character is covered exactly once
    covered = [False] * len(text)
    for (s, e), nxt in zip(bounds, [*bounds[1:], (len(text), len(text))], strict=True):
        assert 0 <= s < e <= nxt[0]
        for i in range(s, e):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())
    if granularity != "word":
        assert "".join(text[s:e] for s, e in bounds).strip() == text.strip()


def test_code_block_is_one_sentence() -> None:
    bounds = text_bounds(TEXTS[1], "sentence")
    pieces = [TEXTS[1][s:e] for s, e in bounds]
    assert any(p.startswith("```python") and p.rstrip().endswith("```") for p in pieces)
    assert not any("y  # not" in p and not p.startswith("```") for p in pieces)


def test_sentences_and_clauses() -> None:
    text = "First sentence here. Second one, with a clause; and another. Third?"
    sents = [text[s:e] for s, e in text_bounds(text, "sentence")]
    assert sents == ["First sentence here. ", "Second one, with a clause; and another. ", "Third?"]
    clauses = [text[s:e] for s, e in text_bounds(text, "clause")]
    assert clauses == ["First sentence here. ", "Second one, ", "with a clause; ", "and another. ", "Third?"]


def test_multi_turn_spans_and_deletion() -> None:
    conv = Conversation(
        (
            Message("system", "You are helpful. Be brief."),
            Message("user", "Hi. How are you?"),
            Message("assistant", "Fine. Thanks."),
            Message("user", "Tell me a joke. Make it short."),
        )
    )
    spans = split_spans(conv, "sentence")
    assert [(s.message, s.text) for s in spans] == [
        (0, "You are helpful. "),
        (0, "Be brief."),
        (1, "Hi. "),
        (1, "How are you?"),
        (3, "Tell me a joke. "),
        (3, "Make it short."),
    ]
    for s in spans:
        assert conv.messages[s.message].content[s.start : s.end] == s.text
    edited = delete_spans(conv, [spans[1], spans[4], spans[0]])
    assert edited.messages[0].content == ""
    assert edited.messages[3].content == "Make it short."
    assert edited.messages[2] == conv.messages[2]
    one = delete_spans(conv, [spans[3]])
    text = conv.messages[1].content
    # A deleted last sentence leaves no trailing space: every message's text is normalised.
    assert one.messages[1].content == normalize_text(text[: spans[3].start] + text[spans[3].end :]) == "Hi."
