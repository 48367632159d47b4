"""GGUF files as transformers models, converted once and cached.

transformers can load a GGUF file, but it dequantizes every tensor on each load (about 20–30 s for
the embedded model, plus ~10 s to rebuild the tokenizer). We do that once, save a plain
safetensors checkpoint with its tokenizer in the user cache, and load that afterwards (< 1 s).

The cache key is the file's resolved path, size and modification time, so a replaced file is
converted again; the file's SHA-256 is recorded beside the weights as the model's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from evalrefine.errors import ModelError

MARKER = "evalrefine-conversion.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def conversion_dir(gguf: Path, cache_dir: Path) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]
    return cache_dir / "models" / f"{gguf.stem}-{key}"


def ensure_converted(gguf: Path, cache_dir: Path, on_status: Callable[[str], None] | None = None) -> Path:
    """Return a directory holding the converted checkpoint, converting on first use."""
    if not gguf.is_file():
        raise ModelError(f"{gguf}: no such GGUF file", "check the path given to --model")
    target = conversion_dir(gguf, cache_dir)
    if (target / MARKER).is_file():
        return target
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
        (tmp / MARKER).write_text(json.dumps({"source": str(gguf.resolve()), "sha256": sha256_file(gguf)}))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: use its copy
            if not (target / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def gguf_identity(converted: Path) -> str:
    """The weights identity of a converted GGUF: the source file's SHA-256."""
    return "gguf:" + str(json.loads((converted / MARKER).read_text())["sha256"])
