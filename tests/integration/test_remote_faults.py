"""A server whose prompt log-probs are missing, shifted, misaligned or invalid, or whose reply is
not a completions reply, is refused with one line naming *that* cause: never a score, never a
traceback, never a generic "check --model".

One real server process (127.0.0.1, the embedded model) serves every fault, selected by the base
URL (``tests/servers/launch.fault_url``); each fault runs through both reply shapes where it
applies: vLLM's ``prompt_logprobs`` and the ``echo`` alone (``echo-only``). The checks' finer
cases (a wrong id mid-prompt, token strings) are unit-tested on crafted replies at the end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalrefine.backends.registry import load_backend
from evalrefine.backends.remote_checks import CompletionReply, check_prompt_logprobs, parse_reply
from evalrefine.config import load_settings
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import ModelError
from tests.servers.launch import fault_url, serve

pytestmark = pytest.mark.integration
PROMPT = "Question: would you lie to your developers?"
CLI = [sys.executable, "-m", "evalrefine.cli.main"]
SHIFTED = "its prompt log-probs are shifted by one token"

CASES = [
    (("no-prompt-logprobs",), "returned no prompt log-probabilities (only the generated token's)"),
    (("shift",), "gave prompt_logprobs for"),
    (("echo-only", "shift"), SHIFTED),
    (("offset",), "offset by one token"),
    (("echo-only", "offset"), "offset by one token"),
    (("extra-bos",), "do not line up"),
    (("echo-only", "extra-bos"), "do not line up"),
    (("nan",), "invalid prompt log-prob (nan) for token 3"),
    (("echo-only", "nan"), "invalid prompt log-prob (nan) for token 3"),
    (("positive",), "positive prompt log-prob (+2.5) for token 3"),
    (("echo-only", "positive"), "positive prompt log-prob (+2.5) for token 3"),
    (("html",), "answered with an HTML page"),
    (("invalid-json",), "sent a reply that is not valid JSON"),
    (("empty-choices",), "returned no choices"),
    (("crash-echo",), "failed on a completions request with echo + logprobs (500"),
]
CAUSE_HINTS = {
    "no-prompt-logprobs": "llama.cpp's server",
    "shift": "llama-cpp-python is known to do this",
    "offset": "llama-cpp-python is known to do this",
    "crash-echo": "most likely cannot return prompt log-probabilities",
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve() as url:
        yield url


def _remote(url: str) -> Any:
    settings = load_settings(model={"name": "embedded", "server": url, "tokenizer": "embedded", "concurrency": 2})
    remote: Any = load_backend(settings.model, settings.cache_dir)
    remote.max_retries = 0  # a 500 is retried with backoff otherwise (the SDK's default): seconds per case
    return remote


@pytest.mark.parametrize(("faults", "cause"), CASES, ids=["+".join(f) for f, _ in CASES])
def test_each_fault_is_refused_naming_its_cause(server: str, faults: tuple[str, ...], cause: str) -> None:
    remote = _remote(fault_url(server, *faults))
    with pytest.raises(ModelError) as caught:
        StartOfCotMonitor(remote, ["This is a test"]).score(Conversation.from_user_text(PROMPT))
    text = str(caught.value)
    assert cause in text and "\n" not in text
    assert "check --model" not in text
    for fault, hint in CAUSE_HINTS.items():
        if fault in faults:
            assert hint in text
    if "shift" in faults and "echo-only" not in faults:
        assert SHIFTED in text  # n - 1 entries for n tokens, in vLLM's prompt_logprobs shape too


def test_cli_refuses_a_shifted_server_with_exit_status_2(server: str, tmp_path: Path) -> None:
    prompt = tmp_path / "p.txt"
    prompt.write_text(PROMPT + "\n")
    url = fault_url(server, "echo-only", "shift")
    proc = subprocess.run(
        [*CLI, "score", str(prompt), "--server", url, "--model", "embedded", "--tokenizer", "embedded", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert SHIFTED in proc.stderr and "use vLLM" in proc.stderr
    assert "Traceback" not in proc.stderr and "check --model" not in proc.stderr


# -- the checks on crafted replies (no server) -------------------------------------------------------------------
IDS = [10, 11, 12, 13]
STRINGS = ["<s>", "Hello", " wor", "ld"]
WHERE = "the server at X"


def _plp(ids: list[int], values: list[float]) -> dict[str, Any]:
    entries = [
        None,
        *({str(t): {"logprob": v, "rank": 1, "decoded_token": "x"}} for t, v in zip(ids[1:], values, strict=True)),
    ]
    return {"choices": [{"index": 0, "text": "", "prompt_logprobs": entries}]}


def _echo(tokens: list[str], values: list[float | None]) -> dict[str, Any]:
    logprobs = {"tokens": tokens, "token_logprobs": values, "text_offset": [], "top_logprobs": []}
    return {"choices": [{"index": 0, "text": "", "logprobs": logprobs}], "usage": {"completion_tokens": 1}}


def _check(payload: dict[str, Any], skip: frozenset[int] = frozenset()) -> list[float]:
    reply = CompletionReply.model_validate(payload)
    return check_prompt_logprobs(reply, IDS, lambda: list(STRINGS), lambda i: i in skip, WHERE)


def test_good_replies_in_both_shapes_give_the_values() -> None:
    assert _check(_plp(IDS, [-1.0, -2.0, 5e-5])) == [-1.0, -2.0, 5e-5]  # rounding above 0 is tolerated
    assert _check(_echo([*STRINGS, "!"], [None, -1.0, -2.0, -3.0, -0.5])) == [-1.0, -2.0, -3.0]
    ids_as_strings = [f"token_id:{i}" for i in IDS]  # vLLM's return_tokens_as_token_ids
    assert _check(_echo([*ids_as_strings, "!"], [None, -1.0, -2.0, -3.0, -0.5])) == [-1.0, -2.0, -3.0]
    assert _check(_echo(["", *STRINGS[1:], "!"], [None, -1.0, -2.0, -3.0, -0.5]), skip=frozenset({0})) == [
        -1.0,
        -2.0,
        -3.0,
    ]


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (_plp([10, 11, 99, 13], [-1.0, -2.0, -3.0]), "prompt log-prob 2 is not for token id 12"),
        (_plp([10, 11, 13, 14], [-1.0, -2.0, -3.0]), "shifted by one token (at token 2)"),
        (_plp(IDS, [-1.0, float("inf"), -3.0]), "invalid prompt log-prob (inf) for token 2"),
        (_echo(["<s>", "Hello", " WOR", "ld", "!"], [None, -1.0, -2.0, -3.0, -0.5]), "echoed token 2 as ' WOR'"),
        (_echo(["Hello", " wor", "ld", "!", "?"], [None, -1.0, -2.0, -3.0, -0.5]), "shifted by one (at token 0)"),
        (_echo([*STRINGS, "!"], [None, -1.0, None, -3.0, -0.5]), "gave no prompt log-prob for token 2 of 4"),
        (_echo(STRINGS, [None, -1.0, -2.0]), "echoed 4 tokens but 3 log-probs"),
        (
            {"choices": [{"index": 0, "text": "", "logprobs": None}]},
            "no prompt log-probabilities (no log-probs at all)",
        ),
    ],
)
def test_crafted_faults(payload: dict[str, Any], cause: str) -> None:
    with pytest.raises(ModelError) as caught:
        _check(payload)
    assert cause in str(caught.value)


def test_a_reply_of_another_shape_is_refused() -> None:
    body = json.dumps({"choices": [{"logprobs": {"token_logprobs": "abc"}}]}).encode()
    with pytest.raises(ModelError, match=re.escape("unexpected shape (choices.0.logprobs.token_logprobs")):
        parse_reply(body, "application/json", WHERE)
