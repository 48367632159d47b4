"""A broken score cache slows a run down but never stops it: corrupt files are moved aside (never
deleted), read-only ones are read, and every event is one warning line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evalrefine.core.scoring.score_cache import ScoreCache


def _filled(path: Path) -> None:
    cache = ScoreCache(path)
    cache.put("fp", "h", 7, {"s": -1.5})
    cache.close()


@pytest.mark.parametrize("garbage", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 5000])
def test_corrupt_file_is_moved_aside_and_a_fresh_cache_used(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "scores.sqlite"
    path.write_bytes(garbage)
    cache = ScoreCache(path)
    assert (tmp_path / "scores.sqlite.corrupt-1").read_bytes() == garbage
    assert len(cache.warnings) == 1 and "corrupt-1" in cache.warnings[0] and "\n" not in cache.warnings[0]
    cache.put("fp", "h", 3, {"s": -2.0})
    assert cache.get("fp", "h", ["s"]) == (3, {"s": -2.0})
    cache.close()
    path.write_bytes(garbage)  # a second corruption never overwrites the first one's copy
    ScoreCache(path).close()
    assert (tmp_path / "scores.sqlite.corrupt-2").exists()


def test_truncated_database_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "scores.sqlite"
    _filled(path)
    path.write_bytes(path.read_bytes()[:1500])
    cache = ScoreCache(path)
    assert cache.get("fp", "h", ["s"]) is None and cache.warnings
    cache.close()


def test_read_only_cache_is_read_but_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scores.sqlite"
    _filled(path)

    def refuse(self: ScoreCache) -> sqlite3.Connection:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(ScoreCache, "_connect", refuse)  # root ignores file modes, so simulate them
    cache = ScoreCache(path)
    assert cache.read_only and "read-only" in cache.warnings[0]
    assert cache.get("fp", "h", ["s"]) == (7, {"s": -1.5})
    cache.put("fp", "other", 1, {"s": 0.0})  # silently not stored
    assert cache.get("fp", "other", ["s"]) is None
    cache.close()


def test_unusable_location_runs_without_a_cache(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    cache = ScoreCache(tmp_path / "file" / "scores.sqlite")  # its directory is a file
    assert "without a cache" in cache.warnings[0]
    cache.put("fp", "h", 1, {"s": 0.0})
    assert cache.get("fp", "h", ["s"]) is None and cache.count("fp") == 0
    cache.close()


def test_error_mid_run_turns_the_cache_off(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path / "scores.sqlite")
    assert cache._db is not None
    cache._db.execute("DROP TABLE scores")
    assert cache.get("fp", "h", ["s"]) is None  # no prompts row: fine
    cache.put("fp", "h", 1, {"s": 0.0})  # the scores table is gone: the cache turns off
    assert "failed" in cache.warnings[-1] and cache.get("fp", "h", ["s"]) is None
    cache.close()
