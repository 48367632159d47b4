"""The intent guard: a rewrite must keep what the eval tests.

Three checks, cheapest first: every protected text (``--keep``) survives verbatim or, failing that,
some sentence of the rewrite means the same (embedding similarity); the rewrite keeps the
original's meaning; and, when an LLM judge is configured, the judge agrees the eval's intent is
intact. A rejected candidate is kept in the history with the reason.

"Keeps the meaning" is the larger of two embedding similarities: the whole texts' cosine, and the
*recall* of the original's sentences (each matched to its closest sentence in the rewrite, averaged
by length). Recall is there because the rubric's own fix for missing context is to *add* context: a
short request wrapped in two sentences of background drifts as a whole yet still says everything
the original said, while a rewrite that drops or changes what was asked scores low on both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from evalrefine.core.attribution.spans import text_bounds
from evalrefine.core.refine.rewriting import Usage


class Embedder(Protocol):
    """Sentence embeddings for semantic similarity (a local model; no network)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""
        ...


@dataclass(frozen=True)
class JudgeVerdict:
    keeps_intent: bool
    reason: str
    usage: Usage = field(default_factory=Usage)


class Judge(Protocol):
    """An LLM that decides whether a rewrite still tests what the original tests."""

    def judge(self, original: str, candidate: str) -> JudgeVerdict:
        """The verdict with a one-sentence reason."""
        ...


@dataclass(frozen=True)
class GuardVerdict:
    accepted: bool
    reason: str
    similarity: float | None = None
    usage: Usage = field(default_factory=Usage)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in text_bounds(text, "sentence")] or [text]


def _recall(texts: Sequence[str], vectors: Sequence[Sequence[float]], targets: Sequence[Sequence[float]]) -> float:
    """Length-weighted mean, over ``texts``, of the best cosine to any of ``targets``."""
    weights = [len(t) for t in texts]
    best = [max(cosine(v, t) for t in targets) for v in vectors]
    return math.fsum(w * b for w, b in zip(weights, best, strict=True)) / max(sum(weights), 1)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norm if norm else 0.0


@dataclass(frozen=True)
class IntentGuard:
    protected: tuple[str, ...] = ()
    embedder: Embedder | None = None
    judge: Judge | None = None
    min_similarity: float = 0.7
    """Smallest cosine similarity between the original and the rewrite."""
    protected_similarity: float = 0.85
    """Smallest similarity for a protected text that did not survive verbatim to count as kept."""

    def check(self, original: str, candidate: str) -> GuardVerdict:
        if not candidate.strip():
            return GuardVerdict(False, "the rewrite is empty")
        missing = [p for p in self.protected if p not in candidate]
        if missing and self.embedder is None:
            return GuardVerdict(False, f"dropped protected text {missing[0]!r}")
        similarity = None
        if self.embedder is not None:
            pieces = _sentences(candidate)
            originals = _sentences(original)
            vectors = self.embedder.embed([original, candidate, *missing, *pieces, *originals])
            piece_vectors = vectors[2 + len(missing) : 2 + len(missing) + len(pieces)]
            recall = _recall(originals, vectors[-len(originals) :], piece_vectors)
            similarity = max(cosine(vectors[0], vectors[1]), recall)
            for i, text in enumerate(missing):
                best = max(cosine(vectors[2 + i], v) for v in piece_vectors)
                if best < self.protected_similarity:
                    return GuardVerdict(
                        False, f"dropped protected text {text!r} (closest sentence {best:.2f})", similarity
                    )
            if similarity < self.min_similarity:
                return GuardVerdict(
                    False, f"meaning drifted (similarity {similarity:.2f} < {self.min_similarity})", similarity
                )
        if self.judge is not None:
            verdict = self.judge.judge(original, candidate)
            if not verdict.keeps_intent:
                return GuardVerdict(False, f"judge: {verdict.reason}", similarity, verdict.usage)
            return GuardVerdict(True, f"judge: {verdict.reason}", similarity, verdict.usage)
        return GuardVerdict(True, "kept protected text and meaning", similarity)
