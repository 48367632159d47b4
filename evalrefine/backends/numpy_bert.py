"""The intent guard's sentence embedder (all-MiniLM-L6-v2) in NumPy, without importing torch.

Why: the guard embeds every refine candidate, and loading sentence-transformers imports torch and
transformers' model code, ~4 s of CPU that held up the first candidate of a TUI session by as much.
The model is a 6-layer BERT with mean pooling and L2 normalisation (its ``modules.json``); this
module computes exactly that from its safetensors and ``tokenizer.json``, truncating at its
``max_seq_length`` as sentence-transformers does. ``tests/unit/test_numpy_embedder.py`` holds every
vector within 1e-5 of sentence-transformers' own, and the token ids equal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]

_PIPELINE = [
    "sentence_transformers.models.Transformer",
    "sentence_transformers.models.Pooling",
    "sentence_transformers.models.Normalize",
]


def unsupported(directory: Path) -> str | None:
    """Why this module cannot embed with the sentence-transformers model in ``directory``."""
    try:
        modules = [m["type"] for m in _json(directory / "modules.json")]
        config = _json(directory / "config.json")
        pooling = _json(directory / "1_Pooling" / "config.json")
    except (OSError, ValueError, KeyError, TypeError):
        return "not a sentence-transformers folder"
    if modules != _PIPELINE:
        return f"modules {modules}"
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        return f"model {config.get('model_type')} / {config.get('hidden_act')}"
    if config.get("position_embedding_type", "absolute") != "absolute":
        return "relative position embeddings"
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        return f"pooling {modes}"
    if not (directory / "tokenizer.json").is_file() or not (directory / "model.safetensors").is_file():
        return "no tokenizer.json or model.safetensors"
    return None


class NumpyBert:
    """Mean-pooled, normalised BERT sentence embeddings."""

    def __init__(self, directory: Path) -> None:
        from safetensors.numpy import load_file
        from scipy.special import erf
        from tokenizers import Tokenizer

        config = _json(directory / "config.json")
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = np.float32(config.get("layer_norm_eps", 1e-12))
        self.erf = erf
        raw = load_file(str(directory / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        positions = int(config["max_position_embeddings"])
        settings = directory / "sentence_bert_config.json"  # optional: without it the model's own limit holds
        limit = int(_json(settings).get("max_seq_length") or positions) if settings.is_file() else positions
        self.tokenizer.enable_truncation(min(limit, positions))

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._embed(self.ids(text)).tolist() for text in texts]

    def _norm(self, x: Array, name: str) -> Array:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        normed = centred / np.sqrt(variance + self.eps)
        return np.asarray(normed * self.w[name + ".weight"] + self.w[name + ".bias"], dtype=np.float32)

    def _linear(self, x: Array, name: str) -> Array:
        return np.asarray(x @ self.w[name + ".weight"].T + self.w[name + ".bias"], dtype=np.float32)

    def _embed(self, ids: list[int]) -> Array:
        w, t = self.w, len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        width = x.shape[1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (
                self._linear(x, p + f"attention.self.{n}").reshape(t, self.heads, width).transpose(1, 0, 2)
                for n in ("query", "key", "value")
            )
            scores = (q @ k.transpose(0, 2, 1)) / np.float32(np.sqrt(width))
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(t, -1)
            x = self._norm(self._linear(attended, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            hidden = self._linear(x, p + "intermediate.dense")
            gelu = hidden * np.float32(0.5) * (np.float32(1.0) + self.erf(hidden / np.float32(np.sqrt(2.0))))
            hidden = np.asarray(gelu, dtype=np.float32)
            x = self._norm(self._linear(hidden, p + "output.dense") + x, p + "output.LayerNorm")
        pooled = x.mean(axis=0)
        return np.asarray(pooled / max(float(np.linalg.norm(pooled)), 1e-12), dtype=np.float32)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
