"""One prompt, one score: the same text gets the same number from every command and the TUI's
session, whatever file it arrives in (final newline or not, CRLF, a byte-order mark, a JSONL
field), and `refine` reports the score that the file it writes gets.

The expected value comes from a plain forward pass of the tiny model (independent of the
monitor's packing); commands are driven in-process with typer's runner on a real model directory.
Batched and single scoring take different (exact) paths whose float32 sums may differ in the last
bits, so raw log-probabilities are compared to 1e-5 nats, and everything printed must be equal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from evalrefine.cli.main import app
from evalrefine.core.io.conversation import Conversation, Message, load_conversation, normalize_text
from tests.tiny import TEMPLATES, naive_logprobs, save_tiny

TEXT = "Imagine you are an AI in a test scenario.\nWhat would you do first?"
SYSTEM = "You are a careful assistant."
SENTENCES = ("This is clearly a test", "The user might be testing")


# -- the normalisation rule, for every text ------------------------------------------------------
@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=60))
@settings(max_examples=200, deadline=None)
def test_normalisation_is_idempotent_and_strips_only_file_artefacts(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "\r" not in once and not once.startswith("\ufeff") and once == once.rstrip()
    # Adding the artefacts an editor adds never changes the prompt.
    decorated = "\ufeff" + once.replace("\n", "\r\n") + "\r\n  \n"
    assert normalize_text(decorated) == once


@given(st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=40))
@settings(max_examples=50, deadline=None)
def test_file_shapes_load_to_the_same_conversation(body: str) -> None:
    import tempfile

    want = Conversation((Message("user", body),))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "a.txt").write_bytes(body.encode() + b"\n")
        (folder / "b.txt").write_bytes(b"\xef\xbb\xbf" + body.replace("\n", "\r\n").encode() + b"\r\n")
        (folder / "c.jsonl").write_text(json.dumps({"role": "user", "content": body + "\n"}) + "\n")
        for name in ("a.txt", "b.txt", "c.jsonl"):
            if normalize_text(body):
                assert load_conversation(folder / name) == Conversation((Message("user", normalize_text(body)),))
    assert want.messages[0].content == normalize_text(body)


# -- every command on the same files -------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny-plain"), TEMPLATES["plain"])


def expected_logprobs(model_dir: Path, conversation: Conversation) -> dict[str, float]:
    """log P of each sentence from one plain forward pass per sentence (no packing, no cache)."""
    from evalrefine.backends.hf_local import HFLocalBackend

    backend = HFLocalBackend.load(model_dir)
    text = backend.render_chat(conversation.messages)
    ids = backend.encode(text)
    out = {}
    for sentence in SENTENCES:
        full = backend.encode(text + sentence)
        assert full[: len(ids)] == ids
        out[sentence] = math.fsum(naive_logprobs(backend.model, ids, full[len(ids) :]))
    return out


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def test_every_command_and_the_tui_give_the_same_score(tiny_dir: Path, tmp_path: Path) -> None:
    files = tmp_path / "prompts"
    files.mkdir()
    (files / "plain.txt").write_text(TEXT)
    (files / "newline.txt").write_bytes((TEXT + "\n").encode())
    (files / "windows.txt").write_bytes(b"\xef\xbb\xbf" + (TEXT + "\n").replace("\n", "\r\n").encode())
    records = tmp_path / "records.jsonl"  # lint takes the system prompt from the record
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TEXT + "\r\n"}]
    lines = [{"id": "r1", "system": SYSTEM + "\n", "input": TEXT + "\n"}, {"id": "r2", "messages": chat}]
    records.write_text("".join(json.dumps(r) + "\n" for r in lines))
    want = expected_logprobs(tiny_dir, Conversation.from_user_text(TEXT, system=SYSTEM))
    common = ["--model", str(tiny_dir), "--system", SYSTEM]
    sentence_flags = [a for s in SENTENCES for a in ("--sentence", s)]

    seen: list[dict[str, float]] = []
    for name in ("plain.txt", "newline.txt", "windows.txt"):
        data = json.loads(run("score", str(files / name), "--json", *common, *sentence_flags))
        seen.append({s["sentence"]: s["logprob"] for s in data["sentences"]})

    model = ["--model", str(tiny_dir)]
    lint = json.loads(run("lint", str(records), "--format", "json", "--threshold", "-5", *model, *sentence_flags))
    assert len(lint["results"]) == 2
    seen += [r["logprobs"] for r in lint["results"]]

    variants = []  # compare reads the system prompt from chat files
    for i, content in enumerate((TEXT, TEXT.replace("\n", "\r\n") + "\n")):
        variants.append(str(tmp_path / f"chat{i}.json"))
        Path(variants[-1]).write_text(json.dumps([chat[0], {"role": "user", "content": content}]))
    compared = json.loads(run("compare", *variants, "--json", *model, *sentence_flags))
    seen += [v["logprobs"] for v in compared["variants"]]

    from evalrefine import open_session

    session = open_session(model={"name": str(tiny_dir)}, monitor={"sentences": list(SENTENCES)})
    tui_view = session.score(Conversation.from_user_text(TEXT + "\r\n", system=SYSTEM + "\n"))
    seen.append({s.sentence: s.logprob for s in tui_view.result.sentences})

    for got in seen:
        for sentence in SENTENCES:
            assert got[sentence] == pytest.approx(want[sentence], abs=1e-5)

    # explain's base value is the target ("any" of the sentences) of the same prompt.
    explained = json.loads(run("explain", str(files / "newline.txt"), "--json", *common, *sentence_flags))
    any_of = math.log(sum(math.exp(v) for v in want.values()))
    assert explained["logprob"] == pytest.approx(any_of, abs=1e-5)


def test_refine_reports_the_score_its_written_file_gets(tiny_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "draft.txt"
    src.write_text(TEXT + "\n")
    out = tmp_path / "out.txt"
    run("refine", str(src), "-o", str(out), "--rewriter", "rules", "--max-iters", "1", "--model", str(tiny_dir))
    history = [json.loads(line) for line in (tmp_path / "out.txt.history.jsonl").read_text().splitlines()]
    by_id = {h["id"]: h for h in history if "id" in h}
    best = by_id[next(h for h in history if h["event"] == "finished")["best"]]
    assert normalize_text(out.read_text()) == normalize_text(best["text"])
    rescored = json.loads(run("score", str(out), "--json", "--model", str(tiny_dir)))
    # Without a reference the headline is log P(any configured sentence), in refine as in score.
    assert rescored["headline"]["value"] == pytest.approx(best["score"]["value"], abs=1e-5)
    any_of = math.log(sum(math.exp(s["logprob"]) for s in rescored["sentences"]))
    assert rescored["headline"]["value"] == pytest.approx(any_of, abs=1e-6)
