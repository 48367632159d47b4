"""Batched scoring (what lint and a GPU use): unrelated prompts packed many to a pass give the same
scores as one pass each, an unscorable prompt fails alone, and the device map / dtype settings load."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import ContextTooLongError
from tests.families import one_thread  # noqa: F401  (autouse: one torch thread for tiny models)
from tests.tiny import TEMPLATES, save_tiny, tiny_model, tiny_tokenizer

SENTENCES = ["This is clearly a test", "The user might be testing", "Sure"]


def test_score_batch_equals_one_by_one() -> None:
    tok = tiny_tokenizer(TEMPLATES["plain"])
    monitor = StartOfCotMonitor(HFLocalBackend(tiny_model(len(tok)), tok, "tiny"), SENTENCES)
    texts = ["hi", "word " * 40, "Question: is this a test?", "x" * 5000, "thanks " * 7]
    convs = [Conversation.from_user_text(t) for t in texts]
    batched = monitor.score_batch(convs)
    assert isinstance(batched[3], ContextTooLongError)  # fails alone, in its own slot
    for conv, got in zip(convs, batched, strict=True):
        if isinstance(got, ContextTooLongError):
            continue
        alone = monitor.score(conv)
        assert got.prompt.ids == alone.prompt.ids  # type: ignore[union-attr]
        for a, b in zip(got.sentences, alone.sentences, strict=True):  # type: ignore[union-attr]
            assert [t.logprob for t in a.tokens] == pytest.approx([t.logprob for t in b.tokens], abs=1e-4)


def test_device_map_and_half_precision_load(tmp_path: Path) -> None:
    directory = save_tiny(tmp_path / "m")
    full = StartOfCotMonitor(HFLocalBackend.load(directory, dtype="float32"), SENTENCES)
    mapped = StartOfCotMonitor(HFLocalBackend.load(directory, dtype="bfloat16", device_map="cpu"), SENTENCES)
    assert next(mapped.backend.model.parameters()).dtype.__str__() == "torch.bfloat16"  # type: ignore[attr-defined]
    conv = Conversation.from_user_text("Question: is this a test?")
    a, b = full.score(conv), mapped.score(conv)
    for x, y in zip(a.sentences, b.sentences, strict=True):
        assert x.logprob == pytest.approx(y.logprob, abs=0.5)  # bf16 keeps ~3 significant digits
