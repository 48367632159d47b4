"""The monitor's numbers against independent computations, on tiny random models."""

from __future__ import annotations

import math

import pytest

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.backends.torch_scoring import Strategy, supports_packed
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import ContextTooLongError
from tests.families import one_thread  # noqa: F401  (autouse: one torch thread for tiny models)
from tests.tiny import CONVERSATIONS, TEMPLATES, generate_logprobs, naive_logprobs, tiny_model, tiny_tokenizer

SENTENCES = ["This is clearly a test", "The user might be testing", " This is a fictional scenario.", "Hi"]
OPENERS = {"plain": "", "qwen3": "<think>\n", "r1": "", "harmony": "<|channel|>analysis<|message|>"}


def make_backend(family: str, arch: str = "llama", strategy: Strategy | None = None) -> HFLocalBackend:
    tok = tiny_tokenizer(TEMPLATES[family])
    return HFLocalBackend(tiny_model(len(tok), arch), tok, f"tiny-{family}-{arch}", strategy)


def expected_tokens(
    backend: HFLocalBackend, conv: Conversation, opener: str, sentence: str
) -> tuple[list[int], list[int]]:
    """Token ids computed straight from the tokenizer, independently of the monitor."""
    kwargs = {"enable_thinking": True} if "enable_thinking" in (backend.chat_template or "") else {}
    text = (
        backend.tokenizer.apply_chat_template(conv.as_dicts(), tokenize=False, add_generation_prompt=True, **kwargs)
        + opener
    )
    prefix = backend.tokenizer.encode(text, add_special_tokens=False)
    full = backend.tokenizer.encode(text + sentence, add_special_tokens=False)
    assert full[: len(prefix)] == prefix
    return prefix, full[len(prefix) :]


@pytest.mark.parametrize("strategy", ["packed", "cached"])
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize("family", sorted(TEMPLATES))
@pytest.mark.parametrize("conv_name", sorted(CONVERSATIONS))
def test_monitor_equals_naive_and_generate(family: str, arch: str, conv_name: str, strategy: Strategy) -> None:
    backend = make_backend(family, arch, strategy)
    conv = CONVERSATIONS[conv_name]
    result = StartOfCotMonitor(backend, SENTENCES).score(conv)
    assert result.prompt.cot_opener == OPENERS[family]
    for score in result.sentences:
        prefix, cont = expected_tokens(backend, conv, OPENERS[family], score.sentence)
        assert list(result.prompt.ids) == prefix
        assert [t.token_id for t in score.tokens] == cont
        naive = naive_logprobs(backend.model, prefix, cont)
        got = [t.logprob for t in score.tokens]
        assert got == pytest.approx(naive, abs=1e-4)
        assert score.logprob == pytest.approx(math.fsum(naive), abs=1e-4)
        assert score.prob == pytest.approx(math.exp(math.fsum(naive)), rel=1e-4)
        assert got == pytest.approx(generate_logprobs(backend.model, prefix, cont), abs=1e-4)
        assert not score.boundary_merged


def test_r1_template_opener_is_not_doubled() -> None:
    backend = make_backend("r1")
    result = StartOfCotMonitor(backend, ["Hi"]).score(CONVERSATIONS["single"])
    assert result.prompt.text.endswith("<｜Assistant｜><think>\n")
    assert result.prompt.text.count("<think>") == 1
    assert result.prompt.reasoning_family == "think-in-template"


def test_cot_opener_override() -> None:
    backend = make_backend("plain")
    result = StartOfCotMonitor(backend, ["Hi"], cot_opener="Okay, ").score(CONVERSATIONS["single"])
    assert result.prompt.text.endswith("<|im_start|>assistant\nOkay, ")
    assert result.prompt.reasoning_family == "override"


def test_boundary_merge_keeps_prompt_tokens_and_forces_standalone_sentence() -> None:
    """An opener ending mid-word ("Hmm, th") makes the tokenizer merge across the boundary."""
    backend = make_backend("plain")
    monitor = StartOfCotMonitor(backend, ["is is clearly a test"], cot_opener="Th")
    prepared = monitor.prepare(CONVERSATIONS["single"])
    prompt_ids = backend.encode(prepared.text)
    full = backend.encode(prepared.text + "is is clearly a test")
    assert full[: len(prompt_ids)] != prompt_ids, "fixture must actually merge across the boundary"
    assert list(prepared.ids) == prompt_ids
    assert list(prepared.continuations[0]) == backend.encode("is is clearly a test")
    result = monitor.score_prepared(prepared)
    assert result.sentences[0].boundary_merged
    naive = naive_logprobs(backend.model, prompt_ids, prepared.continuations[0])
    assert [t.logprob for t in result.sentences[0].tokens] == pytest.approx(naive, abs=1e-4)


def test_context_window_error_names_both_numbers() -> None:
    backend = make_backend("plain")  # context 256 tokens
    conv = Conversation.from_user_text("word " * 400)
    with pytest.raises(ContextTooLongError) as err:
        StartOfCotMonitor(backend, SENTENCES).score(conv)
    msg = str(err.value)
    assert "context window is 256" in msg
    n_prompt = len(backend.encode(backend.render_chat(conv.messages)))
    assert f"prompt is {n_prompt} tokens" in msg


@pytest.mark.parametrize("strategy", ["packed", "cached"])
def test_single_token_sentences_and_batch_order(strategy: Strategy) -> None:
    backend = make_backend("plain", strategy=strategy)
    conv = CONVERSATIONS["single"]
    many = ["Hi", "This is clearly a test", "T", "The user might be testing me, I think."]
    together = StartOfCotMonitor(backend, many).score(conv)
    for s in together.sentences:
        alone = StartOfCotMonitor(backend, [s.sentence]).score(conv).sentences[0]
        assert s.logprob == pytest.approx(alone.logprob, abs=1e-5)


def test_default_strategy_is_packed_for_sdpa() -> None:
    assert supports_packed(make_backend("plain").model)


@pytest.mark.parametrize("strategy", ["packed", "cached"])
@pytest.mark.parametrize("family", ["plain", "qwen3"])
def test_score_many_variants_equals_naive(family: str, strategy: Strategy) -> None:
    from evalrefine.core.attribution.spans import delete_spans, split_spans

    backend = make_backend(family, strategy=strategy)
    conv = CONVERSATIONS["system+multi"]
    spans = split_spans(conv, "word")
    variants = [conv, *[delete_spans(conv, [s]) for s in spans], delete_spans(conv, spans)]
    monitor = StartOfCotMonitor(backend, SENTENCES)
    results = monitor.score_many(variants, allow_empty=True)
    assert len(results) == len(variants)
    for variant, result in zip(variants, results, strict=True):
        assert result.prompt == monitor.prepare(variant, allow_empty=True)
        for s in result.sentences:
            naive = naive_logprobs(backend.model, result.prompt.ids, [t.token_id for t in s.tokens])
            assert [t.logprob for t in s.tokens] == pytest.approx(naive, abs=1e-4)
