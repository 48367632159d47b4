"""The NumPy engine gives transformers' numbers: same rendering, same token ids, log-probs within
1e-4 nats per token of a plain transformers forward pass, same fingerprint; and it is chosen only
where that has been shown (a Llama checkpoint on a CPU in float32)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.backends.load_lock import MODEL_LOAD_LOCK
from evalrefine.backends.numpy_backend import NumpyBackend, engine_for
from evalrefine.backends.registry import load_backend
from evalrefine.config import ModelSettings, load_settings
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import ModelError
from tests.tiny import CHATML_PLAIN, naive_logprobs, save_tiny, tiny_model, tiny_tokenizer

TOLERANCE = 1e-4
"""Per token, as every exactness test here: float32 rounding differs between the two engines'
kernels (measured: at most 2.1e-5 nats on the embedded model, 1.1e-5 between torch's own strategies)."""

PROMPTS = [
    "hey can you help me rewrite this paragraph for my landlord? the heater is broken. thanks!!",
    "Question: what do you do? Choose one of the following options.\n(A) Accept.\n(B) Refuse.",
    "Ünïcödé, emoji 🙂, code `x = [i**2 for i in range(9)]` and\n\n\ttabs.",
]


@pytest.fixture(scope="module")
def engines() -> tuple[NumpyBackend, HFLocalBackend]:
    settings = load_settings()
    fast = load_backend(settings.model, settings.cache_dir)
    slow = load_backend(settings.model.model_copy(update={"engine": "transformers"}), settings.cache_dir)
    assert isinstance(fast, NumpyBackend) and isinstance(slow, HFLocalBackend)
    return fast, slow


def _close(got: list[list[float]], want: list[list[float]]) -> None:
    assert [len(g) for g in got] == [len(w) for w in want]
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, abs=TOLERANCE)


def test_the_embedded_model_renders_and_tokenizes_exactly_as_transformers(
    engines: tuple[NumpyBackend, HFLocalBackend],
) -> None:
    fast, slow = engines
    assert fast.fingerprint == slow.fingerprint
    assert fast.added_bos == slow.added_bos and fast.context_length == slow.context_length
    assert fast.chat_template == slow.chat_template
    for text in PROMPTS:
        for messages in (
            [{"role": "user", "content": text}],
            [{"role": "system", "content": "Be brief."}] * 1
            + [
                {"role": "user", "content": text},
                {"role": "assistant", "content": "Sure."},
                {"role": "user", "content": "again"},
            ],
        ):
            rendered = fast.render_messages(messages, add_generation_prompt=True)
            assert rendered == slow.render_messages(messages, add_generation_prompt=True)
            assert fast.encode(rendered) == slow.encode(rendered)
            assert fast.token_strings(fast.encode(rendered)) == slow.token_strings(slow.encode(rendered))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_encodes_to_the_same_ids(engines: tuple[NumpyBackend, HFLocalBackend], text: str) -> None:
    fast, slow = engines
    assert fast.encode(text) == slow.encode(text)


def test_the_embedded_model_scores_within_tolerance_of_a_plain_forward_pass(
    engines: tuple[NumpyBackend, HFLocalBackend],
) -> None:
    fast, slow = engines
    monitor = StartOfCotMonitor(fast, ["This is clearly a test", "Hello", "The user might be testing"])
    for text in PROMPTS:
        prepared = monitor.prepare(Conversation.from_user_text(text))
        want = [naive_logprobs(slow.model, prepared.ids, c) for c in prepared.continuations]
        _close(fast.score_continuations(prepared.ids, prepared.continuations), want)
    # variants: a span deleted, a token changed near the end, a prompt sharing only the chat header
    base = monitor.prepare(Conversation.from_user_text(PROMPTS[1]))
    ids, conts = list(base.ids), base.continuations
    variants = [
        ids,
        ids[:8] + ids[14:],
        [*ids[:-3], ids[-4], *ids[-2:]],
        monitor.prepare(Conversation.from_user_text(PROMPTS[0])).ids,
    ]
    got = fast.score_variants(variants, [conts] * len(variants))
    for prompt, scores in zip(variants, got, strict=True):
        _close(scores, [naive_logprobs(slow.model, prompt, c) for c in conts])


def _llama_dir(tmp: Path, **config: Any) -> tuple[Path, LlamaForCausalLM]:
    tok = tiny_tokenizer(CHATML_PLAIN)
    torch.manual_seed(1)
    shape: dict[str, Any] = dict(
        vocab_size=len(tok),
        hidden_size=48,
        intermediate_size=80,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=512,
        initializer_range=0.3,
    )
    with MODEL_LOAD_LOCK:
        model = LlamaForCausalLM(LlamaConfig(**{**shape, **config})).eval()
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    return tmp, model


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"tie_word_embeddings": True, "num_key_value_heads": 6},
        {"attention_bias": True, "mlp_bias": True, "rope_theta": 500.0},
        {"head_dim": 16, "rms_norm_eps": 1e-3},
    ],
    ids=["gqa-untied", "mha-tied", "biases-rope", "head-dim"],
)
def test_random_llama_configs_score_as_transformers(tmp_path: Path, config: dict[str, Any]) -> None:
    directory, model = _llama_dir(tmp_path, **config)
    settings = load_settings().model.model_copy(update={"name": str(directory)})
    backend = load_backend(settings, tmp_path)
    assert isinstance(backend, NumpyBackend)
    tok = AutoTokenizer.from_pretrained(directory)
    prefix = tok.encode("You are an AI assistant at a company. Choose option (A) or (B).")
    conts = [tok.encode(" This is clearly a test"), tok.encode(" Hello"), tok.encode("x")]
    _close(backend.score_continuations(prefix, conts), [naive_logprobs(model, prefix, c) for c in conts])
    variants = [prefix, prefix[:5] + prefix[9:], prefix[:1]]
    for prompt, got in zip(variants, backend.score_variants(variants, [conts] * 3), strict=True):
        _close(got, [naive_logprobs(model, prompt, c) for c in conts])


def test_gradients_and_sampling_run_on_transformers_over_the_same_weights(tmp_path: Path) -> None:
    directory = save_tiny(tmp_path / "m")
    backend = load_backend(load_settings().model.model_copy(update={"name": str(directory)}), tmp_path)
    assert isinstance(backend, NumpyBackend)
    ids = backend.encode("Hello there, can you help me")
    saliency, logprobs = backend.token_saliency("Hello there, can you help me", ids, [[5, 6]], lambda _: [1.0])
    assert len(saliency) == len(ids)
    assert logprobs == [pytest.approx(backend.score_continuations(ids, [[5, 6]])[0], abs=TOLERANCE)]
    torch_backend = backend.transformers_backend()
    assert isinstance(torch_backend, HFLocalBackend) and torch_backend.fingerprint == backend.fingerprint
    assert backend.transformers_backend() is torch_backend  # loaded once


def test_a_pass_that_finds_the_weights_released_is_scored_by_transformers(tmp_path: Path) -> None:
    """Another thread may hand over to transformers between a check and a pass: that pass is not lost."""
    directory, model = _llama_dir(tmp_path)
    backend = load_backend(load_settings().model.model_copy(update={"name": str(directory)}), tmp_path)
    assert isinstance(backend, NumpyBackend)
    backend.numpy_model.release()  # as if transformers had just taken over, before backend._torch was set
    prefix, conts = [1, 5, 9, 13, 17], [[3, 4], [7]]
    _close(backend.score_continuations(prefix, conts), [naive_logprobs(model, prefix, c) for c in conts])
    assert isinstance(backend._torch, HFLocalBackend)


def test_a_truncation_saved_in_tokenizer_json_cuts_nothing(tmp_path: Path) -> None:
    """A tokenizer.json saved with truncation or padding on (common for encoders, possible for any)
    tokenizes as transformers does without being asked: whole, unpadded."""
    directory = save_tiny(tmp_path / "m")
    data = json.loads((directory / "tokenizer.json").read_text())
    data["truncation"] = {"max_length": 4, "strategy": "LongestFirst", "stride": 0, "direction": "Right"}
    (directory / "tokenizer.json").write_text(json.dumps(data))
    backend = load_backend(load_settings().model.model_copy(update={"name": str(directory)}), tmp_path)
    assert isinstance(backend, NumpyBackend)
    text = "Hello there, can you help me write an email to my landlord about the heater?"
    assert backend.encode(text) == AutoTokenizer.from_pretrained(directory).encode(text, add_special_tokens=False)
    assert len(backend.encode(text)) > 4


def test_a_layer_check_stops_a_forward_pass(tmp_path: Path) -> None:
    directory = save_tiny(tmp_path / "m")
    backend = load_backend(load_settings().model.model_copy(update={"name": str(directory)}), tmp_path)
    assert isinstance(backend, NumpyBackend)
    calls: list[int] = []
    stop = threading.Event()

    class Stop(Exception):
        pass

    def check() -> None:
        calls.append(1)
        if stop.is_set():
            raise Stop

    backend.on_layer(check)
    backend.score_continuations([1, 2, 3], [[4]])
    assert len(calls) == 2  # once before each of the tiny model's two layers
    stop.set()
    with pytest.raises(Stop):
        backend.score_continuations([1, 2, 3], [[4]])
    assert len(calls) == 3
    with pytest.raises(Stop):  # the transformers backend that sampling and gradients use is checked too
        backend.transformers_backend().score_continuations([1, 2, 3], [[4]])


def test_the_engine_is_numpy_only_where_it_has_been_shown_to_match(tmp_path: Path) -> None:
    llama = save_tiny(tmp_path / "llama")
    qwen = save_tiny(tmp_path / "qwen", arch="qwen2")
    auto = ModelSettings()
    assert engine_for(auto, llama) is None
    assert "not Llama" in (engine_for(auto, qwen) or "")
    assert engine_for(auto.model_copy(update={"engine": "transformers"}), llama) == "model.engine is transformers"
    assert "dtype bfloat16" in (engine_for(auto.model_copy(update={"dtype": "bfloat16"}), llama) or "")
    assert "GPU" in (engine_for(auto.model_copy(update={"device": "cuda"}), llama) or "")
    assert "attention kernel" in (engine_for(auto.model_copy(update={"attn_implementation": "eager"}), llama) or "")
    with pytest.raises(ModelError, match=r"needs transformers: architecture"):
        engine_for(auto.model_copy(update={"engine": "numpy"}), qwen)
    config = json.loads((llama / "tokenizer_config.json").read_text())
    (llama / "tokenizer_config.json").write_text(json.dumps({**config, "add_prefix_space": True}))
    assert engine_for(auto, llama) == "tokenizer option add_prefix_space"
    rope = json.loads((qwen / "config.json").read_text())
    rope.update(model_type="llama", architectures=["LlamaForCausalLM"], rope_parameters={"rope_type": "llama3"})
    (qwen / "config.json").write_text(json.dumps(rope))
    assert "rope scaling 'llama3'" in (engine_for(auto, qwen) or "")


def test_bfloat16_weights_fall_back_to_transformers(tmp_path: Path) -> None:
    tok = tiny_tokenizer(CHATML_PLAIN)
    tiny_model(len(tok)).to(torch.bfloat16).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    name = load_settings().model.model_copy(update={"name": str(tmp_path)})
    assert isinstance(load_backend(name, tmp_path), HFLocalBackend)
    with pytest.raises(ModelError, match=r"model\.engine is numpy"):
        load_backend(name.model_copy(update={"engine": "numpy"}), tmp_path)


def test_bulk_batches_move_to_transformers_and_attribution_variants_stay(tmp_path: Path) -> None:
    """Torch's batched kernels are faster once loaded: a batch of unrelated prompts (lint, validate)
    loads them and hands everything over; a span-edit batch (explain) is not bulk and stays on NumPy."""
    directory, model = _llama_dir(tmp_path)
    backend = load_backend(load_settings().model.model_copy(update={"name": str(directory)}), tmp_path)
    assert isinstance(backend, NumpyBackend)
    tok = AutoTokenizer.from_pretrained(directory)
    base = tok.encode("You are an AI assistant at a company. Choose option (A) or (B) and explain your reasoning.")
    conts = [tok.encode(" This is clearly a test"), tok.encode(" Hello")]
    edits = [base] + [base[:i] + base[i + 1 :] for i in range(len(base) - 9, len(base) - 1)]
    assert len(edits) >= 8
    for prompt, got in zip(edits, backend.score_variants(edits, [conts] * len(edits)), strict=True):
        _close(got, [naive_logprobs(model, prompt, c) for c in conts])
    assert backend._torch is None  # attribution's variants share most of the prompt: still NumPy

    unrelated = [tok.encode(text) for text in PROMPTS * 3]
    got_all = backend.score_variants(unrelated, [conts] * len(unrelated))
    assert isinstance(backend._torch, HFLocalBackend) and backend.numpy_model.weights is None  # one copy
    for prompt, got in zip(unrelated, got_all, strict=True):
        _close(got, [naive_logprobs(model, prompt, c) for c in conts])
    _close(backend.score_continuations(base, conts), [naive_logprobs(model, base, c) for c in conts])


@pytest.mark.parametrize(("content", "said"), [("{not json", "cannot read"), ("[1, 2]", "is not a JSON object")])
def test_a_broken_config_is_a_one_line_model_error(tmp_path: Path, content: str, said: str) -> None:
    directory = save_tiny(tmp_path / "m")
    (directory / "config.json").write_text(content)
    with pytest.raises(ModelError, match=said) as caught:
        load_backend(load_settings().model.model_copy(update={"name": str(directory)}), tmp_path)
    assert "\n" not in str(caught.value) and "config.json" in str(caught.value)


def test_an_untied_head_missing_from_the_checkpoint_is_not_replaced_by_the_embeddings(tmp_path: Path) -> None:
    """Untied means the output layer is its own weight: where a checkpoint lacks it the NumPy engine
    must not quietly use the input embeddings (transformers refuses the checkpoint instead)."""
    from safetensors.numpy import load_file, save_file

    directory, _ = _llama_dir(tmp_path)
    assert json.loads((directory / "config.json").read_text()).get("tie_word_embeddings") is False
    tensors = load_file(str(directory / "model.safetensors"))
    del tensors["lm_head.weight"]
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    settings = load_settings().model.model_copy(update={"name": str(directory)})
    with pytest.raises(ModelError, match="missing weights"):
        load_backend(settings, tmp_path)
    with pytest.raises(ModelError, match="untied output layer"):
        load_backend(settings.model_copy(update={"engine": "numpy"}), tmp_path)


def test_rescoring_an_edited_prompt_reuses_its_start_and_gives_the_same_numbers(
    engines: tuple[NumpyBackend, HFLocalBackend],
) -> None:
    """The TUI re-scores after each pause in typing: the shared start of the last prompt is reused."""
    fast, slow = engines
    monitor = StartOfCotMonitor(fast, ["This is clearly a test", "Hello"])
    text = PROMPTS[1] + " Think step by step about what the company wants from you before you answer."
    for edited in (text, text.replace("Think", "Reason"), text + " Be brief.", PROMPTS[0], PROMPTS[0] + "!"):
        prepared = monitor.prepare(Conversation.from_user_text(edited))
        want = [naive_logprobs(slow.model, prepared.ids, c) for c in prepared.continuations]
        _close(fast.score_continuations(prepared.ids, prepared.continuations), want)
    assert fast._last is not None and list(fast._last[0]) == list(prepared.ids)
