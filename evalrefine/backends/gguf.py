"""GGUF files as transformers models, converted once and cached.

transformers can load a GGUF file, but it dequantizes every tensor on each load (about 20–30 s for
the embedded model, plus ~10 s to rebuild the tokenizer). We do that once, save a plain
safetensors checkpoint with its tokenizer in the user cache, and load that afterwards (< 1 s).

The cache key is the file's SHA-256, so the same weights installed again elsewhere (a fresh venv, a
pre-commit environment) reuse one conversion instead of writing another ~500 MB, and a replaced file
is converted again. Hashing the file takes about a second, so the hash is remembered in an index
under its resolved path, size and modification time; only a file the index does not know is hashed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from evalrefine.backends.load_lock import MODEL_LOAD_LOCK
from evalrefine.errors import ModelError

MARKER = "evalrefine-conversion.json"
INDEX = "gguf-sha256.json"
"""``{"path|size|mtime_ns": sha256}`` for every GGUF hashed so far, in ``cache_dir/models``."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(gguf: Path) -> str:
    st = gguf.stat()
    return f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _index(cache_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((cache_dir / "models" / INDEX).read_text())
    except (OSError, ValueError):
        return {}  # none yet, or damaged: files are hashed again
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def known_sha256(gguf: Path, cache_dir: Path) -> str | None:
    """The file's SHA-256 if it was hashed before as it is now (no hashing: the warm path uses this)."""
    return _index(cache_dir).get(_stamp(gguf))


def file_sha256(gguf: Path, cache_dir: Path) -> str:
    """The file's SHA-256, hashed once per path, size and modification time."""
    known = known_sha256(gguf, cache_dir)
    if known is not None:
        return known
    digest = sha256_file(gguf)
    folder = cache_dir / "models"
    folder.mkdir(parents=True, exist_ok=True)
    index = {**_index(cache_dir), _stamp(gguf): digest}
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".index-", delete=False) as tmp:
        tmp.write(json.dumps(index, indent=0, sort_keys=True))
    os.replace(tmp.name, folder / INDEX)  # atomic: a concurrent reader sees the old or the new index
    return digest


def conversion_dir(gguf: Path, cache_dir: Path, sha256: str | None = None) -> Path:
    """Where ``gguf``'s conversion lives: named by its content, so every copy of it shares one."""
    digest = sha256 or file_sha256(gguf, cache_dir)
    return cache_dir / "models" / f"{gguf.stem}-{digest[:20]}"


def ensure_converted(gguf: Path, cache_dir: Path, on_status: Callable[[str], None] | None = None) -> Path:
    """Return a directory holding the converted checkpoint, converting on first use.

    One process converts while any other that needs the same file waits for it (a lock file beside
    the conversions): test workers, a TUI and a lint started together must not each spend 30 s and
    500 MB, nor load a checkpoint another process is still writing."""
    if not gguf.is_file():
        raise ModelError(f"{gguf}: no such GGUF file", "check the path given to --model")
    target = conversion_dir(gguf, cache_dir)
    if (target / MARKER).is_file():
        return target
    with _locked(target.with_name(f".{target.name}.lock")), MODEL_LOAD_LOCK:
        if not (target / MARKER).is_file():  # another process may have converted it while we waited
            _convert(gguf, target, cache_dir, on_status)
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, even if the process dies
        yield


def _convert(gguf: Path, target: Path, cache_dir: Path, on_status: Callable[[str], None] | None) -> None:
    if on_status:
        on_status(f"Converting {gguf.name} to a cached checkpoint (one time, about 30 s)…")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalrefine.backends.hf_local import quiet_transformers

    quiet_transformers()
    # transformers' GGUF reader draws its own tqdm bar; the front end shows progress instead.
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as exc:
        raise ModelError(f"{gguf}: transformers cannot read this GGUF file: {exc}") from None
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous
    # The dequantized weights are plain tensors; drop the GGUF quantizer so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(json.dumps({"source": str(gguf.resolve()), "sha256": file_sha256(gguf, cache_dir)}))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: use its copy
            if not (target / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def gguf_identity(converted: Path) -> str:
    """The weights identity of a converted GGUF: the source file's SHA-256."""
    return "gguf:" + str(json.loads((converted / MARKER).read_text())["sha256"])
