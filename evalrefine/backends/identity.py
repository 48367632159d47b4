"""What names a model's numbers: its weights' identity, and the fingerprint scores are cached under.

Kept free of torch so that the NumPy engine and the identity stamps can compute them without it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def weights_fingerprint(identity: str, dtype: str, attn: str) -> str:
    """A backend's ``fingerprint``: the weights identity with the dtype and the attention kernel,
    since bfloat16 and float32 scores differ by up to ~0.6 nats and kernels differ in rounding."""
    return hashlib.sha256(f"{identity}\ndtype={dtype}\nattn={attn}".encode()).hexdigest()


def directory_identity(directory: Path) -> str:
    """A cheap weights identity for a model directory: config plus each weight file's size and its
    first and last MiB (hashing gigabytes on every start would cost more than the scoring)."""
    digest = hashlib.sha256()
    config = directory / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for f in sorted(directory.iterdir()):
        if f.suffix in (".safetensors", ".bin", ".pt", ".gguf"):
            size = f.stat().st_size
            digest.update(f"{f.name}:{size}".encode())
            with f.open("rb") as fh:
                digest.update(fh.read(1 << 20))
                fh.seek(max(0, size - (1 << 20)))
                digest.update(fh.read(1 << 20))
    return digest.hexdigest()
