"""A persistent cache of monitor scores (SQLite, standard library).

Keyed by the monitor's *model fingerprint* (weights, chat template, opener), the prompt's content
hash and the sentence, so a score is reused exactly when nothing that changes it has changed.
Each prompt is committed as soon as it is scored, so a crash or Ctrl-C loses nothing and the next
run resumes; a prompt's row is written in one transaction, so it is never half-stored. Slower
results (a prompt's rollout summary) go in ``results`` under a key hashing all their inputs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
    model_fp TEXT NOT NULL, prompt_hash TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
    PRIMARY KEY (model_fp, prompt_hash));
CREATE TABLE IF NOT EXISTS scores (
    model_fp TEXT NOT NULL, prompt_hash TEXT NOT NULL, sentence TEXT NOT NULL, logprob REAL NOT NULL,
    PRIMARY KEY (model_fp, prompt_hash, sentence));
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class ScoreCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def get(self, model_fp: str, prompt_hash: str, sentences: Sequence[str]) -> tuple[int, dict[str, float]] | None:
        """``(prompt_tokens, {sentence: logprob})`` if every sentence is cached, else ``None``."""
        row = self._db.execute(
            "SELECT prompt_tokens FROM prompts WHERE model_fp=? AND prompt_hash=?", (model_fp, prompt_hash)
        ).fetchone()
        if row is None:
            return None
        marks = ",".join("?" * len(sentences))
        found = dict(
            self._db.execute(
                f"SELECT sentence, logprob FROM scores WHERE model_fp=? AND prompt_hash=? AND sentence IN ({marks})",
                (model_fp, prompt_hash, *sentences),
            ).fetchall()
        )
        if len(found) < len(set(sentences)):
            return None
        return int(row[0]), found

    def put(self, model_fp: str, prompt_hash: str, prompt_tokens: int, logprobs: Mapping[str, float]) -> None:
        with self._db:  # one transaction: committed on exit
            self._db.execute("INSERT OR REPLACE INTO prompts VALUES (?, ?, ?)", (model_fp, prompt_hash, prompt_tokens))
            self._db.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                [(model_fp, prompt_hash, s, lp) for s, lp in logprobs.items()],
            )

    def get_result(self, key: str) -> str | None:
        """A stored result (JSON text) under a key that hashes everything it depends on."""
        row = self._db.execute("SELECT value FROM results WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_result(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, value))

    def count(self, model_fp: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM prompts WHERE model_fp=?", (model_fp,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()
