"""The monitor against real chat templates (tests/fixtures/chat_templates, see SOURCES.md).

For each template: the scored prefix + opener is what the model is fed when it starts its
reasoning, checked against the tokenizer's own ``apply_chat_template`` of a conversation whose
assistant turn carries reasoning R (in the field or form that template reads); today's date never
changes the prefix; BOS is there exactly once when the tokenizer adds one.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from evalrefine.backends.hf_tokenizer import HFChatTokenizer
from evalrefine.core.io.conversation import Conversation, Message
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.template import HARMONY_OPENER
from evalrefine.errors import ModelError
from tests.tiny import tiny_tokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chat_templates"
CONTROL = [
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<bos>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|return|>",
    "<|call|>",
    "<|im_user|>",
    "<|im_assistant|>",
    "<|im_system|>",
    "<|im_middle|>",
    "[THINK]",
    "[/THINK]",
    "[INST]",
    "[/INST]",
    "[SYSTEM_PROMPT]",
    "[/SYSTEM_PROMPT]",
    "<s>",
    "</s>",
]
R, A = "Let me think about this carefully.", "The answer is 4."
SYSTEM, USER = "You are a careful assistant.", "What is 2 + 2?"

# name: (family, opener, template kwargs, closers, how the template carries reasoning in a turn)
CASES: dict[str, tuple[str, str, dict[str, object], tuple[str, ...], str]] = {
    "Qwen-Qwen3-0.6B": ("thinking-switch", "<think>\n", {"enable_thinking": True}, ("</think>",), "reasoning_content"),
    "Qwen-QwQ-32B": ("think-in-template", "", {}, ("</think>",), "inline"),  # keeps the last turn as written
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("think-in-template", "", {}, ("</think>",), "dropped"),
    "openai-gpt-oss-120b": ("harmony", HARMONY_OPENER, {}, ("<|end|>", "<|channel|>final"), "thinking"),
    "Kimi-K2-Thinking": ("think", "<think>", {}, ("</think>",), "reasoning_content_later_turn"),
    "mistralai-Ministral-3-14B-Reasoning-2512": ("think", "[THINK]", {}, ("[/THINK]",), "thinking_block"),
    "HuggingFaceTB-SmolLM3-3B": ("thinking-switch", "<think>\n", {"enable_thinking": True}, ("</think>",), "inline"),
    "meta-llama-Llama-3.1-8B-Instruct": ("plain", "", {}, (), "plain"),
    "meta-llama-Llama-3.2-3B-Instruct": ("plain", "", {}, (), "plain"),
    "meta-llama-Llama-3.3-70B-Instruct": ("plain", "", {}, (), "plain"),
    "google-gemma-2-2b-it": ("plain", "", {}, (), "plain"),
    "moonshotai-Kimi-K2": ("plain", "", {}, (), "plain"),
}
NO_SYSTEM = {"google-gemma-2-2b-it"}  # raises on a system turn


class FixtureBackend(HFChatTokenizer):
    """The real tokenizer layer over a tiny tokenizer carrying a real template (no model needed)."""

    def __init__(self, tokenizer: Any, name: str) -> None:
        self.tokenizer, self._name = tokenizer, name

    fingerprint = "fixture-weights"
    context_length = 1 << 20

    def score_continuations(self, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
        raise AssertionError("FixtureBackend has no model: these tests only render and tokenize")

    def score_variants(
        self, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]]
    ) -> list[list[list[float]]]:
        raise AssertionError("FixtureBackend has no model: these tests only render and tokenize")


def template(name: str) -> str:
    return (FIXTURES / f"{name}.jinja").read_text()


@functools.cache
def tokenizer(name: str, bos: str | None = None, add_bos: bool = False) -> Any:
    return tiny_tokenizer(template(name), extra_special=CONTROL, bos=bos, add_bos=add_bos)


def monitor(name: str, bos: str | None = None, add_bos: bool = False, **kwargs: Any) -> StartOfCotMonitor:
    return StartOfCotMonitor(FixtureBackend(tokenizer(name, bos, add_bos), name), ["Hmm"], **kwargs)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Sets the date transformers' own ``strftime_now`` sees (the real clock of a server)."""
    import transformers.utils.chat_template_utils as ctu

    class Clock(datetime.datetime):
        fixed = datetime.datetime(2031, 7, 9)  # not `day`: that is datetime's own day-of-month field

        @classmethod
        def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
            return cls.fixed

    monkeypatch.setattr(ctu, "datetime", Clock)
    yield Clock


def test_every_fixture_is_listed_in_sources() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text()
    files = sorted(p.stem for p in FIXTURES.glob("*.jinja"))
    assert files == sorted(CASES)
    assert all(f"`{f}.jinja`" in sources for f in files)


@pytest.mark.parametrize("name", sorted(CASES))
def test_detected_format(name: str) -> None:
    family, opener, kwargs, closers, _ = CASES[name]
    fmt = monitor(name).format
    assert (fmt.family, fmt.opener, dict(fmt.template_kwargs), fmt.closers) == (family, opener, kwargs, closers)


@pytest.mark.parametrize("name", sorted(CASES))
def test_prefix_and_opener_are_what_the_model_is_fed(name: str, today: Any) -> None:
    """prefix + opener, then R, is how the template itself renders a turn that reasons R."""
    _, opener, kwargs, _, carrier = CASES[name]
    today.fixed = datetime.datetime(2026, 1, 1)  # the pinned default: the tokenizer's own render agrees
    tok = tokenizer(name)
    system = [] if name in NO_SYSTEM else [{"role": "system", "content": SYSTEM}]
    history = [*system, {"role": "user", "content": USER}]
    if carrier == "reasoning_content_later_turn":  # Kimi K2 Thinking drops reasoning of the first answer
        history = [
            *system,
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            *history[-1:],
        ]
    conv = Conversation(tuple(Message(m["role"], m["content"]) for m in history))  # type: ignore[arg-type]
    prepared = monitor(name).prepare(conv)
    own_prompt = tok.apply_chat_template(history, tokenize=False, add_generation_prompt=True, **kwargs)
    assert prepared.text == own_prompt + opener and prepared.cot_opener == opener

    turn: dict[str, object] = {"role": "assistant", "content": A}
    if carrier in ("reasoning_content", "reasoning_content_later_turn"):
        turn["reasoning_content"] = R
    elif carrier == "thinking":
        turn["thinking"] = R
    elif carrier == "thinking_block":
        turn["content"] = [{"type": "thinking", "thinking": R}, {"type": "text", "text": A}]
    elif carrier in ("inline", "dropped"):
        turn["content"] = f"<think>\n{R}\n</think>\n{A}"
    full = tok.apply_chat_template([*history, turn], tokenize=False, add_generation_prompt=False, **kwargs)
    if carrier == "dropped":
        # The R1 distills strip reasoning from every rendered turn, so no turn shows it; the model's
        # reasoning starts right after the generation prompt, which already ends with the open tag.
        assert R not in full and A in full and prepared.text.endswith("<think>\n")
    elif carrier == "plain":
        assert full.startswith(prepared.text + A)  # no reasoning: the answer (the CoT) starts right there
    else:
        assert full.startswith(prepared.text + R), (prepared.text[-80:], full)


def test_smollm3_switch_off_opens_and_closes_an_empty_block() -> None:
    tok = tokenizer("HuggingFaceTB-SmolLM3-3B")
    msgs = [{"role": "user", "content": USER}]
    off = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    on = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True, enable_thinking=True)
    assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n") and on.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("meta-llama-Llama-3.2-3B-Instruct", "Today Date: 01 Jan 2026"),
        ("openai-gpt-oss-120b", "Current date: 2026-01-01"),
        ("meta-llama-Llama-3.1-8B-Instruct", "Today Date: 26 Jul 2024"),  # its own fixed date, as served
        ("meta-llama-Llama-3.3-70B-Instruct", "Today Date: 26 Jul 2024"),
    ],
)
def test_rendered_prefix_does_not_depend_on_today(name: str, shown: str, today: Any) -> None:
    conv = Conversation.from_user_text(USER)
    texts, own = [], []
    for day in (datetime.datetime(2024, 3, 5), datetime.datetime(2030, 12, 31)):
        today.fixed = day
        texts.append(monitor(name).prepare(conv).text)
        own.append(tokenizer(name).apply_chat_template(conv.as_dicts(), tokenize=False, add_generation_prompt=True))
    assert texts[0] == texts[1] and shown in texts[0]
    if "26 Jul 2024" not in shown:
        assert own[0] != own[1], "the template really prints today's date"
    pinned = monitor(name, template_date="2027-05-06").prepare(conv).text
    assert ("2027" in pinned) == ("26 Jul 2024" not in shown)


@pytest.mark.parametrize("name", ["meta-llama-Llama-3.2-3B-Instruct", "openai-gpt-oss-120b"])
def test_pinning_changes_nothing_but_the_date(name: str, today: Any) -> None:
    """With "today" equal to the pinned date, the pinned render is the tokenizer's own, character for character."""
    today.fixed = datetime.datetime(2026, 1, 1)
    backend = FixtureBackend(tokenizer(name), name)
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    for gen in (True, False):
        pinned = monitor(name)._render(msgs, gen, {})
        assert pinned == backend.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)


def _ids_of(name: str, bos: str, add_bos: bool) -> tuple[list[int], int, Any]:
    tok = tokenizer(name, bos, add_bos)
    m = monitor(name, bos, add_bos)
    return list(m.prepare(Conversation.from_user_text(USER)).ids), tok.convert_tokens_to_ids(bos), m


@pytest.mark.parametrize(
    ("name", "bos"), [("meta-llama-Llama-3.1-8B-Instruct", "<|begin_of_text|>"), ("google-gemma-2-2b-it", "<bos>")]
)
def test_bos_rendered_by_the_template_is_not_doubled(name: str, bos: str) -> None:
    ids, bos_id, m = _ids_of(name, bos, add_bos=True)
    tok = tokenizer(name, bos, True)
    rendered = tok.apply_chat_template([{"role": "user", "content": USER}], tokenize=False, add_generation_prompt=True)
    assert tok.encode(rendered, add_special_tokens=True)[:2] == [bos_id, bos_id]  # what naive encoding would do
    assert ids[0] == bos_id and ids.count(bos_id) == 1
    assert ids == tok.encode(rendered, add_special_tokens=False)
    assert m.identity["bos"] == f"template:{bos}"


@pytest.mark.parametrize("name", ["Qwen-QwQ-32B", "Qwen-Qwen3-0.6B"])
def test_bos_the_tokenizer_adds_is_prepended_once(name: str) -> None:
    ids, bos_id, m = _ids_of(name, "<bos>", add_bos=True)
    tok = tokenizer(name, "<bos>", True)
    kwargs = dict(CASES[name][2])
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": USER}], tokenize=False, add_generation_prompt=True, **kwargs
    )
    assert ids == tok.encode(rendered + CASES[name][1], add_special_tokens=True)  # as generation encodes it
    assert ids[0] == bos_id and ids.count(bos_id) == 1 and m.identity["bos"] == "added:<bos>"
    plain_ids, _, plain = _ids_of(name, "<bos>", add_bos=False)
    assert plain_ids[0] != bos_id and plain.identity["bos"] == "none"


def test_identity_holds_everything_that_changes_a_number(today: Any) -> None:
    name = "meta-llama-Llama-3.2-3B-Instruct"
    m = monitor(name)
    ident = m.identity
    assert set(ident) == {"weights", "template", "template_date", "opener", "bos", "probe"}
    assert ident["weights"] == "fixture-weights" and ident["template_date"] == "2026-01-01"
    assert re.fullmatch(r"[0-9a-f]{32}", m.model_fingerprint)
    today.fixed = datetime.datetime(2029, 2, 2)
    assert monitor(name).model_fingerprint == m.model_fingerprint  # another day, the same number
    other_date = monitor(name, template_date="2027-05-06")
    assert other_date.identity["probe"] != ident["probe"] and other_date.model_fingerprint != m.model_fingerprint
    assert monitor(name, cot_opener="Okay").model_fingerprint != m.model_fingerprint
    again = StartOfCotMonitor(m.backend, ["Another sentence entirely"])
    assert again.model_fingerprint == m.model_fingerprint  # sentences are keyed separately
    assert monitor("Qwen-Qwen3-0.6B").identity["opener"] != monitor("Qwen-QwQ-32B").identity["opener"]


PHI_LIKE = (  # Phi-4-reasoning's shape: the format is described in the system prompt, nothing renders it
    "{{ '<|im_start|>system<|im_sep|>Reason inside <think> {Thought} </think> then answer.<|im_end|>' }}"
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '<|im_sep|>' + m['content'] + '<|im_end|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}"
)


def test_a_reasoning_format_that_cannot_be_placed_is_an_error() -> None:
    backend = FixtureBackend(tiny_tokenizer(PHI_LIKE), "phi-like")
    with pytest.raises(ModelError) as err:
        StartOfCotMonitor(backend, ["Hmm"])
    assert "--cot-opener" in str(err.value)
    forced = StartOfCotMonitor(backend, ["Hmm"], cot_opener="<think>")
    assert forced.prepare(Conversation.from_user_text(USER)).text.endswith("<|im_sep|><think>")
