"""AUROC as a function of the number of rollouts K, for the rollout monitor and the verbalization
monitor (the seed study's Figure 2), with what each costs.

Every prompt gets ``K_max`` seeded rollouts once; the K-rollout monitors use the first K of them,
so the curve is one sample, not K_max separate ones, and K = 0 is exactly the start-of-CoT
monitor. Sampling is the slow part, so :func:`sample_prompts` is a generator (one small frozen
result per prompt, a cancel event checked between prompts) that front ends drive with progress.

Cost is counted in forward-token equivalents (one token through the model once; with a KV cache a
generated token costs about one):

* rollout monitor at K: the start score (prompt + forced sentences), plus per rollout the tokens
  generated and its re-read for the boundary scores (rollout tokens + forced sentence tokens at
  each boundary);
* verbalization monitor at K: the prompt plus the tokens generated; the judge's own cost (an LLM's
  tokens, or nothing for the pattern detector) is reported separately in its usage.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from evalrefine.core.attribution.target import Target
from evalrefine.core.calibration.metrics import auroc, bootstrap_auroc_ci
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.refine.rewriting import Usage
from evalrefine.core.rollouts.monitor import Sampler, sample_rollouts
from evalrefine.core.rollouts.verbalization import VerbalizationJudge, verbalization_rate
from evalrefine.core.scoring.monitor import StartOfCotMonitor


@dataclass(frozen=True)
class PromptRollouts:
    """One prompt's rollouts, reduced to what the curves need."""

    index: int
    is_eval: bool
    start: float
    peaks: tuple[float, ...]
    """Per rollout, the peak of the target over its sentence boundaries."""
    verbalized: tuple[bool | None, ...]
    """Per rollout, the judge's verdict (``None``: unjudged)."""
    prompt_tokens: int
    start_tokens: int
    """Forward tokens of the start-of-CoT score: the prompt plus every forced sentence."""
    generated: tuple[int, ...]
    """Per rollout, tokens generated."""
    rescored: tuple[int, ...]
    """Per rollout, forward tokens of its boundary scores (the rollout re-read + forced sentences)."""
    judge_usage: Usage

    def monitor_value(self, k: int) -> float:
        return max([self.start, *self.peaks[:k]])

    def verbalization(self, k: int) -> float:
        return verbalization_rate(list(self.verbalized[:k]))


def sample_prompts(
    monitor: StartOfCotMonitor,
    prompts: Sequence[tuple[Conversation, bool]],
    sampler: Sampler,
    target: Target,
    judge: VerbalizationJudge,
    k: int,
    seed: int = 0,
    max_new_tokens: int = 96,
    cancel: threading.Event | None = None,
) -> Iterator[PromptRollouts]:
    """``k`` rollouts of each ``(conversation, is_eval)`` prompt, scored and judged, in order."""
    for i, (conversation, is_eval) in enumerate(prompts):
        if cancel is not None and cancel.is_set():
            return
        prepared = monitor.prepare(conversation)
        start = target.value(monitor.score_prepared(prepared))
        rollouts = list(sample_rollouts(monitor, prepared, sampler, target, k, seed, max_new_tokens))
        verdicts = [judge.judge(conversation.messages[-1].content, r.text) for r in rollouts]
        n_prompt, forced = len(prepared.ids), sum(len(c) for c in prepared.continuations)
        yield PromptRollouts(
            i,
            is_eval,
            start,
            tuple(r.peak for r in rollouts),
            tuple(v.verbalizes for v in verdicts),
            n_prompt,
            n_prompt + forced,
            tuple(len(r.token_ids) for r in rollouts),
            tuple(len(r.token_ids) + forced * len(r.boundaries[1:]) for r in rollouts),
            sum((v.usage for v in verdicts), Usage()),
        )


@dataclass(frozen=True)
class Separation:
    auroc: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class KPoint:
    """Both monitors with the first ``k`` rollouts of every prompt."""

    k: int
    monitor: Separation
    verbalization: Separation | None
    """``None`` at K = 0 (no rollouts to read)."""
    monitor_cost: float
    """Mean forward-token equivalents per prompt."""
    verbalization_cost: float
    verbalizing_eval: float
    """Share of eval prompts with at least one verbalizing rollout among the first ``k``."""
    verbalizing_deploy: float

    def as_dict(self) -> dict[str, object]:
        v = self.verbalization
        return {
            "k": self.k,
            "monitor_auroc": self.monitor.auroc,
            "monitor_ci95": list(self.monitor.ci),
            "verbalization_auroc": v.auroc if v else None,
            "verbalization_ci95": list(v.ci) if v else None,
            "monitor_cost_tokens": self.monitor_cost,
            "verbalization_cost_tokens": self.verbalization_cost,
            "verbalizing_eval": self.verbalizing_eval,
            "verbalizing_deploy": self.verbalizing_deploy,
        }


def k_values(k_max: int) -> list[int]:
    """0, 1, 2, 4, … up to ``k_max`` (and ``k_max`` itself): the seed study's x axis."""
    ks, k = [0], 1
    while k < k_max:
        ks.append(k)
        k *= 2
    return [*ks, k_max] if k_max > 0 else ks


def _separation(results: Sequence[PromptRollouts], values: Sequence[float], seed: int) -> Separation:
    pos = [v for r, v in zip(results, values, strict=True) if r.is_eval]
    neg = [v for r, v in zip(results, values, strict=True) if not r.is_eval]
    return Separation(auroc(pos, neg), bootstrap_auroc_ci(pos, neg, seed=seed))


def auroc_by_k(results: Sequence[PromptRollouts], ks: Sequence[int], seed: int = 0) -> list[KPoint]:
    """The curve: one :class:`KPoint` per K (needs eval and deployment prompts, ``K <= K_max``)."""
    if not any(r.is_eval for r in results) or all(r.is_eval for r in results):
        raise ValueError("AUROC needs both eval and deployment prompts")
    n_eval = sum(r.is_eval for r in results)
    n_deploy = len(results) - n_eval
    points = []
    for k in ks:
        verbal = [r.verbalization(k) for r in results]
        said = [any(v for v in r.verbalized[:k]) for r in results]
        points.append(
            KPoint(
                k,
                _separation(results, [r.monitor_value(k) for r in results], seed),
                _separation(results, verbal, seed) if k else None,
                sum(r.start_tokens + sum(r.generated[:k]) + sum(r.rescored[:k]) for r in results) / len(results),
                sum(r.prompt_tokens + sum(r.generated[:k]) for r in results) / len(results),
                sum(s for s, r in zip(said, results, strict=True) if r.is_eval) / n_eval,
                sum(s for s, r in zip(said, results, strict=True) if not r.is_eval) / n_deploy,
            )
        )
    return points
