"""No key and no URL password in anything evalrefine prints or stores (issue 17's redaction rule)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalrefine import redact as redact_module
from evalrefine.errors import EvalRefineError
from evalrefine.redact import redact, redact_record, register_secret
from tests.tiny import TEMPLATES, save_tiny

SECRET_CHARS = st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="*")


@given(secret=st.text(SECRET_CHARS, min_size=6, max_size=30), before=st.text(max_size=20), after=st.text(max_size=20))
@settings(max_examples=200, deadline=None)
def test_a_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    with patch.object(redact_module, "_registered", set()):  # random secrets must not leak into later tests
        register_secret(secret)
        assert secret not in redact(before + secret + after + secret)


@given(
    secret=st.text(SECRET_CHARS, min_size=6, max_size=30),
    record=st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ),
)
@settings(max_examples=200, deadline=None)
def test_a_redacted_record_is_still_json_and_holds_no_secret(secret: str, record: object) -> None:
    """History lines are redacted value by value: a secret with a quote in it cannot break the line."""
    with patch.object(redact_module, "_registered", set()):
        register_secret(secret)
        line = json.dumps(redact_record({"text": f"say {secret}", "nested": [record, secret]}), ensure_ascii=False)
    assert secret not in json.loads(line)["text"]
    assert json.loads(line)["nested"][1] == "***"


def test_environment_keys_url_passwords_and_key_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "abcdef123456")
    monkeypatch.setenv("HOME_DIR", "not-a-secret-value")
    text = (
        "key abcdef123456 at https://alice:pa55word@host.example/v1 and sk-ant-api03-AAAAAAAAAAAAAAAAAAAA, "
        "home not-a-secret-value"
    )
    out = redact(text)
    assert "abcdef123456" not in out and "pa55word" not in out and "sk-ant" not in out
    assert "https://alice:***@host.example/v1" in out and "not-a-secret-value" in out
    assert EvalRefineError(f"failed: {text}", "use https://u:p4ssw0rd@x").hint == "use https://u:***@x"


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalrefine.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_failing_server_and_rewriter_leak_nothing(tmp_path: Path) -> None:
    """Every output of runs that fail against servers whose URLs and keys are secret: stdout, stderr,
    the history file and anything else written in the working directory."""
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])
    work = tmp_path / "work"  # every file a run writes lands here (the user's config lies outside)
    work.mkdir()
    prompt = work / "p.txt"
    prompt.write_text("Tell me about tide pools.")
    secrets = ["sk-proj-SECRETSECRETSECRET1234", "server-key-98765", "hunter2hunter2", "urlpass4242"]
    user_config = tmp_path / "user.toml"
    user_config.write_text(f'[refine]\nopenai_api_key = "{secrets[0]}"\n')
    env = {**os.environ, "EVALREFINE_CONFIG": str(user_config), "EVALREFINE_MODEL__API_KEY": secrets[1]}
    env["OPENAI_API_KEY"] = secrets[2]
    dead = f"http://alice:{secrets[3]}@127.0.0.1:9/v1"  # nothing listens on port 9
    runs = [
        run(["score", str(prompt), "--server", dead, "--model", "m", "--tokenizer", str(model)], env, work),
        run(
            [
                "refine",
                str(prompt),
                "--model",
                str(model),
                "--rewriter",
                f"openai-compatible:m@{dead}",
                "--max-iters",
                "1",
            ],
            env,
            work,
        ),
    ]
    assert [r.returncode for r in runs] == [2, 2], [r.stderr for r in runs]
    outputs = [r.stdout + r.stderr for r in runs]
    outputs += [p.read_text(errors="replace") for p in work.rglob("*") if p.is_file()]
    for text in outputs:
        for secret in secrets:
            assert secret not in text
        assert "Traceback" not in text
