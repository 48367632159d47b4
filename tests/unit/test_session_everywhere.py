"""Every command, and the Python API, with a custom sentence, a system prompt and a multi-turn file.

This combination is how ``refine -s`` once shipped broken (a KeyError): each command decided the
forced sentences and the headline itself. Now :class:`evalrefine.Session` decides, and each command's
headline must equal log P of the custom sentence from one plain forward pass of the tiny model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TypedDict

import pytest
from typer.testing import CliRunner

import evalrefine
from evalrefine.cli.main import app
from evalrefine.core.io.conversation import Conversation, Message, Role
from tests.tiny import TEMPLATES, naive_logprobs, save_tiny

SENTENCE = "Someone is checking on me"
SYSTEM = "Be terse."


class Turn(TypedDict):
    """A chat-file turn as written to disk (the role typed, so it builds a Message as is)."""

    role: Role
    content: str


TURNS: list[Turn] = [
    {"role": "user", "content": "I need a bakery sign."},
    {"role": "assistant", "content": "What should it say?"},
    {"role": "user", "content": "Fresh bread daily. Short."},
]
CONVERSATION = Conversation(
    (Message("system", SYSTEM), *(Message(t["role"], t["content"]) for t in TURNS)),
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny-session"), TEMPLATES["plain"])


@pytest.fixture(scope="module")
def want(tiny_dir: Path) -> float:
    """log P(SENTENCE) after the whole conversation: one plain forward pass, no packing or cache."""
    from evalrefine.backends.hf_local import HFLocalBackend

    backend = HFLocalBackend.load(tiny_dir)
    text = backend.render_chat(CONVERSATION.messages)
    ids, full = backend.encode(text), backend.encode(text + SENTENCE)
    assert full[: len(ids)] == ids
    return math.fsum(naive_logprobs(backend.model, ids, full[len(ids) :]))


def run(*args: str, ok: tuple[int, ...] = (0, 1)) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code in ok, result.output
    return result.stdout


def test_python_api_scores_the_whole_conversation(tiny_dir: Path, want: float) -> None:
    session = evalrefine.open_session(model={"name": str(tiny_dir)}, monitor={"sentences": [SENTENCE]})
    view = session.score(CONVERSATION)
    assert view.value == pytest.approx(want, abs=1e-5)
    assert session.target.sentences == (SENTENCE,)
    # The same session explains and compares on the same headline.
    attribution = session.explain(CONVERSATION, "loo", "sentence")
    assert attribution.value == pytest.approx(want, abs=1e-5)
    compared = session.compare([("a", CONVERSATION), ("b", CONVERSATION)])
    assert [v.value for v in compared.variants] == pytest.approx([want, want], abs=1e-5)


def test_every_command_with_a_custom_sentence_a_system_prompt_and_turns(
    tiny_dir: Path, want: float, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps([{"role": "system", "content": SYSTEM}, *TURNS]))
    common = ["--model", str(tiny_dir), "--sentence", SENTENCE]

    scored = json.loads(run("score", str(chat), "--json", *common))
    assert scored["headline"]["value"] == pytest.approx(want, abs=1e-5)
    assert [s["sentence"] for s in scored["sentences"]] == [SENTENCE]

    explained = json.loads(run("explain", str(chat), "--json", "--no-check", *common))
    assert explained["logprob"] == pytest.approx(want, abs=1e-5)
    assert {s["role"] for s in explained["spans"]} >= {"user"}

    compared = json.loads(run("compare", str(chat), str(chat), "--json", *common))
    assert [v["value"] for v in compared["variants"]] == pytest.approx([want, want], abs=1e-5)

    out = tmp_path / "refined.json"
    run("refine", str(chat), "-o", str(out), "--rewriter", "rules", "--max-iters", "1", *common)
    history = [json.loads(line) for line in out.with_name(out.name + ".history.jsonl").read_text().splitlines()]
    assert history[0]["score"]["value"] == pytest.approx(want, abs=1e-5)
    written = json.loads(out.read_text())
    assert [m["role"] for m in written] == ["system", "user", "assistant", "user"]  # every turn kept
    assert written[:3] == [{"role": "system", "content": SYSTEM}, *TURNS[:2]]

    verified = json.loads(
        run("verify", str(chat), str(chat), "--rollouts", "1", "--max-new-tokens", "4", "--json", *common)
    )
    assert verified["original"]["start"] == pytest.approx(want, abs=1e-5)

    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"id": "r1", "messages": [{"role": "system", "content": SYSTEM}, *TURNS]}) + "\n")
    linted = json.loads(run("lint", str(records), "--format", "json", "--threshold", "-1000", *common))
    assert [r["logprob"] for r in linted["results"]] == pytest.approx([want], abs=1e-5)
