"""One model load at a time in a process.

transformers builds a model by patching process-wide attributes for the duration of a load
(``PreTrainedModel.tie_weights`` and ``init_weights`` replaced by no-ops, torch's init functions
too; see ``transformers.initialization``). Two loads in two threads interleave those patches: one
model's tied embeddings are never tied and stay on the meta device, and a restore can leave the
no-op in place for every later load in the process. The TUI loads the intent guard's embedder in a
worker thread while other work may load a model, so every load in evalrefine holds this lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

MODEL_LOAD_LOCK = threading.RLock()
"""Held around every ``from_pretrained`` / ``SentenceTransformer(...)`` / model construction."""

P = ParamSpec("P")
R = TypeVar("R")


def one_at_a_time(load: Callable[P, R]) -> Callable[P, R]:
    """``load`` run while holding :data:`MODEL_LOAD_LOCK`."""

    @functools.wraps(load)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with MODEL_LOAD_LOCK:
            return load(*args, **kwargs)

    return locked
