"""A GGUF is converted once per content, not once per place it is installed (issue 19's fresh installs).

Each fresh venv or pre-commit environment installs the embedded model's GGUF at a new path; keyed by
path, each converted it again (~30 s and ~500 MB). Keyed by the file's SHA-256, they share one
conversion, and the hash itself is computed once per path, size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from unittest.mock import patch

from evalrefine.backends import gguf


def _fake(path: Path, payload: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def test_a_copy_elsewhere_reuses_the_conversion_and_a_changed_file_does_not(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    payload = b"GGUF" + bytes(range(256)) * 64
    first = _fake(tmp_path / "venv-a" / "model.gguf", payload)
    converted = gguf.conversion_dir(first, cache)
    assert converted.name == f"model-{hashlib.sha256(payload).hexdigest()[:20]}"  # an independent hash
    converted.mkdir(parents=True)
    (converted / gguf.MARKER).write_text(json.dumps({"sha256": hashlib.sha256(payload).hexdigest()}))

    second = _fake(tmp_path / "venv-b" / "model.gguf", payload)  # the same weights, installed again
    with patch("transformers.AutoModelForCausalLM.from_pretrained", side_effect=AssertionError("converted again")):
        assert gguf.ensure_converted(second, cache) == converted
    assert gguf.gguf_identity(converted) == "gguf:" + hashlib.sha256(payload).hexdigest()

    changed = _fake(tmp_path / "venv-c" / "model.gguf", payload[:-1] + b"\x00")
    assert gguf.conversion_dir(changed, cache) != converted


def test_the_hash_is_remembered_per_path_size_and_mtime(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = _fake(tmp_path / "m.gguf", b"GGUF weights v1")
    assert gguf.known_sha256(path, cache) is None  # never hashed: the warm path must not hash 500 MB
    with patch.object(gguf, "sha256_file", wraps=gguf.sha256_file) as hashed:
        digest = gguf.file_sha256(path, cache)
        assert gguf.file_sha256(path, cache) == digest == hashlib.sha256(b"GGUF weights v1").hexdigest()
        assert hashed.call_count == 1
        path.write_bytes(b"GGUF weights v2")  # replaced in place: size and mtime change
        os.utime(path, ns=(1, 1))
        assert gguf.file_sha256(path, cache) == hashlib.sha256(b"GGUF weights v2").hexdigest()
        assert hashed.call_count == 2
    (cache / "models" / gguf.INDEX).write_text("{not json")  # a damaged index: hash again, never fail
    assert gguf.file_sha256(path, cache) == hashlib.sha256(b"GGUF weights v2").hexdigest()


def test_one_process_converts_while_the_others_wait(tmp_path: Path) -> None:
    """Workers started together (pytest-xdist, a TUI and a lint) convert once, and none loads a half-written one."""
    cache = tmp_path / "cache"
    source = _fake(tmp_path / "m.gguf", b"GGUF shared weights")
    calls: list[str] = []

    def convert(gguf_path: Path, target: Path, cache_dir: Path, on_status: object) -> None:
        calls.append(threading.current_thread().name)
        time.sleep(0.3)  # the other thread arrives while this one is converting
        target.mkdir(parents=True)
        (target / gguf.MARKER).write_text(json.dumps({"sha256": gguf.file_sha256(gguf_path, cache_dir)}))

    found: list[Path] = []
    with patch.object(gguf, "_convert", side_effect=convert):
        threads = [
            threading.Thread(target=lambda: found.append(gguf.ensure_converted(source, cache))) for _ in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert len(calls) == 1 and len(found) == 2 and found[0] == found[1]
    assert (found[0] / gguf.MARKER).is_file()
