"""TUI tests run on asyncio through anyio's pytest plugin (anyio ships with httpx/openai)."""

from __future__ import annotations

import pytest


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"
