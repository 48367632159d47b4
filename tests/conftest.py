"""Test-wide settings: never touch the network, never read the user's config file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["EVALREFINE_CONFIG"] = str(Path(__file__).parent / "no-such-config.toml")
# References a developer built on this machine must not change what tests see.
os.environ["EVALREFINE_DATA_DIR"] = tempfile.mkdtemp(prefix="evalrefine-test-data-")
KEEP_ENV = ("EVALREFINE_CONFIG", "EVALREFINE_DATA_DIR")

REPO = Path(__file__).resolve().parents[1]


def stored_prompts(db: Path) -> int:
    """Prompts committed to a score cache so far (0 before the database exists)."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT COUNT(*) FROM prompts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def wait_for_stored(proc: object, db: Path, at_least: int, timeout: float = 120) -> None:
    """Poll until ``at_least`` prompts are committed, the process ends, or ``timeout`` passes."""
    import time

    deadline = time.monotonic() + timeout
    while stored_prompts(db) < at_least and time.monotonic() < deadline and proc.poll() is None:  # type: ignore[attr-defined]
        time.sleep(0.05)


_PAUSING_MAIN = """
import sys, time
from evalrefine.core.scoring.score_cache import ScoreCache
from evalrefine.cli.main import main
limit = int(sys.argv.pop(1))
put = ScoreCache.put
count = 0
def pausing_put(self, *args, **kwargs):
    global count
    put(self, *args, **kwargs)
    count += 1
    if count == limit:
        time.sleep(120)  # wait here for the test's signal (a real Ctrl-C lands mid-run too)
ScoreCache.put = pausing_put
sys.argv[0] = "evalrefine"
main()
"""


def pausing_cli(pause_after: int, *args: str) -> list[str]:
    """A command line that runs ``evalrefine ARGS`` but stops for two minutes right after committing
    its ``pause_after``-th score, so a test can interrupt it mid-run however fast the machine is
    (on an idle machine a tiny model finishes hundreds of prompts before a poll sees the first)."""
    import sys

    return [sys.executable, "-c", _PAUSING_MAIN, str(pause_after), *args]


def skip_without_shared_data() -> None:
    """Tests that read ``../shared/data`` skip with the reason when a clone has no such folder."""
    if not (SHARED_DATA / "eval_prompts.jsonl").is_file() or not (SHARED_DATA / "deploy_prompts.jsonl").is_file():
        pytest.skip(f"needs the shared prompt sets in {SHARED_DATA} (not part of a plain clone)")


SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("EVALREFINE_") and key not in KEEP_ENV:
            monkeypatch.delenv(key)
    yield


@pytest.fixture(scope="session")
def embedded_backend():  # type: ignore[no-untyped-def]
    """The real embedded model on transformers (converted once into the user cache, then loaded in
    < 1 s): tests take their independent forward passes from its ``model``, while the commands and the
    API they check score with the NumPy engine that ``model.engine: auto`` picks."""
    from evalrefine.backends.registry import load_backend
    from evalrefine.config import load_settings

    settings = load_settings()
    return load_backend(settings.model.model_copy(update={"engine": "transformers"}), settings.cache_dir)
