"""Model loads in several threads at once give complete models (the TUI loads its embedder in a
worker while other work may load a model): transformers patches process-wide attributes during
a load, so evalrefine holds one lock around each (:mod:`evalrefine.backends.load_lock`)."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from evalrefine.backends.hf_local import HFLocalBackend
from tests.tiny import TEMPLATES, save_tiny


def test_concurrent_loads_tie_their_weights_and_agree(tmp_path: Path) -> None:
    source = save_tiny(tmp_path / "tiny", TEMPLATES["plain"])
    loaded: list[HFLocalBackend] = []
    barrier = threading.Barrier(4)

    def load() -> None:
        barrier.wait()
        loaded.append(HFLocalBackend.load(source, name="tiny"))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(loaded) == 4
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        logits = [b.model(ids).logits for b in loaded]
    for backend, out in zip(loaded, logits, strict=True):
        assert not any(p.is_meta for p in backend.model.parameters())
        assert torch.equal(out, logits[0])
