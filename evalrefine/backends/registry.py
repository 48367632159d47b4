"""Turn a model name from the settings into a loaded backend.

Names, in the order they are tried: the embedded model's aliases; a path to a ``.gguf`` file; a
local directory; a Hugging Face id already in the local hub cache; and only then the hub itself
(unless ``HF_HUB_OFFLINE`` is set). Nothing is fetched unless the user names a hub model.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from evalrefine.config import ModelSettings
from evalrefine.core.scoring.protocols import ScoringBackend
from evalrefine.errors import ModelError

if TYPE_CHECKING:  # imports torch: only when a model loads on transformers
    from evalrefine.backends.hf_local import HFLocalBackend


def load_backend(
    settings: ModelSettings, cache_dir: Path, on_status: Callable[[str], None] | None = None
) -> ScoringBackend:
    from evalrefine.backends import embedded, gguf

    name = settings.name
    if settings.server:
        return _remote(settings, cache_dir, on_status)

    def load(
        source: str | Path, display: str | None = None, local_files_only: bool = True, identity: str | None = None
    ) -> ScoringBackend:
        def with_transformers() -> HFLocalBackend:
            from evalrefine.backends.hf_local import HFLocalBackend  # torch: only once it is needed

            return HFLocalBackend.load(
                source,
                name=display,
                device=settings.device,
                dtype=settings.dtype,
                device_map=settings.device_map,
                attn_implementation=settings.attn_implementation,
                local_files_only=local_files_only,
                identity=identity,
            )

        if local_files_only and Path(source).is_dir():
            _check_config(Path(source))
            fast = _numpy_engine(settings, Path(source), display or str(source), identity, with_transformers)
            if fast is not None:
                return fast
        return with_transformers()

    if name in embedded.ALIASES:
        converted = gguf.ensure_converted(embedded.find_embedded_gguf(), cache_dir, on_status)
        return load(converted, embedded.DISPLAY_NAME, identity=gguf.gguf_identity(converted))
    path = Path(name).expanduser()
    if name.lower().endswith(".gguf"):
        converted = gguf.ensure_converted(path, cache_dir, on_status)
        return load(converted, path.name, identity=gguf.gguf_identity(converted))
    if path.is_dir():
        return load(path, name)
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(
            f"unknown model {name!r}: not a model directory, a .gguf file or a Hugging Face id",
            "give 'embedded', a local model directory, a .gguf file, or an id like org/name",
        )
    if in_hub_cache(name):  # known before torch is imported: an offline miss fails at once
        with contextlib.suppress(ModelError):  # cached but incomplete: fetched again below, as if absent
            return load(name)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelError(
            f"unknown model {name!r}: not in the local Hugging Face cache and HF_HUB_OFFLINE=1",
            "download it first, or give a local directory or .gguf file",
        )
    if not hub_reachable():  # without this the hub client retries a dead network for about 48 s
        raise ModelError(
            f"unknown model {name!r}: not in the local Hugging Face cache, and the hub cannot be reached",
            "download it on a machine with a network, or give a local directory or .gguf file",
        )
    if on_status:
        on_status(f"Fetching {name} from the Hugging Face hub…")
    return load(name, local_files_only=False)


def _check_config(directory: Path) -> None:
    """A model folder's ``config.json`` must be a JSON object: said in one line, before either engine
    reads it (transformers' own errors for it are tracebacks)."""
    import json

    config = directory / "config.json"
    if not config.is_file():
        return
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"cannot read {config}: {exc}", "restore the model's config.json (or re-download it)"
        ) from None
    if not isinstance(data, dict):
        raise ModelError(f"{config} is not a JSON object", "restore the model's config.json (or re-download it)")


def _numpy_engine(
    settings: ModelSettings,
    directory: Path,
    name: str,
    identity: str | None,
    fallback: Callable[[], HFLocalBackend],
) -> ScoringBackend | None:
    """The NumPy engine for ``directory`` where ``model.engine`` and the model allow it, else ``None``."""
    from evalrefine.backends.identity import directory_identity
    from evalrefine.backends.numpy_backend import NumpyBackend, engine_for

    if engine_for(settings, directory) is not None:
        return None
    try:
        return NumpyBackend.load(directory, name, identity or directory_identity(directory), fallback)
    except ValueError as exc:  # e.g. bfloat16 weights, which NumPy cannot hold
        if settings.engine == "numpy":
            raise ModelError(
                f"model.engine is numpy, but {directory} needs transformers: {exc}",
                "set model.engine to auto (or transformers)",
            ) from None
        return None


def in_hub_cache(name: str) -> bool:
    """Whether the local hub cache holds ``name``'s config (a cheap look, no torch, no network)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name, "config.json"), str)


def hub_reachable(timeout: float = 1.5) -> bool:
    """One TCP connection to the hub's endpoint (``HF_ENDPOINT`` or the default), at most ``timeout``
    seconds: an offline machine learns it in that time instead of after the hub client's retries."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def load_tokenizer(name: str, cache_dir: Path, on_status: Callable[[str], None] | None = None) -> tuple[object, str]:
    """``(tokenizer, identity)`` from local files: ``embedded``, a ``.gguf`` file, a directory or a cached hub id."""
    from transformers import AutoTokenizer

    from evalrefine.backends import embedded, gguf
    from evalrefine.backends.hf_local import quiet_transformers
    from evalrefine.backends.identity import directory_identity

    quiet_transformers()
    if name in embedded.ALIASES or name.lower().endswith(".gguf"):
        source = embedded.find_embedded_gguf() if name in embedded.ALIASES else Path(name).expanduser()
        directory = gguf.ensure_converted(source, cache_dir, on_status)
        identity = gguf.gguf_identity(directory)
    else:
        directory = Path(name).expanduser()
        identity = directory_identity(directory) if directory.is_dir() else f"hub:{name}"
    try:
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True), identity
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"cannot load the tokenizer {name!r}: {first}", "give --tokenizer a local model directory or .gguf file"
        ) from None


def _remote(settings: ModelSettings, cache_dir: Path, on_status: Callable[[str], None] | None) -> ScoringBackend:
    from evalrefine.backends.remote import RemoteBackend

    assert settings.server is not None
    tokenizer, identity = load_tokenizer(settings.tokenizer or settings.name, cache_dir, on_status)
    key = settings.api_key.get_secret_value() if settings.api_key else None
    return RemoteBackend(
        settings.server, settings.name, tokenizer, identity, settings.concurrency, settings.timeout, key
    )
