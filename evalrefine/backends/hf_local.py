"""A local transformers model as a scoring backend.

Loading, device and dtype choice, chat rendering and tokenization live here; the scoring itself
is in :mod:`evalrefine.backends.torch_scoring`. Only backend modules import torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from evalrefine.backends.hf_tokenizer import HFChatTokenizer
from evalrefine.backends.identity import directory_identity, weights_fingerprint
from evalrefine.backends.load_lock import one_at_a_time
from evalrefine.backends.torch_scoring import Strategy, score_continuations, score_variants, token_saliency
from evalrefine.errors import ModelError


def resolve_device(setting: str) -> str:
    """``auto`` → cuda, then mps, then cpu; an explicit choice is checked."""
    if setting == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but no CUDA GPU is visible", "use --device cpu or auto")
    if setting == "mps" and not torch.backends.mps.is_available():
        raise ModelError("device 'mps' was asked for but MPS is not available", "use --device cpu or auto")
    return setting


def resolve_dtype(setting: str, device: str) -> torch.dtype:
    """``auto`` keeps float32 on the CPU (exact scores) and uses bfloat16 on GPUs that support it."""
    if setting == "auto":
        if device == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[setting]


def quiet_transformers() -> None:
    """transformers prints progress bars and advice on load; the front ends show their own progress."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _first_sentence(exc: BaseException) -> str:
    """transformers' attention errors run to several sentences of advice on one line."""
    line = _first_line(exc)
    return line.split(". ")[0].rstrip(".")


def _about_attention(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("attn", "attention", "sdpa", "flash"))


class HFLocalBackend(HFChatTokenizer):
    """A causal LM and its tokenizer, loaded with transformers."""

    def __init__(
        self, model: Any, tokenizer: Any, name: str, strategy: Strategy | None = None, identity: str | None = None
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._name = name
        self.strategy = strategy
        """Scoring strategy (see torch_scoring); ``None`` picks the fastest the model supports."""
        self._identity = identity

    @property
    def fingerprint(self) -> str:
        """The weights identity (given at load time, else a hash of the parameters for in-memory
        models) combined with the dtype and the attention kernel actually in use: bfloat16 and
        float32 scores differ by up to ~0.6 nats, and kernels differ in rounding, so scores cached or
        placed in a reference under one must never be reused under another."""
        if self._identity is None:
            digest = hashlib.sha256()
            for name, tensor in sorted(self.model.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().float().cpu().numpy().tobytes())
            self._identity = digest.hexdigest()
        dtype = str(self.model.dtype).removeprefix("torch.")
        attn = getattr(self.model.config, "_attn_implementation", None) or "default"
        return weights_fingerprint(self._identity, dtype, attn)

    @classmethod
    @one_at_a_time  # transformers patches process-wide state while it loads (backends/load_lock.py)
    def load(
        cls,
        source: str | Path,
        *,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        local_files_only: bool = True,
        identity: str | None = None,
        device_map: str | None = None,
        attn_implementation: str = "auto",
    ) -> HFLocalBackend:
        """Load from a local directory (or a hub id when ``local_files_only`` is False).
        ``attn_implementation`` other than ``auto`` is passed to transformers as is."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet_transformers()
        dev = resolve_device(device)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=local_files_only)
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"cannot load model {source!s}: {_first_line(exc)}", "check the model name or path"
            ) from None
        extra: dict[str, Any] = {"device_map": device_map} if device_map else {}
        if attn_implementation != "auto":
            extra["attn_implementation"] = attn_implementation
        try:
            model, loading = AutoModelForCausalLM.from_pretrained(
                str(source),
                local_files_only=local_files_only,
                dtype=resolve_dtype(dtype, dev),
                output_loading_info=True,
                **extra,
            )
        except (OSError, ValueError, ImportError) as exc:
            if attn_implementation != "auto" and _about_attention(exc):
                raise ModelError(
                    f"attention implementation {attn_implementation!r} is not available for {source!s}: "
                    f"{_first_sentence(exc)}",
                    "set model.attn_implementation to 'auto' (or 'eager', which every model supports)",
                ) from None
            raise ModelError(
                f"cannot load model {source!s}: {_first_line(exc)}", "check the model name or path"
            ) from None
        missing = sorted(loading.get("missing_keys") or ())  # transformers would fill them with random values
        if missing or any(p.is_meta for p in model.parameters()):  # never score with weights the file did not hold
            named = f" ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''})" if missing else ""
            raise ModelError(
                f"cannot load model {source!s}: its checkpoint is missing weights{named}",
                "delete that folder and run again (a converted GGUF is converted again; a hub model, downloaded again)",
            )
        if identity is None and Path(source).is_dir():
            identity = directory_identity(Path(source))
        if identity is None:
            identity = f"hub:{source}@{getattr(model.config, '_commit_hash', None) or 'unknown'}"
        placed = model if device_map else model.to(dev)  # a device map has placed every layer already
        return cls(placed, tokenizer, name or str(source), identity=identity)

    @property
    def context_length(self) -> int:
        n = getattr(self.model.config, "max_position_embeddings", None)
        return int(n) if n else int(self.tokenizer.model_max_length)

    # -- ContinuationScorer ----------------------------------------------------------------------
    def score_continuations(self, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
        return score_continuations(self.model, prefix, continuations, self.strategy)

    def score_variants(
        self, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]]
    ) -> list[list[list[float]]]:
        return score_variants(self.model, prompts, continuations, self.strategy)

    def on_layer(self, check: Callable[[], None]) -> None:
        """Run ``check`` before the model and before each of its layers in every forward pass (it
        raises to stop a cancelled job inside a pass instead of after it)."""

        def hook(*_: object) -> None:
            check()

        self.model.register_forward_pre_hook(hook)
        for stack in (m for m in self.model.modules() if isinstance(m, torch.nn.ModuleList)):
            for layer in stack:
                layer.register_forward_pre_hook(hook)

    # -- GradientScorer --------------------------------------------------------------------------
    def token_saliency(
        self,
        prompt_text: str,
        prompt_ids: Sequence[int],
        continuations: Sequence[Sequence[int]],
        weights: Callable[[list[list[float]]], Sequence[float]],
    ) -> tuple[list[tuple[int, int, float]], list[list[float]]]:
        scores, logprobs = token_saliency(self.model, prompt_ids, continuations, weights)
        offsets = self.token_offsets(prompt_text, prompt_ids)
        return [(s, e, v) for (s, e), v in zip(offsets, scores, strict=True)], logprobs

    def token_offsets(self, text: str, ids: Sequence[int]) -> list[tuple[int, int]]:
        """Character range of each token of ``text`` (whose tokens are ``ids``)."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        if list(enc["input_ids"]) == list(ids):
            return [(int(s), int(e)) for s, e in enc["offset_mapping"]]
        # Fallback: walk the decoded pieces (byte-level tokens may split a character).
        spans, pos = [], 0
        for i in range(len(ids)):
            piece_end = len(self.tokenizer.decode(list(ids[: i + 1])))
            spans.append((pos, max(pos, piece_end)))
            pos = max(pos, piece_end)
        return spans
