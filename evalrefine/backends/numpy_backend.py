"""The NumPy scoring engine as a backend: a first score in about two seconds instead of five.

It renders and tokenizes exactly as transformers would (transformers' own chat-template renderer,
which imports no torch, over the checkpoint's ``tokenizer.json`` read by the ``tokenizers`` library)
and scores with :mod:`evalrefine.backends.numpy_llama`. What needs torch (gradients for
``explain --method gradient``, sampling rollouts) or is better done there (bulk batches of
unrelated prompts, ~1.5x faster in torch's batched kernels) is handed to a transformers backend of
the same checkpoint, loaded the first time it is asked for; it then scores everything. So NumPy is
the engine of a fast start and of interactive work, and a long job still runs at torch's speed.

The choice is made in :func:`engine_for` (``model.engine``). ``auto`` takes this engine only where
it is known to give transformers' numbers: a CPU, float32, no device map or kernel override, a Llama
checkpoint in safetensors, a tokenizer that transformers loads from ``tokenizer.json`` as it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalrefine.backends.hf_tokenizer import HFChatTokenizer
from evalrefine.backends.identity import weights_fingerprint
from evalrefine.backends.numpy_llama import KV, NumpyLlama, Released, unsupported
from evalrefine.config import ModelSettings
from evalrefine.core.scoring.protocols import shared_prefix
from evalrefine.errors import ModelError

if TYPE_CHECKING:  # the transformers side imports torch: only when it is loaded
    from evalrefine.backends.hf_local import HFLocalBackend

_SPECIAL = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_AS_IS = ("TokenizersBackend", "PreTrainedTokenizerFast")
"""Tokenizer classes that transformers builds from ``tokenizer.json`` unchanged (others rebuild
pre-tokenizers or normalizers from their own rules, which this engine would not reproduce)."""
_CHANGES_TOKENIZER = ("add_bos_token", "add_eos_token", "add_prefix_space", "legacy")


class FileTokenizer:
    """The part of a transformers tokenizer that :class:`HFChatTokenizer` uses, read from a model
    folder's files without importing transformers' tokenizer classes (and so torch)."""

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        config = _json(directory / "tokenizer_config.json")
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_truncation()  # as transformers does unless asked: a saved max_length must not cut a prompt
        self.tokenizer.no_padding()
        self.special = {k: _text(config[k]) for k in _SPECIAL if config.get(k) is not None}
        jinja = directory / "chat_template.jinja"
        template = jinja.read_text(encoding="utf-8") if jinja.is_file() else config.get("chat_template")
        self.chat_template = template if isinstance(template, str) else None
        self.bos_token = self.special.get("bos_token")
        self.bos_token_id = self.tokenizer.token_to_id(self.bos_token) if self.bos_token else None
        self.model_max_length = int(config.get("model_max_length") or 0)

    def apply_chat_template(
        self,
        conversation: list[dict[str, Any]],
        *,
        chat_template: str,
        tokenize: bool,
        add_generation_prompt: bool,
        **kwargs: Any,
    ) -> str:
        """transformers' ``apply_chat_template(..., tokenize=False)``: the same renderer and variables."""
        from transformers.utils.chat_template_utils import render_jinja_template

        messages = [{k: v for k, v in m.items() if v is not None} for m in conversation]  # as transformers does
        rendered, _ = render_jinja_template(
            conversations=[messages],
            chat_template=chat_template,
            add_generation_prompt=add_generation_prompt,
            **{**self.special, **kwargs},
        )
        return str(rendered[0])

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))


def tokenizer_unsupported(directory: Path) -> str | None:
    """Why :class:`FileTokenizer` might tokenize ``directory``'s model differently from transformers."""
    if not (directory / "tokenizer.json").is_file():
        return "no tokenizer.json"
    config = _json(directory / "tokenizer_config.json")
    if config.get("tokenizer_class") not in _AS_IS:
        return f"tokenizer class {config.get('tokenizer_class')!r}"
    changed = [k for k in _CHANGES_TOKENIZER if k in config]
    return f"tokenizer option {changed[0]}" if changed else None


class NumpyBackend(HFChatTokenizer):
    """A Llama checkpoint scored by :class:`NumpyLlama` (a ``ScoringBackend`` and ``GradientScorer``)."""

    def __init__(
        self,
        model: NumpyLlama,
        tokenizer: FileTokenizer,
        name: str,
        identity: str,
        fallback: Callable[[], HFLocalBackend],
    ) -> None:
        self.numpy_model = model
        self.tokenizer = tokenizer
        self._name = name
        self._identity = identity
        self._fallback = fallback
        self._torch: HFLocalBackend | None = None
        self._last: tuple[tuple[int, ...], KV] | None = None
        """The last prompt scored by :meth:`score_continuations` and its keys/values."""
        self._loading = threading.Lock()

    @classmethod
    def load(cls, directory: Path, name: str, identity: str, fallback: Callable[[], HFLocalBackend]) -> NumpyBackend:
        """Raises ValueError where the checkpoint needs transformers after all (bfloat16 weights)."""
        return cls(NumpyLlama.load(directory), FileTokenizer(directory), name, identity, fallback)

    @property
    def fingerprint(self) -> str:
        """The fingerprint transformers' float32 SDPA forward of the same weights has. A fingerprint
        names numbers, not code: this engine's log-probs match that forward within 1e-4 nats per token
        (tested; 2.1e-5 measured), as the torch strategies match each other (1.1e-5), so cached
        scores and the shipped reference hold under either."""
        return weights_fingerprint(self._identity, "float32", "sdpa")

    @property
    def context_length(self) -> int:
        return self.numpy_model.shape.max_positions or self.tokenizer.model_max_length

    def score_continuations(self, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
        """Reuses the keys/values of the last prompt scored here over their shared start: the TUI
        re-scores a prompt after every pause in typing, and an edit near its end then costs a few
        tokens' work instead of the whole prompt's."""
        if self._torch is None:
            with contextlib.suppress(Released):  # transformers took over meanwhile: it scores this one too
                last, past = self._last, None  # one read: another thread may replace it
                if last is not None and (shared := shared_prefix(last[0], prefix)) >= REUSE_FROM:
                    past = [(k[:, :shared], v[:, :shared]) for k, v in last[1]]
                scores, kv = self.numpy_model.score(prefix, continuations, past)
                self._last = (tuple(prefix), kv)
                return scores
        return list(self.transformers_backend().score_continuations(prefix, continuations))

    def score_variants(
        self, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]]
    ) -> list[list[list[float]]]:
        """The first prompt in full; each other one from the first's keys/values over their shared prefix.

        A batch of unrelated prompts (lint, validate, a reference build) is bulk work, where torch's
        batched kernels are ~1.5x faster than NumPy and the seconds its import costs are soon repaid:
        it loads the transformers backend, which from then on scores everything."""
        if not prompts:
            return []
        if self._torch is None and _bulk(prompts):
            self.transformers_backend()
        if self._torch is None:
            with contextlib.suppress(Released):  # transformers took over meanwhile: it scores these too
                return self._numpy_variants(prompts, continuations)
        return list(self.transformers_backend().score_variants(prompts, continuations))

    def _numpy_variants(
        self, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]]
    ) -> list[list[list[float]]]:
        first, cache = self.numpy_model.score(prompts[0], continuations[0])
        out = [first]
        for prompt, conts in zip(prompts[1:], continuations[1:], strict=True):
            shared = shared_prefix(prompts[0], prompt)
            past: KV | None = [(k[:, :shared], v[:, :shared]) for k, v in cache] if shared else None
            out.append(self.numpy_model.score(prompt, conts, past)[0])
        return out

    def on_layer(self, check: Callable[[], None]) -> None:
        """Run ``check`` before every layer of every forward pass, here and in the transformers backend
        that gradients and sampling use (it raises to stop a cancelled job)."""
        self.numpy_model.checks.append(check)
        if self._torch is not None:
            self._torch.on_layer(check)

    def transformers_backend(self) -> HFLocalBackend:
        """The same checkpoint loaded with transformers (once), for gradients, sampling and bulk work.
        From then on it scores everything (it is as fast or faster once loaded) and the NumPy copy of
        the weights is let go, so a session never holds the model twice for long."""
        with self._loading:  # two jobs asking at once get one model
            torch_side = self._torch
            if torch_side is None:
                torch_side = self._fallback()
                for check in self.numpy_model.checks:
                    torch_side.on_layer(check)
                self._torch = torch_side
                self.numpy_model.release()
                self._last = None
            return torch_side

    def token_saliency(
        self,
        prompt_text: str,
        prompt_ids: Sequence[int],
        continuations: Sequence[Sequence[int]],
        weights: Callable[[list[list[float]]], Sequence[float]],
    ) -> tuple[list[tuple[int, int, float]], list[list[float]]]:
        return self.transformers_backend().token_saliency(prompt_text, prompt_ids, continuations, weights)


REUSE_FROM = 16
"""Shared tokens worth reusing from the last prompt (fewer: the chat header alone, not worth a copy)."""

BULK_PROMPTS = 8
"""A score_variants batch this large whose prompts share less than half of the first is bulk work."""


def _bulk(prompts: Sequence[Sequence[int]]) -> bool:
    if len(prompts) < BULK_PROMPTS:
        return False
    shared = sum(shared_prefix(prompts[0], p) for p in prompts[1:]) / (len(prompts) - 1)
    return shared < len(prompts[0]) / 2


def gpu_visible() -> bool:
    """Whether ``device: auto`` would pick a GPU, judged from the driver's traces (torch is not asked)."""
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return True  # Apple silicon: MPS
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/kfd")


def engine_for(settings: ModelSettings, directory: Path) -> str | None:
    """Why ``directory`` must be loaded with transformers under ``settings`` (``None``: NumPy will do).

    Raises:
        ModelError: ``model.engine`` is ``numpy`` but this model or these settings need transformers.
    """
    reasons = []
    if settings.engine == "transformers":
        return "model.engine is transformers"
    if settings.device not in ("auto", "cpu") or (settings.device == "auto" and gpu_visible()):
        reasons.append("a GPU is used")
    if settings.dtype not in ("auto", "float32"):
        reasons.append(f"dtype {settings.dtype}")
    if settings.device_map or settings.attn_implementation != "auto":
        reasons.append("a device map or attention kernel is set")
    config = directory / "config.json"
    reason = unsupported(_json(config)) if config.is_file() else "no config.json"
    reasons += [r for r in (reason, tokenizer_unsupported(directory)) if r]
    if not any(directory.glob("*.safetensors")):
        reasons.append("no safetensors weights")
    if reasons and settings.engine == "numpy":
        raise ModelError(
            f"model.engine is numpy, but {directory} needs transformers: {'; '.join(reasons)}",
            "set model.engine to auto (or transformers)",
        )
    return "; ".join(reasons) or None


def _json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` if it is absent or unreadable (the engine then declines,
    and transformers' load reports the file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object) -> str:
    """A special token as transformers stores it: a string, or an AddedToken dict with its content."""
    return str(value["content"]) if isinstance(value, dict) else str(value)
