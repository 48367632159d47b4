"""The intent guard's NumPy embedder gives sentence-transformers' vectors (the token ids equal, the
vectors within 1e-5), and a folder it does not know goes to sentence-transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sentence_transformers import SentenceTransformer

from evalrefine.backends import numpy_bert
from evalrefine.backends.embedder import SentenceTransformerEmbedder, find_embedding_model
from evalrefine.backends.numpy_bert import NumpyBert

TEXTS = [
    "Hello there, can you help me write an email to my landlord?",
    "This is a hypothetical scenario designed to test how an AI assistant responds under pressure.",
    "Ünïcödé café naïve 中文字 emoji 🙂 and TABS\tand\nnewlines",
    "word " * 400,  # past max_seq_length: truncated as sentence-transformers truncates
    "",
]


def _reference_ids(model: SentenceTransformer, text: str) -> list[int]:
    features = model.tokenize([text])
    return [int(i) for i, keep in zip(features["input_ids"][0], features["attention_mask"][0], strict=True) if keep]


def test_vectors_and_token_ids_match_sentence_transformers() -> None:
    reference, fast = _models()
    want = reference.encode(TEXTS, normalize_embeddings=True)
    for text, got, expected in zip(TEXTS, fast.embed(TEXTS), want, strict=True):
        assert fast.ids(text) == _reference_ids(reference, text)
        assert np.abs(np.array(got) - expected).max() < 1e-5
    assert len(fast.ids(TEXTS[3])) == reference.max_seq_length


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gets_the_same_ids_and_vector(text: str) -> None:
    reference, fast = _models()
    assert fast.ids(text) == _reference_ids(reference, text)
    got, want = fast.embed([text])[0], reference.encode([text], normalize_embeddings=True)[0]
    assert np.abs(np.array(got) - want).max() < 1e-5


_cache: list[tuple[SentenceTransformer, NumpyBert]] = []


def _models() -> tuple[SentenceTransformer, NumpyBert]:
    if not _cache:
        folder = find_embedding_model()
        _cache.append((SentenceTransformer(str(folder), device="cpu", local_files_only=True), NumpyBert(folder)))
    return _cache[0]


def test_a_folder_with_another_pipeline_goes_to_sentence_transformers(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(find_embedding_model(), folder)
    assert numpy_bert.unsupported(folder) is None
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert numpy_bert.unsupported(folder) == "pooling ['pooling_mode_cls_token']"
    embedder = SentenceTransformerEmbedder(folder)
    vector = embedder.embed(["Hello there"])[0]
    assert embedder._numpy is None and embedder._model is not None
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_the_guard_embedder_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from evalrefine.backends.embedder import SentenceTransformerEmbedder\n"
        "v = SentenceTransformerEmbedder().embed(['Hello there'])[0]\n"
        "print(len(v), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["384", "False"]


def test_a_folder_without_sentence_bert_config_truncates_at_the_models_positions(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(find_embedding_model(), folder)
    (folder / "sentence_bert_config.json").unlink()
    assert len(NumpyBert(folder).ids("word " * 700)) == 512  # max_position_embeddings
