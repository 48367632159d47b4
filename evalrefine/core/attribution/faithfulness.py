"""Should this explanation be trusted? The deletion curve.

Delete the k highest-ranked spans and re-score, against deleting k random spans (averaged over a
few draws). A faithful ranking lowers the score faster than chance; an unfaithful one does not, and
the front ends say so next to the heatmap.
"""

from __future__ import annotations

import numpy as np

from evalrefine.core.attribution.base import Attribution, DeletionCurve
from evalrefine.core.attribution.spans import delete_spans
from evalrefine.core.attribution.target import Target
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor


def deletion_curve(
    monitor: StartOfCotMonitor,
    target: Target,
    conversation: Conversation,
    attribution: Attribution,
    max_k: int = 3,
    draws: int = 3,
    seed: int = 0,
) -> DeletionCurve:
    spans = [s.span for s in attribution.ranked()]
    ks = tuple(range(min(max_k, len(spans)) + 1))
    rng = np.random.default_rng(seed)
    random_sets = [[rng.permutation(len(spans))[:k] for _ in range(draws)] for k in ks[1:]]
    variants = [conversation, *[delete_spans(conversation, spans[:k]) for k in ks[1:]]]
    for sets in random_sets:
        variants += [delete_spans(conversation, [spans[i] for i in idx]) for idx in sets]
    values = [target.value(r) for r in monitor.score_many(variants, allow_empty=True)]
    top = tuple(values[: len(ks)])
    rest = values[len(ks) :]
    random = (values[0], *[float(np.mean(rest[i * draws : (i + 1) * draws])) for i in range(len(ks) - 1)])
    return DeletionCurve(ks, top, random)
