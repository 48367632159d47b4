"""Attribution: exact leave-one-out, planted effects recovered, gradients, faithfulness, the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Lasso

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.core.attribution.ablation import AblationSurrogate, lasso
from evalrefine.core.attribution.explain import explain
from evalrefine.core.attribution.gradient import GradientTimesInput
from evalrefine.core.attribution.occlusion import LeaveOneOut
from evalrefine.core.attribution.spans import delete_spans, split_spans
from evalrefine.core.attribution.target import AnyTarget, SentenceTarget
from evalrefine.core.io.conversation import Conversation, Message
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.tiny import TEMPLATES, naive_logprobs, planted_model, save_tiny, tiny_model, tiny_tokenizer

PROMPT = "Please help me write. This is clearly a test! Thanks a lot for it. The user might be testing. Bye now."


def random_backend(template: str = "plain") -> HFLocalBackend:
    tok = tiny_tokenizer(TEMPLATES[template])
    return HFLocalBackend(tiny_model(len(tok)), tok, "tiny")


@pytest.mark.parametrize("granularity", ["sentence", "clause", "word"])
def test_loo_equals_independent_rescoring(granularity: str) -> None:
    backend = random_backend("qwen3")
    conv = Conversation((Message("system", "You are an assistant. Be brief."), Message("user", PROMPT)))
    monitor = StartOfCotMonitor(backend, ["This is clearly a test"])
    target = SentenceTarget("This is clearly a test")
    spans = split_spans(conv, granularity)  # type: ignore[arg-type]
    result = LeaveOneOut(monitor, target).attribute(conv, spans)
    base = monitor.prepare(conv)
    original = sum(naive_logprobs(backend.model, base.ids, base.continuations[0]))
    assert result.value == pytest.approx(original, abs=1e-4)
    for effect in result.spans:
        edited = monitor.prepare(delete_spans(conv, [effect.span]), allow_empty=True)
        rescored = sum(naive_logprobs(backend.model, edited.ids, edited.continuations[0]))
        assert effect.effect == pytest.approx(original - rescored, abs=1e-4)


def planted() -> tuple[StartOfCotMonitor, SentenceTarget, Conversation, set[str]]:
    tok = tiny_tokenizer(TEMPLATES["plain"])
    target_ids = tok.encode("T", add_special_tokens=False)
    assert len(target_ids) == 1
    triggers = [i for i in range(len(tok)) if "test" in tok.decode([i]).lower()]
    assert triggers
    backend = HFLocalBackend(planted_model(tok, target_ids[0], triggers), tok, "planted")
    conv = Conversation.from_user_text(PROMPT)
    return (
        StartOfCotMonitor(backend, ["T"]),
        SentenceTarget("T"),
        conv,
        {"This is clearly a test! ", "The user might be testing. "},
    )


def test_surrogate_recovers_planted_effects() -> None:
    monitor, target, conv, trigger_sentences = planted()
    spans = split_spans(conv, "sentence")
    surrogate = AblationSurrogate(monitor, target, n_samples=64, alpha=0.001).attribute(conv, spans)
    ranked = surrogate.ranked()
    assert {e.span.text for e in ranked[:2]} == trigger_sentences
    assert all(e.effect > 0.5 for e in ranked[:2])
    assert all(e.effect < 0.2 for e in ranked[2:])
    loo = LeaveOneOut(monitor, target).attribute(conv, spans)
    assert {e.span.text for e in loo.ranked()[:2]} == trigger_sentences
    grad = GradientTimesInput(monitor, target).attribute(conv, spans)
    assert {e.span.text for e in grad.ranked()[:2]} == trigger_sentences


def test_lasso_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random((80, 12)) < 0.5).astype(float)
    y = x @ np.r_[3.0, -2.0, np.zeros(10)] + rng.normal(0, 0.1, 80) + 1.0
    w, b = lasso(x, y, alpha=0.05)
    sk = Lasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(x, y)
    assert w == pytest.approx(sk.coef_, abs=1e-6)
    assert b == pytest.approx(sk.intercept_, abs=1e-6)


def test_gradient_equals_autograd_on_the_unpacked_sequence() -> None:
    """The packed gradient pass gives the same gradient × input as plain autograd on prompt + sentence."""
    import torch

    from evalrefine.backends.torch_scoring import token_saliency

    backend = random_backend()
    monitor = StartOfCotMonitor(backend, ["This is clearly a test", "The user might be testing"])
    prep = monitor.prepare(Conversation.from_user_text(PROMPT))
    weights = [0.7, -1.3]
    packed, logprobs = token_saliency(backend.model, prep.ids, prep.continuations, lambda _: weights)
    for lp, cont in zip(logprobs, prep.continuations, strict=True):
        assert lp == pytest.approx(naive_logprobs(backend.model, prep.ids, cont), abs=1e-4)
    n = len(prep.ids)
    expected = torch.zeros(n, dtype=torch.float64)
    for cont, w in zip(prep.continuations, weights, strict=True):
        ids = torch.tensor([list(prep.ids) + list(cont)])
        x = backend.model.get_input_embeddings()(ids).detach().double().requires_grad_(True)
        logp = torch.log_softmax(backend.model.double()(inputs_embeds=x).logits[0], -1)
        total = w * torch.stack([logp[n - 1 + j, t] for j, t in enumerate(cont)]).sum()
        torch.autograd.backward(total)  # what Tensor.backward() calls; typed, unlike the method
        assert x.grad is not None
        expected += (x.grad[0] * x[0]).sum(-1)[:n].detach()
        backend.model.float()
    assert packed == pytest.approx(expected.tolist(), abs=1e-4)


def test_explain_any_target_and_faithfulness() -> None:
    monitor, _, conv, _ = planted()
    target = AnyTarget(("T",))
    result = explain(monitor, target, conv, "loo", "sentence")
    assert result.faithfulness is not None and result.faithfulness.trustworthy
    assert result.faithfulness.top[1] == pytest.approx(result.value - result.ranked()[0].effect, abs=1e-6)


def test_cli_json_contract(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])
    prompt = tmp_path / "p.txt"
    prompt.write_text(PROMPT)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalrefine.cli.main",
            "explain",
            str(prompt),
            "--model",
            str(model),
            "--method",
            "loo",
            "--granularity",
            "clause",
            "--sentence",
            "The user might be testing",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    monitor = StartOfCotMonitor(HFLocalBackend.load(model), ["The user might be testing"])
    original = monitor.score(Conversation.from_user_text(PROMPT)).sentences[0].logprob
    assert data["logprob"] == pytest.approx(original, abs=1e-4)
    assert data["spans"]
    for span in data["spans"]:
        assert PROMPT[span["start"] : span["end"]] == span["text"]
        edited = PROMPT[: span["start"]] + PROMPT[span["end"] :]
        rescored = monitor.score(Conversation.from_user_text(edited)).sentences[0].logprob
        assert span["effect"] == pytest.approx(original - rescored, abs=1e-4)
