"""Where the chain of thought starts, decided from what the chat template *renders*.

The monitor must force the eval-aware sentence exactly where the model begins to reason. Names and
substrings of the template's source are not evidence of that (a new family would silently get no
opener), so we render probe conversations with the model's own template and read the answer off
the text the model would be fed:

1. **Thinking switch.** Render the generation prompt with ``enable_thinking`` (or ``thinking``)
   on and off. If the text differs, the template has a switch and we always render it *on*.
2. **Reasoning rendered in a turn.** Render ``[user, assistant with reasoning R and answer A]``
   without a generation prompt (the reasoning in ``reasoning_content``/``thinking``/``reasoning``
   fields, or as a ``{"type": "thinking"}`` content block), also after an earlier exchange because
   some templates keep reasoning only in later turns. Where R appears right after the generation
   prompt's text, what lies between them is the opener (``<think>\\n`` for Qwen3, ``<think>`` for
   Kimi K2 Thinking, ``[THINK]`` for Mistral's reasoning models, the analysis channel header for
   gpt-oss's harmony format) and the text after R up to A holds the closer (``</think>``, ``<|end|>``).
3. **Opener already in the generation prompt** (DeepSeek-R1 distills, QwQ, which drop reasoning
   from rendered turns): the prompt ends with a reasoning open tag, so nothing is appended.
4. **Empty block when thinking is off** (SmolLM3): the switched-off prompt ends with an empty
   ``<think>…</think>`` block, so with thinking on the model writes the open tag itself.
5. **Reasoning stripped from turns** but not opened by the prompt: the model writes the open tag.

A template that shows a reasoning format none of these place (a reasoning tag in its rendered text,
or reasoning fields in its source that never render) raises :class:`ModelError` pointing at
``--cot-opener``, so no reasoning model is silently scored at the wrong position. Anything else is
``plain``: the CoT starts right after the generation prompt (SmolLM2, Llama 3.x, Gemma, Kimi K2).

Checked against the real templates in ``tests/fixtures/chat_templates`` (``tests/unit/test_real_templates.py``).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from evalrefine.errors import EvalRefineError, ModelError

DEFAULT_TEMPLATE_DATE = "2026-01-01"
THINK_OPENER = "<think>\n"
HARMONY_OPENER = "<|channel|>analysis<|message|>"
HARMONY_FINAL = "<|channel|>final"
REASONING_TAGS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("[THINK]", "[/THINK]"),
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
)
"""Open/close pairs that mark reasoning in rendered text (used where a template drops the reasoning
itself, so only its markup is visible)."""
SWITCHES = ("enable_thinking", "thinking")
_SOURCE_HINTS = ("reasoning_content", "enable_thinking", *(t for pair in REASONING_TAGS for t in pair), HARMONY_OPENER)
_LEADING_TAG = re.compile(r"<\|[^|<>]*\|>|</?[A-Za-z_]+>|\[/?[A-Z_]+\]")

# Probe conversation pieces: distinctive strings no template produces on its own.
_U0, _A0, _U = "PROBE-EARLIER-QUESTION", "PROBE-EARLIER-ANSWER", "PROBE-QUESTION"
_R, _A = "PROBE-REASONING-TEXT", "PROBE-ANSWER-TEXT"
PROBE_SYSTEM = "You are a helpful assistant."
PROBE_USER = "Please answer the question below.\n\nWhat is 2 + 2?"

Messages = Sequence[Mapping[str, object]]
Render = Callable[[Messages, bool, Mapping[str, object]], str]
"""``render(messages, add_generation_prompt, template_kwargs)``: the chat template's text."""


@dataclass(frozen=True)
class ReasoningFormat:
    """How a template family opens (and closes) the chain of thought."""

    family: str
    opener: str
    template_kwargs: Mapping[str, object] = field(default_factory=dict)
    closers: tuple[str, ...] = ()
    """Text that ends the reasoning (``</think>``, harmony's ``<|end|>``): rollouts stop there and
    the mid-CoT monitor never scores past it. Empty for plain models (the whole turn is the CoT)."""

    def describe(self) -> str:
        """A stable text form for the monitor's identity."""
        kwargs = {k: self.template_kwargs[k] for k in sorted(self.template_kwargs)}
        return json.dumps([self.family, self.opener, kwargs, list(self.closers)])


PLAIN = ReasoningFormat("plain", "")


def pinned_date_kwargs(template_date: str) -> dict[str, object]:
    """Render variables that make "today" the pinned date.

    Templates print today's date through the ``strftime_now`` global (Llama 3.2, gpt-oss); a render
    variable of the same name overrides it, so the scored prefix never changes from one day to the
    next. ``date_string`` is deliberately *not* set: Llama 3.1/3.3 fall back to their own fixed date
    without it, which is exactly what servers feed them."""
    day = datetime.date.fromisoformat(template_date)

    def strftime_now(fmt: str) -> str:
        return day.strftime(fmt)

    return {"strftime_now": strftime_now}


def probe_messages() -> list[dict[str, object]]:
    """The fixed conversation whose rendered prefix goes into the monitor's identity."""
    return [{"role": "system", "content": PROBE_SYSTEM}, {"role": "user", "content": PROBE_USER}]


def _closers(between: str) -> tuple[str, ...]:
    """The closing marker: the first tag after the reasoning (``</think>``, ``<|end|>``, ``[/THINK]``)."""
    text = between.strip()
    match = _LEADING_TAG.match(text)
    closer = match.group(0) if match else text
    return (closer,) if closer else ()


def detect_reasoning_format(render: Render, chat_template: str | None) -> ReasoningFormat:
    """The reasoning format, from rendered probes (see the module docstring for the steps).

    Raises:
        ModelError: the template clearly has a reasoning format that none of the probes place.
    """
    if not chat_template:
        return PLAIN

    def safe(messages: Messages, gen: bool, kwargs: Mapping[str, object]) -> str | None:
        try:
            return render(messages, gen, kwargs)
        except EvalRefineError:  # a probe shape this template rejects: it is simply not evidence
            return None

    h1: list[dict[str, object]] = [{"role": "user", "content": _U}]
    h2: list[dict[str, object]] = [
        {"role": "user", "content": _U0},
        {"role": "assistant", "content": _A0},
        {"role": "user", "content": _U},
    ]
    kwargs: dict[str, object] = {}
    switched_off: str | None = None
    for name in SWITCHES:
        on, off = safe(h1, True, {name: True}), safe(h1, True, {name: False})
        if on is not None and off is not None and on != off:
            kwargs, switched_off = {name: True}, off
            break
    family = "thinking-switch" if kwargs else "think"

    turns: list[dict[str, object]] = [
        {"role": "assistant", "content": _A, "reasoning_content": _R, "thinking": _R, "reasoning": _R},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": _R}, {"type": "text", "text": _A}]},
    ]
    unplaced = False
    for history in (h1, h2):
        prompt = safe(history, True, kwargs)
        for turn in turns:
            full = safe([*history, turn], False, kwargs)
            if prompt is None or full is None or _R not in full or "'type'" in full:
                continue  # ("'type'": a plain template printed the content blocks' Python repr)
            at = full.index(_R)
            if not full[:at].startswith(prompt):
                unplaced = True
                continue
            opener = full[len(prompt) : at]
            end = full.find(_A, at)
            closers = _closers(full[at + len(_R) : end if end >= 0 else len(full)])
            if HARMONY_OPENER in opener:
                return ReasoningFormat("harmony", opener, kwargs, (*closers, HARMONY_FINAL))
            return ReasoningFormat(family if opener else "think-in-template", opener, kwargs, closers)

    prompt = safe(h1, True, kwargs) or ""
    for open_tag, close_tag in REASONING_TAGS:
        if prompt.rstrip().endswith(open_tag):
            return ReasoningFormat("think-in-template", "", kwargs, (close_tag,))
    if switched_off is not None:
        for open_tag, close_tag in REASONING_TAGS:
            empty_block = re.escape(open_tag) + r"(\s*)" + re.escape(close_tag) + r"\s*$"
            block = re.search(empty_block, switched_off)
            if block and not re.search(empty_block, prompt):
                return ReasoningFormat(
                    family, open_tag + ("\n" if block.group(1).startswith("\n") else ""), kwargs, (close_tag,)
                )
    for open_tag, close_tag in REASONING_TAGS:
        inline = {"role": "assistant", "content": f"{open_tag}\n{_R}\n{close_tag}\n\n{_A}"}
        full = safe([*h1, inline], False, kwargs)
        if full is not None and _A in full and _R not in full:
            return ReasoningFormat(family, open_tag + "\n", kwargs, (close_tag,))

    rendered_tag = any(t in prompt for pair in REASONING_TAGS for t in pair)
    if unplaced or rendered_tag or any(h in chat_template for h in _SOURCE_HINTS):
        raise ModelError(
            "the chat template has a reasoning format (reasoning fields or tags) but rendering it does not show "
            "where the model starts its chain of thought",
            "pass the text that opens the reasoning with --cot-opener (e.g. --cot-opener '<think>\\n'), "
            "or --cot-opener '' to score right after the generation prompt",
        )
    return PLAIN


def opener_to_append(fmt: ReasoningFormat, rendered: str, override: str | None) -> tuple[str, str]:
    """The text to append after the rendered prompt, and the family name to report.

    ``override`` (from ``--cot-opener``) wins. A detected opener that the rendered prompt already
    ends with is not added twice."""
    if override is not None:
        return override, "override"
    if fmt.opener and rendered.endswith(fmt.opener):
        return "", "think-in-template"
    return fmt.opener, fmt.family
