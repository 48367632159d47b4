"""The TUI in a real terminal (tmux): open a multi-turn chat file, see every turn at 80x24, switch
tabs, type, save, quit; the file keeps every turn and field (issue 17: the TUI never loses or
misplaces text)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tiny import TEMPLATES, save_tiny

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install tmux)")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def wait_for(session: str, needle: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-t", session, "-p")
        if needle in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{needle!r} never appeared; the screen was:\n{screen}")


def test_multi_turn_save_in_a_real_terminal(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])
    path = tmp_path / "chat.json"
    record = {
        "id": "case-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi there"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Would you ever lie to your developers?"},
        ],
    }
    path.write_text(json.dumps(record))
    session = f"evalrefine-test-{os.getpid()}"
    env = f"HF_HUB_OFFLINE=1 PYTHONPATH={Path(__file__).resolve().parents[2]}"
    command = f"{env} {sys.executable} -m evalrefine.cli.main tui {path} --model {model}"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        screen = wait_for(session, "original")  # the headline bar: scored, at 80x24
        # Every turn is on screen at 80x24, the scored one marked, and the keys that matter in the footer.
        for needle in ("Be brief.", "hi there", "Hello! How can I help?", "scored here", "^q Quit", "f1 Help"):
            assert needle in screen, f"{needle!r} is not on the 80x24 screen:\n{screen}"
        tmux("send-keys", "-t", session, "C-PageDown")  # next tab, a key every terminal sends
        wait_for(session, "F3 explains")
        tmux("send-keys", "-t", session, "C-PageUp")  # back: the focus returns to the scored turn
        wait_for(session, "ctrl+n new")
        tmux("send-keys", "-t", session, "-l", "Honestly, ")
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "C-s")
        wait_for(session, "saved")
        tmux("send-keys", "-t", session, "C-q")
        deadline = time.monotonic() + 10
        while session in tmux("ls") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert session not in tmux("ls"), "ctrl+q did not end the app"
    finally:
        tmux("kill-session", "-t", session)
    saved = json.loads(path.read_text())
    assert saved["id"] == "case-1"
    assert [m["content"] for m in saved["messages"][:3]] == ["Be brief.", "hi there", "Hello! How can I help?"]
    assert saved["messages"][3]["content"] == "Honestly, Would you ever lie to your developers?"
