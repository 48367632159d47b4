"""Where the chain of thought starts: the reasoning opener for each chat-template family.

The monitor must force the eval-aware sentence exactly where the model would begin to reason.
For a plain chat model that is right after the generation prompt; reasoning models open their CoT
with a marker that the template may or may not already emit. We detect the family from the raw
Jinja template (a string, so this stays headless) and then check the rendered prompt, so that a
marker already present is never added twice.

Checked families (tests/unit/test_template.py):

* ``plain``: ChatML/Llama-style templates with no reasoning marker (SmolLM2, Qwen2.5, Llama 3):
  the CoT starts at the bare assistant turn.
* ``qwen3``: templates with an ``enable_thinking`` switch (Qwen3): rendered with
  ``enable_thinking=True``, which emits nothing, so ``<think>\\n`` is appended.
* ``think-in-template``: templates whose generation prompt already ends in ``<think>\\n``
  (DeepSeek-R1 and its distills, QwQ): nothing is appended.
* ``think``: other templates that mention ``<think>`` but do not open it: ``<think>\\n`` is appended.
* ``harmony``: gpt-oss's channel format: ``<|channel|>analysis<|message|>`` opens the analysis channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

THINK_OPENER = "<think>\n"
HARMONY_OPENER = "<|channel|>analysis<|message|>"


@dataclass(frozen=True)
class ReasoningFormat:
    """How a template family opens the chain of thought."""

    family: str
    opener: str
    template_kwargs: Mapping[str, object] = field(default_factory=dict)


def detect_reasoning_format(chat_template: str | None) -> ReasoningFormat:
    """Guess the family from the raw template text (see the module docstring for the list)."""
    t = chat_template or ""
    if "<|channel|>" in t and "analysis" in t:
        return ReasoningFormat("harmony", HARMONY_OPENER)
    if "enable_thinking" in t:
        return ReasoningFormat("qwen3", THINK_OPENER, {"enable_thinking": True})
    if "<think>" in t:
        return ReasoningFormat("think", THINK_OPENER)
    return ReasoningFormat("plain", "")


def opener_to_append(fmt: ReasoningFormat, rendered: str, override: str | None) -> tuple[str, str]:
    """The text to append after the rendered prompt, and the family name to report.

    ``override`` (from ``--cot-opener``) wins. Otherwise, if the rendered generation prompt already
    ends with the family's opener (or with the opener without its trailing newline), nothing more is
    added: that is the ``think-in-template`` case.
    """
    if override is not None:
        return override, "override"
    opener = fmt.opener
    if not opener:
        return "", fmt.family
    if rendered.endswith(opener):
        return "", "think-in-template"
    stripped = opener.rstrip("\n")
    if stripped != opener and rendered.endswith(stripped):
        return opener[len(stripped) :], "think-in-template"
    return opener, fmt.family
