"""`evalrefine score` end to end on a tiny model saved to a local directory (a real --model DIR)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalrefine.backends.registry import load_backend
from evalrefine.config import ModelSettings
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.tiny import TEMPLATES, save_tiny


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny-qwen3"), TEMPLATES["qwen3"])


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalrefine.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_score_json_matches_library(tiny_dir: Path, tmp_path: Path) -> None:
    prompt = tmp_path / "p.txt"
    prompt.write_text("Choose option (A) or (B).")
    proc = run_cli(
        "score",
        str(prompt),
        "--model",
        str(tiny_dir),
        "--json",
        "--system",
        "Be brief.",
        "--sentence",
        "This is clearly a test",
        "--sentence",
        "Hi",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    backend = load_backend(ModelSettings(name=str(tiny_dir)), tmp_path)  # the engine the CLI picks
    expected = StartOfCotMonitor(backend, ["This is clearly a test", "Hi"]).score(
        Conversation.from_user_text("Choose option (A) or (B).", system="Be brief.")
    )
    assert data["model"] == str(tiny_dir)
    assert data["cot_opener"] == "<think>\n"
    assert [s["sentence"] for s in data["sentences"]] == ["This is clearly a test", "Hi"]
    for got, want in zip(data["sentences"], expected.sentences, strict=True):
        assert got["logprob"] == pytest.approx(want.logprob, abs=1e-6)
        assert got["prob"] == pytest.approx(want.prob, rel=1e-6)
        assert [t["token"] for t in got["tokens"]] == [t.token for t in want.tokens]
        assert sum(t["logprob"] for t in got["tokens"]) == pytest.approx(got["logprob"], abs=1e-9)


def test_score_stdin_and_table(tiny_dir: Path) -> None:
    proc = run_cli("score", "-", "--model", str(tiny_dir), "--cot-opener", "Okay\\n", "--tokens", stdin="hello there")
    assert proc.returncode == 0, proc.stderr
    assert "This is clearly a test" in proc.stdout and "The user might be testing" in proc.stdout
    assert "'Okay\\n' (override)" in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["score", "missing.txt"], "missing.txt: no such file"),
        (["score", "EMPTY"], "the prompt is empty"),
        (["score", "BADJSONL"], ":2: malformed JSON"),
        (["score", "GOOD", "--model", "./no/such/dir"], "unknown model './no/such/dir'"),
        (["score", "GOOD", "--model", "org/not-cached-model"], "not in the local Hugging Face cache"),
        (["score", "GOOD", "--model", "nope.gguf"], "nope.gguf: no such GGUF file"),
        (["verify", "GOOD", "GOOD", "--judge", "gpt4"], "unknown LLM 'gpt4'"),
        (["verify", "GOOD", "GOOD", "--judge", "openai-compatible:m@nohost"], "bad LLM spec"),
        (["verify", "GOOD", "GOOD", "--rollouts", "0"], "verify needs rollouts"),
    ],
)
def test_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    files = {
        "EMPTY": ("e.txt", "\n"),
        "BADJSONL": ("b.jsonl", '{"role":"user","content":"a"}\n{oops\n'),
        "GOOD": ("g.txt", "hello"),
    }
    for name, text in files.values():
        (tmp_path / name).write_text(text)
    args = [str(tmp_path / files[a][0]) if a in files else a for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "evalrefine.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_usage_error_exit_2() -> None:
    assert run_cli("score").returncode == 2


def test_an_uncached_hub_id_fails_fast_when_the_hub_cannot_be_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: one refused connection, then one line, not the hub client's retries (issue 19)."""
    import socket
    import time

    from evalrefine.backends import registry
    from evalrefine.config import ModelSettings
    from evalrefine.errors import ModelError

    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise OSError("network unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", refuse)
    start = time.monotonic()
    with pytest.raises(ModelError, match="the hub cannot be reached"):
        registry.load_backend(ModelSettings(name="some-org/not-a-cached-model"), Path("/tmp/evalrefine-test-cache"))
    assert time.monotonic() - start < 2.0
