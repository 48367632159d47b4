"""The Python API: open a :class:`~evalrefine.core.session.Session` on the configured model.

``open_session`` is the one place that loads a backend and wires the heavy collaborators (rewriter,
embedder, sampler, judge) into the headless session; the CLI and the TUI open theirs the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalrefine.config import Settings, load_settings
from evalrefine.core.session import Session, reference_store


def open_session(
    settings: Settings | None = None, on_status: Callable[[str], None] | None = None, **overrides: Any
) -> Session:
    """A session on ``settings`` (default: the configuration files and environment, with ``overrides``
    given as settings sections, e.g. ``monitor={"sentences": [...]}``). Loading the model is the slow part;
    ``on_status`` hears what it is doing."""
    from evalrefine.backends.factories import services_for
    from evalrefine.backends.registry import load_backend

    settings = settings or load_settings(**overrides)
    backend = load_backend(settings.model, settings.cache_dir, on_status=on_status)
    return Session(settings, backend, reference_store(settings), services_for(settings))
