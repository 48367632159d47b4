"""A key for a model's monitor identity that is computed without loading the model.

The monitor's identity (weights, dtype, attention kernel, chat template, opener, BOS policy,
rendered probe; see :attr:`evalrefine.core.scoring.monitor.StartOfCotMonitor.identity`) keys every cached
score, but computing it means loading the model: 6-13 s, most of it importing torch and
transformers. A re-lint whose scores are all cached needs nothing else, so the identity is stored in
the score cache under :func:`identity_stamp`, a hash of everything it is a function of:

- every model file's path, size and ``mtime_ns`` (a directory's files, a GGUF file and its converted
  checkpoint): a replaced, edited or merely touched file gives a new key, so the model is loaded again;
- the settings that enter the identity: dtype, device, device map, attention kernel, opener, template date;
- what resolves ``auto`` without torch being asked: the platform and whether a GPU driver is visible;
- the versions of the libraries that load and render the model, and the stamps of evalrefine's own
  modules that compute the identity (an edited formula must not reuse an identity stored by the old one).

A model that cannot be stamped without loading it (a hub id, a ``--server``, a GGUF not converted
yet, a missing file) has no key: it is loaded as before. No module here imports torch or transformers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path

from evalrefine.config import Settings
from evalrefine.errors import EvalRefineError

STAMP_VERSION = 1

_PACKAGES = ("evalrefine", "torch", "transformers", "tokenizers", "jinja2", "safetensors", "numpy")
"""Libraries whose version can change a loaded model's identity (kernels, templates, tokenization)."""

_CODE = (
    "core/scoring/monitor.py",
    "core/scoring/template.py",
    "backends/embedded.py",
    "backends/gguf.py",
    "backends/hf_local.py",
    "backends/hf_tokenizer.py",
    "backends/identity.py",
    "backends/numpy_backend.py",
    "backends/numpy_llama.py",
    "backends/registry.py",
    "backends/stamps.py",
)
"""evalrefine's modules that load a model or compute its identity (paths under the package)."""


def identity_stamp(settings: Settings) -> str | None:
    """A hash of everything the monitor identity of ``settings``' model depends on, or ``None``
    when that cannot be known without loading the model."""
    model = settings.model
    if model.server:
        return None
    try:
        files = _model_files(model.name, settings.cache_dir)
    except (OSError, EvalRefineError):  # a missing package or file: loading reports it properly
        return None
    if files is None:
        return None
    parts = {
        "version": STAMP_VERSION,
        "files": files,
        "model": [model.name, model.engine, model.device, model.dtype, model.device_map, model.attn_implementation],
        "monitor": [settings.monitor.cot_opener, settings.monitor.template_date],
        "machine": _machine(model.device),
        "packages": [_version(p) for p in _PACKAGES],
        "code": [_stamp(Path(__file__).resolve().parents[1] / rel) for rel in _CODE],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _model_files(name: str, cache_dir: Path) -> list[list[object]] | None:
    """Stamps of every file the model is loaded from, resolved the way the registry resolves ``name``."""
    from evalrefine.backends import embedded, gguf

    if name in embedded.ALIASES or name.lower().endswith(".gguf"):
        source = embedded.find_embedded_gguf() if name in embedded.ALIASES else Path(name).expanduser()
        if not source.is_file():
            return None
        sha = gguf.known_sha256(source, cache_dir)
        if sha is None:
            return None  # never hashed as it is now: the first load hashes (and stamps) it
        converted = gguf.conversion_dir(source, cache_dir, sha)
        if not (converted / gguf.MARKER).is_file():
            return None  # converted (and stamped) by the first load
        return [_stamp(source), *_directory(converted)]
    path = Path(name).expanduser()
    if path.is_dir():
        return _directory(path)
    return None  # a hub id: its files are found by the hub client, so it is loaded as before


def _directory(root: Path) -> list[list[object]]:
    """Stamps of the files under a model directory (weights, config, tokenizer, chat template),
    hidden folders aside; a symlinked file (a hub snapshot) is stamped at its target."""
    found = []
    for folder, dirs, names in os.walk(root.resolve()):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [_stamp(Path(folder) / n) for n in sorted(names)]
    return found


def _stamp(path: Path) -> list[object]:
    st = path.stat()
    target = os.path.realpath(path) if path.is_symlink() else ""
    return [str(path), target, st.st_size, st.st_mtime_ns]


def _version(package: str) -> str:
    try:
        return f"{package}=={importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{package} absent"


def _machine(device: str) -> list[object]:
    """What ``device``/``dtype`` ``auto`` resolve to depends on the GPU: its visible traces, not torch."""
    if device == "cpu":
        return ["cpu"]
    return [
        sys.platform,
        platform.machine(),
        os.path.exists("/proc/driver/nvidia/version"),
        os.environ.get("CUDA_VISIBLE_DEVICES"),
        os.environ.get("HIP_VISIBLE_DEVICES"),
    ]
