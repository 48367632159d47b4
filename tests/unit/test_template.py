"""Reasoning-opener detection for each checked chat-template family."""

from __future__ import annotations

import pytest

from evalrefine.core.template import (
    HARMONY_OPENER,
    THINK_OPENER,
    ReasoningFormat,
    detect_reasoning_format,
    opener_to_append,
)
from tests.tiny import TEMPLATES, tiny_tokenizer


@pytest.mark.parametrize(
    ("family", "opener", "reported"),
    [
        ("plain", "", "plain"),
        ("qwen3", THINK_OPENER, "qwen3"),
        ("r1", "", "think-in-template"),
        ("harmony", HARMONY_OPENER, "harmony"),
    ],
)
def test_detect_and_render(family: str, opener: str, reported: str) -> None:
    tok = tiny_tokenizer(TEMPLATES[family])
    fmt = detect_reasoning_format(tok.chat_template)
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True, **fmt.template_kwargs
    )
    assert opener_to_append(fmt, rendered, None) == (opener, reported)


def test_qwen3_thinking_is_switched_on() -> None:
    fmt = detect_reasoning_format(TEMPLATES["qwen3"])
    assert fmt.template_kwargs == {"enable_thinking": True}
    tok = tiny_tokenizer(TEMPLATES["qwen3"])
    off = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    assert off.endswith("<think>\n\n</think>\n\n"), "the fixture template must behave like Qwen3's"


def test_opener_without_trailing_newline_is_completed() -> None:
    fmt = ReasoningFormat("think", THINK_OPENER)
    assert opener_to_append(fmt, "<|assistant|><think>", None) == ("\n", "think-in-template")


def test_override_wins_even_for_reasoning_templates() -> None:
    fmt = detect_reasoning_format(TEMPLATES["qwen3"])
    assert opener_to_append(fmt, "x", "") == ("", "override")
    assert opener_to_append(fmt, "x", "Okay") == ("Okay", "override")


def test_no_template_is_plain() -> None:
    assert detect_reasoning_format(None).opener == ""
