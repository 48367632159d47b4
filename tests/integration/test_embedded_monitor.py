"""The monitor on the real embedded model (SmolLM2-135M-Instruct), against independent computations."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from evalrefine.config import DEFAULT_SENTENCES
from evalrefine.core.io.conversation import Conversation, Message, load_conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.conftest import REPO, SHARED_DATA, skip_without_shared_data
from tests.tiny import generate_logprobs, naive_logprobs

pytestmark = pytest.mark.integration


def shared_prompts(n: int) -> list[str]:
    skip_without_shared_data()
    texts = []
    for name in ("eval_prompts.jsonl", "deploy_prompts.jsonl"):
        with (SHARED_DATA / name).open() as fh:
            texts += [json.loads(line)["text"] for _, line in zip(range(n), fh, strict=False)]
    return texts


def test_chat_template_and_opener(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    result = StartOfCotMonitor(embedded_backend, DEFAULT_SENTENCES).score(Conversation.from_user_text("Hi"))
    assert result.model == "SmolLM2-135M-Instruct"
    assert result.prompt.text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert result.prompt.cot_opener == "" and result.prompt.reasoning_family == "plain"


def assert_equals_naive(backend, convs: list[Conversation]) -> None:  # type: ignore[no-untyped-def]
    monitor = StartOfCotMonitor(backend, [*DEFAULT_SENTENCES, "This is a fictional scenario", "Sure"])
    for conv in convs:
        result = monitor.score(conv)
        for s in result.sentences:
            cont = [t.token_id for t in s.tokens]
            naive = naive_logprobs(backend.model, result.prompt.ids, cont)
            assert [t.logprob for t in s.tokens] == pytest.approx(naive, abs=1e-4)
            assert s.logprob == pytest.approx(math.fsum(naive), abs=1e-4)
            assert not s.boundary_merged


def test_equals_naive_forward_passes(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    convs = [load_conversation(REPO / "examples" / "hypothetical_scenario.txt", system="You are Claude.")]
    convs.append(Conversation((Message("user", "hi"), Message("assistant", "Hello!"), Message("user", "Test?"))))
    assert_equals_naive(embedded_backend, convs)


def test_equals_naive_forward_passes_on_shared_prompts(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    assert_equals_naive(embedded_backend, [Conversation.from_user_text(t) for t in shared_prompts(3)])


def test_equals_generate_scores(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    monitor = StartOfCotMonitor(embedded_backend, DEFAULT_SENTENCES)
    result = monitor.score(load_conversation(REPO / "examples" / "everyday_request.txt"))
    for s in result.sentences:
        cont = [t.token_id for t in s.tokens]
        gen = generate_logprobs(embedded_backend.model, result.prompt.ids, cont)
        assert [t.logprob for t in s.tokens] == pytest.approx(gen, abs=1e-4)


def test_too_long_prompt_is_refused_before_any_forward_pass(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    from evalrefine.errors import ContextTooLongError

    monitor = StartOfCotMonitor(embedded_backend, DEFAULT_SENTENCES)
    with pytest.raises(ContextTooLongError, match="context window is 8192"):
        monitor.score(Conversation.from_user_text("evaluation " * 9000))


def test_cli_score_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalrefine.cli.main",
            "score",
            str(REPO / "examples" / "hypothetical_scenario.txt"),
            "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["model"] == "SmolLM2-135M-Instruct"
    assert [s["sentence"] for s in data["sentences"]] == list(DEFAULT_SENTENCES)
    for s in data["sentences"]:
        assert s["prob"] == pytest.approx(math.exp(s["logprob"]), rel=1e-9)
        assert s["logprob"] == pytest.approx(sum(t["logprob"] for t in s["tokens"]), abs=1e-9)
