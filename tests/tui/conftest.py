"""TUI tests run on asyncio through anyio's pytest plugin (anyio ships with httpx/openai), on a
tiny real model, with the real embedder for the refine guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from evalrefine.core.session import Session


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def make_session() -> Callable[[object], Session]:
    from evalrefine.backends.embedder import SentenceTransformerEmbedder
    from evalrefine.backends.factories import services_for
    from evalrefine.backends.hf_local import HFLocalBackend
    from tests.tiny import TEMPLATES, tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(TEMPLATES["plain"])
    backend = HFLocalBackend(tiny_model(len(tok)), tok, "tiny")
    embedder = SentenceTransformerEmbedder()
    return lambda settings: Session(settings, backend, None, replace(services_for(settings), embedder=lambda: embedder))  # type: ignore[arg-type]
