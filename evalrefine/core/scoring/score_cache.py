"""A persistent cache of monitor scores (SQLite, standard library).

Keyed by the monitor's *model fingerprint* (weights, chat template, opener), the prompt's content
hash and the sentence, so a score is reused exactly when nothing that changes it has changed.
Each prompt is committed as soon as it is scored, so a crash or Ctrl-C loses nothing and the next
run resumes; a prompt's row is written in one transaction, so it is never half-stored. Slower
results (a prompt's rollout summary) go in ``results`` under a key hashing all their inputs, and so
does each model's monitor identity under its file stamps, so that a run whose scores are all cached
needs no model at all.

A cache is an optimisation, so it must never stop a run: a corrupt file (a crash of another tool,
a disk error, a file that is not SQLite at all) is detected on open (``PRAGMA quick_check``) and
moved aside to ``scores.sqlite.corrupt-N`` so nothing is deleted, and a fresh cache is started; a
read-only file is used read-only, and when even that fails the run goes on without a cache. Each
such event is a one-line message in :attr:`ScoreCache.warnings` for the front end to print (the
core never prints). An error on a later query turns the cache off for the rest of the run the same way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
    model_fp TEXT NOT NULL, prompt_hash TEXT NOT NULL, prompt_tokens INTEGER NOT NULL,
    PRIMARY KEY (model_fp, prompt_hash));
CREATE TABLE IF NOT EXISTS scores (
    model_fp TEXT NOT NULL, prompt_hash TEXT NOT NULL, sentence TEXT NOT NULL, logprob REAL NOT NULL,
    PRIMARY KEY (model_fp, prompt_hash, sentence));
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

IDENTITY_PREFIX = "monitor-identity/v1:"
"""Results under this key prefix map a model's file stamps to its monitor identity."""


class ScoreCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.warnings: list[str] = []
        """One-line messages about the cache (moved aside, read-only, off) for the front end."""
        self.read_only = False
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.warnings.append(f"score cache {path} unusable ({exc.strerror or exc}): running without a cache")
            return
        self._db = self._open()

    def _open(self) -> sqlite3.Connection | None:
        try:
            db = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                return self._open_read_only(exc)
            aside = self._move_aside()
            if aside is None:
                self.warnings.append(f"score cache {self.path} is corrupt and cannot be moved: running without a cache")
                return None
            self.warnings.append(f"score cache {self.path} was corrupt: moved to {aside.name}, starting a fresh one")
            try:
                return self._connect()
            except sqlite3.DatabaseError as again:
                return self._open_read_only(again)
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed ({row[0] if row else 'no result'})")
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _open_read_only(self, cause: sqlite3.DatabaseError) -> sqlite3.Connection | None:
        """A cache that cannot be written (a read-only file or directory): read what it holds."""
        for query in ("mode=ro", "mode=ro&immutable=1"):
            try:
                db = sqlite3.connect(f"{self.path.absolute().as_uri()}?{query}", uri=True, timeout=30)
                db.execute("SELECT COUNT(*) FROM prompts").fetchone()
            except sqlite3.DatabaseError:
                continue
            self.read_only = True
            self.warnings.append(f"score cache {self.path} is read-only ({cause}): new scores are not stored")
            return db
        self.warnings.append(f"score cache {self.path} unusable ({cause}): running without a cache")
        return None

    def _move_aside(self) -> Path | None:
        n = 1
        while (aside := self.path.with_name(f"{self.path.name}.corrupt-{n}")).exists():
            n += 1
        try:
            self.path.replace(aside)
            for extra in ("-wal", "-shm"):  # SQLite's side files belong to the corrupt database
                side = self.path.with_name(self.path.name + extra)
                if side.exists():
                    side.replace(aside.with_name(aside.name + extra))
        except OSError:
            return None
        return aside

    def _run(self, what: Callable[[sqlite3.Connection], _T], default: _T, write: bool = False) -> _T:
        """``what(db)``, or ``default`` when there is no usable cache; an error turns the cache off."""
        if self._db is None or (write and self.read_only):
            return default
        try:
            return what(self._db)
        except sqlite3.Error as exc:
            self.warnings.append(f"score cache {self.path} failed ({exc}): running without a cache from here")
            self.close()
            return default

    def get(self, model_fp: str, prompt_hash: str, sentences: Sequence[str]) -> tuple[int, dict[str, float]] | None:
        """``(prompt_tokens, {sentence: logprob})`` if every sentence is cached, else ``None``."""

        def read(db: sqlite3.Connection) -> tuple[int, dict[str, float]] | None:
            row = db.execute(
                "SELECT prompt_tokens FROM prompts WHERE model_fp=? AND prompt_hash=?", (model_fp, prompt_hash)
            ).fetchone()
            if row is None:
                return None
            marks = ",".join("?" * len(sentences))
            query = f"SELECT sentence, logprob FROM scores WHERE model_fp=? AND prompt_hash=? AND sentence IN ({marks})"
            found = dict(db.execute(query, (model_fp, prompt_hash, *sentences)).fetchall())
            if len(found) < len(set(sentences)):
                return None
            return int(row[0]), {s: found[s] for s in sentences}  # in the monitor's order, as when scored

        return self._run(read, None)

    def get_many(
        self, model_fp: str, prompt_hashes: Sequence[str], sentences: Sequence[str]
    ) -> dict[str, tuple[int, dict[str, float]]]:
        """:meth:`get` for many prompts in a few queries (a fully cached lint reads hundreds):
        the prompts whose every sentence is cached, each as :meth:`get` returns it."""
        wanted = list(dict.fromkeys(prompt_hashes))

        def read(db: sqlite3.Connection) -> dict[str, tuple[int, dict[str, float]]]:
            tokens: dict[str, int] = {}
            scores: dict[str, dict[str, float]] = {}
            per = max(1, 900 - len(sentences))  # SQLite's oldest limit on bound values is 999
            sentence_marks = ",".join("?" * len(sentences))
            for start in range(0, len(wanted), per):
                chunk = wanted[start : start + per]
                marks = ",".join("?" * len(chunk))
                where = f"WHERE model_fp=? AND prompt_hash IN ({marks})"
                for h, n in db.execute(f"SELECT prompt_hash, prompt_tokens FROM prompts {where}", (model_fp, *chunk)):
                    tokens[h] = int(n)
                query = f"SELECT prompt_hash, sentence, logprob FROM scores {where} AND sentence IN ({sentence_marks})"
                for h, sentence, lp in db.execute(query, (model_fp, *chunk, *sentences)):
                    scores.setdefault(h, {})[sentence] = lp
            return {
                h: (tokens[h], {s: scores[h][s] for s in sentences})
                for h in wanted
                if h in tokens and len(scores.get(h, ())) == len(set(sentences))
            }

        return self._run(read, {})

    def put(self, model_fp: str, prompt_hash: str, prompt_tokens: int, logprobs: Mapping[str, float]) -> None:
        def write(db: sqlite3.Connection) -> None:
            with db:  # one transaction: committed on exit
                db.execute("INSERT OR REPLACE INTO prompts VALUES (?, ?, ?)", (model_fp, prompt_hash, prompt_tokens))
                db.executemany(
                    "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                    [(model_fp, prompt_hash, s, lp) for s, lp in logprobs.items()],
                )

        self._run(write, None, write=True)

    def get_result(self, key: str) -> str | None:
        """A stored result (JSON text) under a key that hashes everything it depends on."""

        def read(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT value FROM results WHERE key=?", (key,)).fetchone()
            return None if row is None else str(row[0])

        return self._run(read, None)

    def put_result(self, key: str, value: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, value))

        self._run(write, None, write=True)

    def get_identity(self, stamp: str) -> tuple[dict[str, str], str] | None:
        """``(identity, fingerprint)`` of the monitor last loaded under ``stamp`` (see
        :mod:`evalrefine.backends.stamps`): what lets a fully cached run skip loading the model."""
        stored = self.get_result(IDENTITY_PREFIX + stamp)
        if stored is None:
            return None
        try:
            data = json.loads(stored)
            identity, fingerprint = data["identity"], data["fingerprint"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(identity, dict) or not isinstance(fingerprint, str):
            return None
        return {str(k): str(v) for k, v in identity.items()}, fingerprint

    def put_identity(self, stamp: str, identity: Mapping[str, str], fingerprint: str) -> None:
        self.put_result(IDENTITY_PREFIX + stamp, json.dumps({"identity": dict(identity), "fingerprint": fingerprint}))

    def count(self, model_fp: str) -> int:
        return self._run(
            lambda db: int(db.execute("SELECT COUNT(*) FROM prompts WHERE model_fp=?", (model_fp,)).fetchone()[0]), 0
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Corruption, as opposed to a file SQLite may not write (read-only, locked)."""
    text = str(exc).lower()
    if any(w in text for w in ("readonly", "read-only", "unable to open", "locked", "permission")):
        return False
    return not isinstance(exc, sqlite3.OperationalError) or "malformed" in text or "not a database" in text
