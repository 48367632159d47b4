"""A Llama-family forward pass in NumPy, for scoring on a CPU without importing torch.

Why it exists: on a laptop the start-of-CoT score of one prompt takes ~0.5 s of arithmetic, but
importing torch and transformers' model code takes ~5 s of single-threaded CPU before it. Scoring
only needs a forward pass, so for the architectures this module knows (Llama: SmolLM2, TinyLlama,
Llama 2/3 without rope scaling) the scores are computed here from the safetensors weights, in float32
as transformers does on a CPU, with the log-softmax in float64 (as ``torch_scoring`` does).
``tests/unit/test_numpy_engine.py`` holds every log-probability within 1e-4 nats (2.1e-5 measured)
of transformers' own forward pass on the embedded model and on random Llama configs (GQA, biases,
untied head).

The layout is ``torch_scoring``'s *packed* strategy: one pass over ``prompt + c1[:-1] + c2[:-1] …``
in which each continuation sees the prompt and its own earlier tokens, with positions that restart
after the prompt; logits only where a forced token is predicted. A key/value cache of the first
prompt lets the variants that attribution scores (one span edited) skip their shared prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
KV = list[tuple[Array, Array]]
"""Per layer: keys and values, each ``(kv_heads, positions, head_dim)``."""

_MAX_SCORES = 1 << 26
"""Attention scores held at once (floats): longer prompts are processed in query chunks."""


def unsupported(config: dict[str, Any]) -> str | None:
    """Why this module cannot run a model with ``config`` (``None``: it can)."""
    if config.get("model_type") != "llama" or config.get("architectures", ["LlamaForCausalLM"]) != ["LlamaForCausalLM"]:
        return f"architecture {config.get('architectures') or config.get('model_type')} is not Llama"
    if config.get("hidden_act", "silu") != "silu":
        return f"activation {config.get('hidden_act')!r}"
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        return f"rope scaling {rope.get('rope_type', rope.get('type'))!r}"
    if config.get("pretraining_tp", 1) != 1:
        return "pretraining_tp > 1"
    return None


@dataclass(frozen=True)
class Shape:
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    theta: float
    max_positions: int
    """``max_position_embeddings`` (0 if the config has none): the context length."""

    @classmethod
    def of(cls, config: dict[str, Any]) -> Shape:
        heads = int(config["num_attention_heads"])
        rope = config.get("rope_parameters") or {}
        return cls(
            layers=int(config["num_hidden_layers"]),
            heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or int(config["hidden_size"]) // heads),
            eps=float(config.get("rms_norm_eps", 1e-6)),
            theta=float(rope.get("rope_theta", config.get("rope_theta", 10000.0))),
            max_positions=int(config.get("max_position_embeddings") or 0),
        )


class Released(RuntimeError):
    """The weights were let go (another engine took over) before this pass began."""


Projection = tuple[Array, Array | None]
"""A linear layer as an (input × output) matrix and its bias."""


@dataclass(frozen=True)
class Weights:
    """Everything a pass reads, held together so that one reference keeps a running pass whole."""

    tensors: dict[str, Array]
    layers: list[dict[str, Projection]]
    head: Array

    @classmethod
    def of(cls, tensors: dict[str, Array], layers: int, tied: bool) -> Weights:
        def projection(name: str) -> Projection:
            # a transposed view, not a copy: copying every weight costs more load time than BLAS gains
            return tensors[name + ".weight"].T, tensors.get(name + ".bias")

        def layer(p: str) -> dict[str, Projection]:
            attn, mlp = p + "self_attn.", p + "mlp."
            names = {"q": attn + "q_proj", "k": attn + "k_proj", "v": attn + "v_proj", "o": attn + "o_proj"}
            names |= {"gate": mlp + "gate_proj", "up": mlp + "up_proj", "down": mlp + "down_proj"}
            return {key: projection(name) for key, name in names.items()}

        if not tied and "lm_head.weight" not in tensors:
            raise ValueError("an untied output layer with no lm_head.weight")  # transformers would refuse it
        head = tensors["model.embed_tokens.weight" if tied else "lm_head.weight"]  # as transformers ties it
        return cls(tensors, [layer(f"model.layers.{i}.") for i in range(layers)], head)


class NumpyLlama:
    """The weights of one Llama checkpoint and its forward pass."""

    def __init__(self, config: dict[str, Any], tensors: dict[str, Array]) -> None:
        self.shape = Shape.of(config)
        tied = bool(config.get("tie_word_embeddings", False))  # LlamaConfig's default
        self.weights: Weights | None = Weights.of(tensors, self.shape.layers, tied)
        """``None`` once :meth:`release` has let them go."""
        hd = self.shape.head_dim
        exponents = np.arange(0, hd, 2, dtype=np.int64).astype(np.float32) / np.float32(hd)
        self.inv_freq = (np.float32(1.0) / (np.float32(self.shape.theta) ** exponents)).astype(np.float32)
        self.checks: list[Callable[[], None]] = []
        """Called before every layer: a check may raise to stop a cancelled job mid-pass."""

    @classmethod
    def load(cls, directory: Path) -> NumpyLlama:
        """Read ``config.json`` and every ``*.safetensors`` file (float16 upcast to float32).

        Raises:
            ValueError: a tensor in a dtype NumPy cannot hold (bfloat16), or a config this module
                does not know; the caller falls back to transformers.
        """
        from safetensors import safe_open

        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        reason = unsupported(config)
        if reason:
            raise ValueError(reason)
        weights: dict[str, Array] = {}
        for file in sorted(directory.glob("*.safetensors")):
            with safe_open(str(file), framework="numpy") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    if f.get_slice(key).get_dtype() not in ("F32", "F16"):
                        raise ValueError(f"{key} is {f.get_slice(key).get_dtype()}, which NumPy cannot hold")
                    tensor = f.get_tensor(key)
                    weights[key] = tensor if tensor.dtype == np.float32 else tensor.astype(np.float32)
        if "model.embed_tokens.weight" not in weights:
            raise ValueError("no safetensors weights")
        return cls(config, weights)

    def release(self) -> None:
        """Let the weights go (another engine has taken over). A pass already running keeps the
        weights it holds; a later one raises :class:`Released`."""
        self.weights = None

    # -- the forward pass ------------------------------------------------------------------------------
    def _norm(self, x: Array, weight: Array) -> Array:
        variance = np.mean(x * x, axis=-1, keepdims=True)
        return np.asarray(weight * (x / np.sqrt(variance + np.float32(self.shape.eps))), dtype=np.float32)

    @staticmethod
    def _linear(x: Array, projection: tuple[Array, Array | None]) -> Array:
        matrix, bias = projection
        out = x @ matrix
        return out if bias is None else out + bias

    def _rope(self, x: Array, cos: Array, sin: Array) -> Array:
        half = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return np.asarray(x * cos + rotated * sin, dtype=np.float32)

    def forward(
        self, weights: Weights, ids: Sequence[int], positions: npt.NDArray[np.int64], bias: Array, past: KV | None
    ) -> tuple[Array, KV]:
        """Final hidden states of ``ids`` at ``positions`` and their keys/values per layer.

        ``bias`` is ``(len(ids), past + len(ids))``: 0 where a token may attend, ``-inf`` elsewhere."""
        s, w, layers = self.shape, weights.tensors, weights.layers
        t = len(ids)
        group = s.heads // s.kv_heads
        x = w["model.embed_tokens.weight"][np.asarray(ids, dtype=np.int64)]
        freqs = positions.astype(np.float32)[:, None] * self.inv_freq[None, :]
        angles = np.concatenate([freqs, freqs], axis=-1)
        cos, sin = np.cos(angles), np.sin(angles)
        scale = np.float32(s.head_dim**-0.5)
        chunk = max(1, _MAX_SCORES // max(1, s.heads * bias.shape[1]))
        kv: KV = []
        for i in range(s.layers):
            for check in self.checks:
                check()
            p, layer = f"model.layers.{i}.", layers[i]
            h = self._norm(x, w[p + "input_layernorm.weight"])
            q = self._linear(h, layer["q"]).reshape(t, s.heads, s.head_dim).transpose(1, 0, 2)
            k = self._linear(h, layer["k"]).reshape(t, s.kv_heads, s.head_dim).transpose(1, 0, 2)
            v = self._linear(h, layer["v"]).reshape(t, s.kv_heads, s.head_dim).transpose(1, 0, 2)
            q, k = self._rope(q, cos, sin), self._rope(k, cos, sin)
            v = np.ascontiguousarray(v)
            kv.append((k, v))
            if past is not None:
                k = np.concatenate([past[i][0], k], axis=1)
                v = np.concatenate([past[i][1], v], axis=1)
            grouped = (q * scale).reshape(s.kv_heads, group, t, s.head_dim)
            keys_t, values = k[:, None].transpose(0, 1, 3, 2), v[:, None]
            out = np.empty_like(grouped)
            for start in range(0, t, chunk):
                rows = slice(start, start + chunk)
                scores = grouped[:, :, rows] @ keys_t
                scores += bias[rows]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                out[:, :, rows] = (scores @ values) / scores.sum(axis=-1, keepdims=True)
            attended = out.reshape(s.heads, t, s.head_dim).transpose(1, 0, 2).reshape(t, s.heads * s.head_dim)
            x += self._linear(attended, layer["o"])
            h = self._norm(x, w[p + "post_attention_layernorm.weight"])
            gate, up = self._linear(h, layer["gate"]), self._linear(h, layer["up"])
            denominator = np.negative(gate)
            with np.errstate(over="ignore"):  # exp(-gate) overflows to inf for gate ≪ 0: silu → -0
                np.exp(denominator, out=denominator)
            denominator += np.float32(1.0)
            up *= gate
            up /= denominator  # silu(gate) · up
            x += self._linear(up, layer["down"])
        return self._norm(x, w["model.norm.weight"]), kv

    @staticmethod
    def log_probs(head: Array, hidden: Array, targets: Sequence[int]) -> list[float]:
        """``log P(target_i)`` from the hidden state of row ``i``, log-softmax in float64."""
        logits = (hidden @ head.T).astype(np.float64)
        top = logits.max(axis=-1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=-1))
        return [float(logits[r, tok] - norm[r]) for r, tok in enumerate(targets)]

    # -- packed scoring --------------------------------------------------------------------------------
    def score(
        self, prompt: Sequence[int], continuations: Sequence[Sequence[int]], past: KV | None = None
    ) -> tuple[list[list[float]], KV]:
        """Per-token log-probs of each continuation after ``prompt``, and the prompt's keys/values.

        ``past`` holds the keys/values of ``prompt[:L]`` (a shared prefix); only the rest is computed."""
        weights = self.weights  # one reference for the whole pass: release() may run meanwhile
        if weights is None:
            raise Released
        done = 0 if past is None else past[0][0].shape[1]
        if not 0 <= done < len(prompt):
            raise ValueError("the cached prefix must leave at least one prompt token to compute")
        ids, positions, rows_of = list(prompt[done:]), list(range(done, len(prompt))), []
        for cont in continuations:
            rows_of.append(len(ids))
            ids += list(cont[:-1])
            positions += range(len(prompt), len(prompt) + len(cont) - 1)
        bias = self._packed_bias(len(prompt), done, continuations)
        hidden, kv = self.forward(weights, ids, np.asarray(positions, dtype=np.int64), bias, past)
        last = len(prompt) - done - 1
        wanted, targets = [], []
        for start, cont in zip(rows_of, continuations, strict=True):
            rows = [last, *range(start, start + len(cont) - 1)] if cont else []
            wanted += rows
            targets += list(cont)
        flat = self.log_probs(weights.head, hidden[wanted], targets) if wanted else []
        out, at = [], 0
        for cont in continuations:
            out.append(flat[at : at + len(cont)])
            at += len(cont)
        prompt_kv = [(k[:, : len(prompt) - done], v[:, : len(prompt) - done]) for k, v in kv]
        if past is not None:
            prompt_kv = [
                (np.concatenate([pk, k], axis=1), np.concatenate([pv, v], axis=1))
                for (pk, pv), (k, v) in zip(past, prompt_kv, strict=True)
            ]
        return out, prompt_kv

    @staticmethod
    def _packed_bias(prompt_len: int, done: int, continuations: Sequence[Sequence[int]]) -> Array:
        """Who may attend to whom: prompt tokens causally; each continuation token to the whole
        prompt and to its own continuation up to itself, never to another continuation."""
        new = prompt_len - done
        lengths = [max(0, len(c) - 1) for c in continuations]
        total = new + sum(lengths)
        allowed = np.zeros((total, done + total), dtype=bool)
        allowed[:, :done] = True
        allowed[:new, done : done + new] = np.tril(np.ones((new, new), dtype=bool))
        at = new
        for n in lengths:
            allowed[at : at + n, done : done + new] = True
            allowed[at : at + n, done + at : done + at + n] = np.tril(np.ones((n, n), dtype=bool))
            at += n
        return np.where(allowed, np.float32(0.0), np.float32(-np.inf)).astype(np.float32)
