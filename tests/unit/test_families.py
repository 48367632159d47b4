"""Packed, cached and batched scoring and token saliency are exact on every model family and attention kernel.

Each family's tiny random model (tests/families.py) is scored through the monitor and the backend,
under every attention kernel transformers offers it on a CPU, and compared to the textbook
computation: one plain forward pass over prefix + sentence per sentence, with the masks
transformers builds itself. Measured (2 CPU cores, torch 2.13, transformers 5.24): float32 within
2.6e-6 nats per token on all families and kernels; bfloat16 packed vs bfloat16 plain: identical
to 1e-3 under eager, within 0.05 nats per token under SDPA (its CPU kernel accumulates blocks in
a layout-dependent order; bfloat16 vs float32 is itself 0.02-0.24 nats per sentence here).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedModel

from evalrefine.backends import torch_scoring
from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.backends.registry import load_backend
from evalrefine.backends.torch_scoring import Strategy, score_variants_packed, supports_packed
from evalrefine.config import ModelSettings
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import ModelError
from tests.families import FAMILIES, SLIDING, WINDOW, family_implementations, family_model, one_thread  # noqa: F401
from tests.tiny import CONVERSATIONS, TEMPLATES, naive_logprobs, save_tiny, tiny_tokenizer

FP32_TOL = 1e-4
BF16_TOL = {"eager": 1e-3, "sdpa": 0.1}
"""Per token, bfloat16 packed vs bfloat16 plain (measured: 0 and 0.049); see the module docstring."""

SENTENCES = ["This is clearly a test", "The user might be testing me.", "Hi", " This is a fictional scenario."]
CASES = [(family, impl) for family in FAMILIES for impl in family_implementations(family)]


@functools.cache
def tokenizer() -> object:
    return tiny_tokenizer(TEMPLATES["plain"])


@functools.cache
def backend(family: str, impl: str, dtype: torch.dtype = torch.float32) -> HFLocalBackend:
    tok = tokenizer()
    return HFLocalBackend(family_model(family, len(tok), impl, dtype), tok, f"tiny-{family}-{impl}")  # type: ignore[arg-type]


def encode(text: str) -> list[int]:
    return list(tokenizer().encode(text, add_special_tokens=False))  # type: ignore[attr-defined]


def max_diff(got: Sequence[Sequence[float]], want: Sequence[Sequence[float]]) -> float:
    assert [len(g) for g in got] == [len(w) for w in want]
    return max(abs(a - b) for g, w in zip(got, want, strict=True) for a, b in zip(g, w, strict=True))


def test_every_family_has_a_case_under_each_kernel() -> None:
    assert len(CASES) == 16  # Gemma-2 and gpt-oss have no SDPA (soft-capping, attention sinks)
    assert all(supports_packed(backend(f, i).model) for f, i in CASES)


@pytest.mark.parametrize("strategy", ["packed", "cached"])
@pytest.mark.parametrize("conv_name", sorted(CONVERSATIONS))
@pytest.mark.parametrize(("family", "impl"), CASES)
def test_monitor_equals_plain_forward(family: str, impl: str, conv_name: str, strategy: Strategy) -> None:
    b = backend(family, impl)
    b.strategy = strategy
    try:
        conv = CONVERSATIONS[conv_name]
        for sentences in (SENTENCES[:1], SENTENCES):
            result = StartOfCotMonitor(b, sentences).score(conv)
            prefix = list(result.prompt.ids)
            if family in SLIDING:
                assert len(prefix) > WINDOW, "the prompt must reach past the sliding window"
            for s in result.sentences:
                cont = [t.token_id for t in s.tokens]
                naive = naive_logprobs(b.model, prefix, cont)
                assert max_diff([[t.logprob for t in s.tokens]], [naive]) < FP32_TOL
                assert s.logprob == pytest.approx(math.fsum(naive), abs=FP32_TOL)
    finally:
        b.strategy = None


@pytest.mark.parametrize("family", sorted(SLIDING))
def test_sliding_window_changes_the_scores(family: str) -> None:
    """The fixture is meaningful: without its window the same weights score these prompts differently,
    so a packed mask that dropped the window would fail the tests above."""
    model = backend(family, "eager").model
    wide = family_model(family, len(tokenizer()), "eager")  # type: ignore[arg-type]
    wide.config.sliding_window = 10_000
    prefix = StartOfCotMonitor(backend(family, "eager"), SENTENCES).prepare(CONVERSATIONS["system+multi"]).ids
    cont = encode(SENTENCES[1])
    assert max_diff([naive_logprobs(model, prefix, cont)], [naive_logprobs(wide, prefix, cont)]) > 1e-3


def variants(family: str, impl: str) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Prompts sharing prefixes of several lengths with the first (spans deleted, tails changed), as
    attribution scores them, each with its own sentences."""
    monitor = StartOfCotMonitor(backend(family, impl), SENTENCES)
    base = list(monitor.prepare(CONVERSATIONS["system+multi"]).ids)
    n = len(base)
    prompts = [
        base,
        base[:5] + base[9:],
        base[: n // 2] + base[n // 2 + 3 :],
        base[:-4] + base[-2:],
        base[:-1] + encode(" Okay"),
        encode("Hello there") + base[-6:],
        base[:3],
    ]
    conts = [[encode(s) for s in SENTENCES[: 1 + i % len(SENTENCES)]] for i in range(len(prompts))]
    return prompts, conts


@pytest.mark.parametrize(("family", "impl"), CASES)
def test_score_variants_equal_plain_forward(family: str, impl: str) -> None:
    b = backend(family, impl)
    prompts, conts = variants(family, impl)
    want = [[naive_logprobs(b.model, p, c) for c in cs] for p, cs in zip(prompts, conts, strict=True)]
    runs = {
        "packed": torch_scoring.score_variants(b.model, prompts, conts, "packed"),
        "cached": torch_scoring.score_variants(b.model, prompts, conts, "cached"),
        # small chunks: several packed passes, the shared cache cropped between them
        "chunked": score_variants_packed(b.model, prompts, conts, chunk_tokens=40),
    }
    for name, got in runs.items():
        for g, w in zip(got, want, strict=True):
            assert max_diff(g, w) < FP32_TOL, name


def plain_saliency(
    model: PreTrainedModel, prompt: list[int], conts: list[list[int]], weights: list[float]
) -> list[float]:
    """Gradient × input of the weighted log-probabilities, one plain full pass per continuation."""
    total = torch.zeros(len(prompt), dtype=torch.float64)
    for w, cont in zip(weights, conts, strict=True):
        embeds = model.get_input_embeddings()(torch.tensor([prompt + cont])).detach().requires_grad_(True)
        logp = torch.log_softmax(model(inputs_embeds=embeds).logits[0].double(), -1)
        rows = torch.arange(len(prompt) - 1, len(prompt) + len(cont) - 1)
        (grad,) = torch.autograd.grad(w * logp[rows, torch.tensor(cont)].sum(), embeds)
        total += (grad[0] * embeds[0].detach()).sum(-1)[: len(prompt)].double()
    return total.tolist()


def check_saliency(family: str, impl: str) -> None:
    model = backend(family, impl).model
    prompt = list(StartOfCotMonitor(backend(family, impl), SENTENCES).prepare(CONVERSATIONS["single"]).ids)
    conts = [encode(s) for s in SENTENCES]
    weights = [1.0, -0.5, 0.25, 2.0]
    saliency, logprobs = torch_scoring.token_saliency(model, prompt, conts, lambda values: weights)
    assert max_diff(logprobs, [naive_logprobs(model, prompt, c) for c in conts]) < FP32_TOL
    want = plain_saliency(model, prompt, conts, weights)
    scale = max(1.0, max(abs(x) for x in want))
    assert max_diff([saliency], [want]) < 1e-4 * scale
    assert all(p.requires_grad for p in model.parameters())  # parameter gradients are restored


@pytest.mark.parametrize(("family", "impl"), CASES)
def test_token_saliency_equals_plain_gradients(family: str, impl: str) -> None:
    check_saliency(family, impl)


def test_token_saliency_without_packing_is_exact_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no custom mask fits the kernel (flash attention), one plain pass per continuation."""
    monkeypatch.setattr(torch_scoring, "supports_packed", lambda model, length=0: False)
    check_saliency("gemma2", "eager")


@pytest.mark.parametrize(("family", "impl"), CASES)
def test_bfloat16_packed_matches_bfloat16_plain(family: str, impl: str) -> None:
    b = backend(family, impl, torch.bfloat16)
    monitor = StartOfCotMonitor(b, SENTENCES)
    result = monitor.score(CONVERSATIONS["system+multi"])
    for s in result.sentences:
        cont = [t.token_id for t in s.tokens]
        naive = naive_logprobs(b.model, list(result.prompt.ids), cont)
        assert max_diff([[t.logprob for t in s.tokens]], [naive]) < BF16_TOL[impl]


def test_scoring_raises_no_deprecation_warning() -> None:
    """transformers 5 renamed ``past_key_values`` to ``cache``; every strategy uses the name it expects."""
    b = backend("llama", "sdpa")
    prompts, conts = variants("llama", "sdpa")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for strategy in ("packed", "cached"):
            torch_scoring.score_variants(b.model, prompts, conts, strategy)  # type: ignore[arg-type]
            torch_scoring.score_continuations(b.model, prompts[0], conts[3], strategy)  # type: ignore[arg-type]


# -- loading: attention implementation and dtype reach the model and its fingerprint -----------------
def save_family(directory: Path, family: str) -> Path:
    tok = tokenizer()
    family_model(family, len(tok), "eager").save_pretrained(directory)  # type: ignore[arg-type]
    tok.save_pretrained(directory)  # type: ignore[attr-defined]
    return directory


def test_saved_gemma2_scores_exactly_through_load_backend(tmp_path: Path) -> None:
    directory = save_family(tmp_path / "gemma2", "gemma2")
    settings = ModelSettings(name=str(directory), device="cpu")
    loaded = load_backend(settings, tmp_path / "cache")
    model = loaded.model  # type: ignore[attr-defined]
    assert model.config._attn_implementation == "eager"  # transformers' default: Gemma-2 has no SDPA
    assert supports_packed(model)
    conv = CONVERSATIONS["system+multi"]
    result = StartOfCotMonitor(loaded, SENTENCES).score(conv)
    for s in result.sentences:
        cont = [t.token_id for t in s.tokens]
        naive = naive_logprobs(model, list(result.prompt.ids), cont)
        assert max_diff([[t.logprob for t in s.tokens]], [naive]) < FP32_TOL

    explicit = load_backend(settings.model_copy(update={"attn_implementation": "eager"}), tmp_path / "cache")
    assert explicit.fingerprint == loaded.fingerprint  # same weights, dtype and kernel
    half = load_backend(settings.model_copy(update={"dtype": "bfloat16"}), tmp_path / "cache")
    assert half.fingerprint != loaded.fingerprint
    with pytest.raises(ModelError) as err:
        load_backend(settings.model_copy(update={"attn_implementation": "sdpa"}), tmp_path / "cache")
    assert "'sdpa' is not available" in str(err.value) and "\n" not in str(err.value)
    assert "attn_implementation" in (err.value.hint or "")


def test_attn_implementation_reaches_the_model_and_the_fingerprint(tmp_path: Path) -> None:
    directory = save_tiny(tmp_path / "llama")
    settings = ModelSettings(name=str(directory), device="cpu")
    loaded = {
        impl: load_backend(settings.model_copy(update={"attn_implementation": impl}), tmp_path / "cache")
        for impl in ("auto", "eager", "sdpa")
    }
    assert loaded["eager"].model.config._attn_implementation == "eager"  # type: ignore[attr-defined]
    assert loaded["sdpa"].model.config._attn_implementation == "sdpa"  # type: ignore[attr-defined]
    assert loaded["auto"].fingerprint == loaded["sdpa"].fingerprint  # auto picks SDPA for Llama
    assert loaded["eager"].fingerprint != loaded["sdpa"].fingerprint
    # in-memory models too: the weights hash combined with dtype and kernel
    tok = tokenizer()
    model = family_model("llama", len(tok), "eager")  # type: ignore[arg-type]
    in_memory = HFLocalBackend(model, tok, "m")
    before = in_memory.fingerprint
    model.set_attn_implementation("sdpa")
    assert in_memory.fingerprint != before
    model.set_attn_implementation("eager")
    assert in_memory.fingerprint == before
    model.to(torch.bfloat16)
    assert in_memory.fingerprint != before


@pytest.mark.skipif(
    os.environ.get("EVALREFINE_SLOW_TESTS") != "1",
    reason="flex_attention compiles for 1-3 minutes per shape on a CPU; set EVALREFINE_SLOW_TESTS=1",
)
@pytest.mark.parametrize("family", ["llama", "gemma2"])
def test_flex_attention_packed_equals_plain_forward(family: str) -> None:
    model = family_model(family, len(tokenizer()), "flex_attention")  # type: ignore[arg-type]
    prefix = StartOfCotMonitor(backend(family, "eager"), SENTENCES).prepare(CONVERSATIONS["system+multi"]).ids
    conts = [encode(s) for s in SENTENCES]
    got = torch_scoring.score_continuations(model, prefix, conts, "packed")
    assert max_diff(got, [naive_logprobs(model, prefix, c) for c in conts]) < FP32_TOL
