"""The ablation surrogate (the ContextCite idea) for prompts with many spans.

Score M random ablations (each span kept with probability 1/2, one scoring pass each), then fit a
sparse linear model ``target ≈ b + Σ w_j · kept_j`` by the Lasso; ``w_j`` is span j's effect. With
M well below N this is cheaper than leave-one-out, and it sees interactions LOO cannot (a span
that matters only together with another). Coordinate-descent Lasso in numpy keeps the core light.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evalrefine.core.attribution.base import Attribution, SpanEffect
from evalrefine.core.attribution.spans import Span, delete_spans
from evalrefine.core.attribution.target import Target
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor


def lasso(
    x: NDArray[np.float64], y: NDArray[np.float64], alpha: float, iters: int = 2000
) -> tuple[NDArray[np.float64], float]:
    """Minimise ``||y − Xw − b||² / (2n) + alpha·||w||₁`` (scikit-learn's ``Lasso`` objective)."""
    n, d = x.shape
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc, yc = x - x_mean, y - y_mean
    norms = (xc**2).sum(axis=0) / n
    w = np.zeros(d)
    residual = yc.copy()
    for _ in range(iters):
        largest = 0.0
        for j in range(d):
            if norms[j] == 0:
                continue
            old = w[j]
            rho = xc[:, j] @ residual / n + norms[j] * old
            w[j] = np.sign(rho) * max(abs(rho) - alpha, 0.0) / norms[j]
            if w[j] != old:
                residual -= xc[:, j] * (w[j] - old)
                largest = max(largest, abs(w[j] - old))
        if largest < 1e-10:
            break
    return w, float(y_mean - x_mean @ w)


def ablation_masks(n_spans: int, n_samples: int, seed: int) -> NDArray[np.bool_]:
    """Random keep-masks (True = span kept), each span kept with probability 1/2."""
    rng = np.random.default_rng(seed)
    return rng.random((n_samples, n_spans)) < 0.5


@dataclass(frozen=True)
class AblationSurrogate:
    monitor: StartOfCotMonitor
    target: Target
    n_samples: int | None = None
    """Ablations to score; default ``min(256, max(32, 2·N))``."""
    alpha: float = 0.01
    seed: int = 0
    name: str = "ablation"

    def attribute(self, conversation: Conversation, spans: Sequence[Span]) -> Attribution:
        m = self.n_samples or min(256, max(32, 2 * len(spans)))
        masks = ablation_masks(len(spans), m, self.seed)
        variants = [conversation] + [
            delete_spans(conversation, [s for s, keep in zip(spans, row, strict=True) if not keep]) for row in masks
        ]
        results = self.monitor.score_many(variants, allow_empty=True)
        values = np.array([self.target.value(r) for r in results])
        w, _ = lasso(masks.astype(np.float64), values[1:], self.alpha)
        effects = tuple(SpanEffect(s, float(e)) for s, e in zip(spans, w, strict=True))
        return Attribution(self.name, self.target.name, self.target.units, float(values[0]), effects, m)
