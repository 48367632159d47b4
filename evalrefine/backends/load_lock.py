"""One model load at a time in a process.

transformers builds a model by patching process-wide attributes for the duration of a load
(``PreTrainedModel.tie_weights`` and ``init_weights`` replaced by no-ops, torch's init functions
too; see ``transformers.initialization``). Two loads in two threads interleave those patches: one
model's tied embeddings are never tied and stay on the meta device, and a restore can leave the
no-op in place for every later load in the process. The TUI loads the intent guard's embedder in a
worker thread while other work may load a model, so every load in evalrefine holds this lock.
"""

from __future__ import annotations

import threading

MODEL_LOAD_LOCK = threading.RLock()
"""Held around every ``from_pretrained`` / ``SentenceTransformer(...)`` / model construction."""
