"""Reasoning-format detection from rendered probes, on the tiny test templates and hand-made renderers."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from evalrefine.backends.hf_tokenizer import pin_strftime
from evalrefine.core.scoring.template import (
    HARMONY_OPENER,
    THINK_OPENER,
    Messages,
    ReasoningFormat,
    detect_reasoning_format,
    opener_to_append,
)
from evalrefine.errors import ModelError
from tests.tiny import TEMPLATES, tiny_tokenizer


def renderer(template: str):  # type: ignore[no-untyped-def]
    tok = tiny_tokenizer(template)

    def render(messages: Messages, gen: bool, kwargs: Mapping[str, object]) -> str:
        try:
            dicts = [dict(m) for m in messages]
            return str(tok.apply_chat_template(dicts, tokenize=False, add_generation_prompt=gen, **kwargs))
        except Exception as exc:  # as the backends do: a template's failure is a ModelError
            raise ModelError(str(exc)) from None

    return tok, render


@pytest.mark.parametrize(
    ("family", "opener", "reported"),
    [
        ("plain", "", "plain"),
        ("qwen3", THINK_OPENER, "thinking-switch"),
        ("r1", "", "think-in-template"),
        ("harmony", HARMONY_OPENER, "harmony"),
    ],
)
def test_detect_and_render(family: str, opener: str, reported: str) -> None:
    tok, render = renderer(TEMPLATES[family])
    fmt = detect_reasoning_format(render, tok.chat_template)
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True, **fmt.template_kwargs
    )
    assert opener_to_append(fmt, rendered, None) == (opener, reported)


def test_qwen3_thinking_is_switched_on() -> None:
    tok, render = renderer(TEMPLATES["qwen3"])
    fmt = detect_reasoning_format(render, tok.chat_template)
    assert fmt.template_kwargs == {"enable_thinking": True} and fmt.closers == ("</think>",)
    off = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    assert off.endswith("<think>\n\n</think>\n\n"), "the fixture template must behave like Qwen3's"


def test_an_unlisted_family_is_placed_from_its_rendering() -> None:
    """A made-up format (``<reflect>`` markup carried in ``reasoning_content``) needs no code change."""
    template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' }}"
        "{% if m['reasoning_content'] is defined %}{{ '<reflect>' + m['reasoning_content'] + '</reflect>' }}{% endif %}"
        "{{ m['content'] + '<|im_end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    _, render = renderer(template)
    fmt = detect_reasoning_format(render, template)
    assert (fmt.family, fmt.opener, fmt.closers) == ("think", "<reflect>", ("</reflect>",))


def test_opener_already_rendered_is_not_added_twice() -> None:
    fmt = ReasoningFormat("think", THINK_OPENER)
    assert opener_to_append(fmt, "<|assistant|><think>\n", None) == ("", "think-in-template")


def test_override_wins_even_for_reasoning_templates() -> None:
    tok, render = renderer(TEMPLATES["qwen3"])
    fmt = detect_reasoning_format(render, tok.chat_template)
    assert opener_to_append(fmt, "x", "") == ("", "override")
    assert opener_to_append(fmt, "x", "Okay") == ("Okay", "override")


def test_no_template_is_plain() -> None:
    def render(messages: Messages, gen: bool, kwargs: Mapping[str, object]) -> str:
        raise AssertionError("never rendered")

    assert detect_reasoning_format(render, None).opener == ""


def test_pin_strftime_reads_each_literal_format() -> None:
    pinned, dates = pin_strftime("{{ strftime_now('%Y') }}|{{ strftime_now(\"%d %b\") }}", lambda f: f"<{f}>")
    assert dates == {"%Y": "<%Y>", "%d %b": "<%d %b>"} and pinned.endswith('{{ strftime_now("%d %b") }}')
    with pytest.raises(Exception, match="computed format"):
        pin_strftime("{{ strftime_now(fmt) }}", lambda f: f)
