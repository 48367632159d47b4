"""A lint run killed half-way (SIGKILL: no cleanup at all) and restarted ends with every prompt
scored exactly once: what the first run committed is reused, the rest is scored by the second."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.tiny import TEMPLATES, save_tiny

N = 300


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])
    repo = tmp_path / "repo"
    repo.mkdir()
    rows = [json.dumps({"id": f"p{i}", "input": f"prompt {i} " + "word " * (i % 40)}) for i in range(N)]
    rows += rows[:20]  # duplicates are scored once
    (repo / "a.jsonl").write_text("\n".join(rows) + "\n")
    db = tmp_path / "c.sqlite"
    args = [sys.executable, "-m", "evalrefine.cli.main", "lint", str(repo), "--model", str(model)]
    args += ["--threshold", "-5", "--cache", str(db), "--format", "json"]
    env = {**os.environ, "EVALREFINE_LINT__BATCH_SIZE": "4"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def stored() -> int:
        try:
            with sqlite3.connect(db) as con:
                return int(con.execute("SELECT COUNT(*) FROM prompts").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    deadline = time.monotonic() + 120
    while stored() < 40 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    kept = stored()
    assert 40 <= kept < N, kept
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    results = json.loads(done.stdout)["results"]
    assert len(results) == N + 20 and stored() == N
    # Exactly the prompts the first run had not committed were scored by the second one.
    fresh = {r["hash"] for r in results if not r["cached"]}
    assert len(fresh) == N - kept
    assert len({r["hash"] for r in results}) == N
