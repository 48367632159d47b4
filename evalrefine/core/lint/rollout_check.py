"""``lint --rollouts K``: after the start-of-CoT pass, sample K rollouts of every prompt and look at
what the model actually writes.

Two things are added to each result. The rollout peak: log P of the first monitored sentence,
maximised over the start and every sentence boundary of the K rollouts (the seed study's rollout
monitor, in the same units as a raw ``--threshold``). And the verbalization count: rollouts in
which the model *says* it is being tested (the configured judge). A prompt becomes a finding when
a rollout verbalizes, or when a raw log P threshold is given and the rollout peak exceeds it. A
percentile threshold is not applied to the peak: the deployment reference holds start-of-CoT
scores only, and a maximum over many positions is not comparable with them. Summaries are stored in
the score cache as each prompt finishes, so an interrupted run resumes without resampling.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from evalrefine.core.attribution.target import SentenceTarget
from evalrefine.core.lint.sources import LintPrompt
from evalrefine.core.rollouts.monitor import Sampler, rollout_score
from evalrefine.core.rollouts.verbalization import VerbalizationJudge
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache


@dataclass(frozen=True)
class RolloutCheck:
    """How to sample and judge (``k`` >= 1)."""

    sampler: Sampler
    judge: VerbalizationJudge
    k: int
    seed: int = 0
    max_new_tokens: int = 96

    def cache_key(self, monitor: StartOfCotMonitor, prompt: LintPrompt) -> str:
        """Everything a summary depends on: weights, template and opener, the sentence, the prompt,
        the sampling (k, seed, length, temperature) and the judge."""
        parts = [
            "rollouts/v1",
            monitor.model_fingerprint,
            monitor.sentences[0],
            prompt.content_hash,
            self.k,
            self.seed,
            self.max_new_tokens,
            getattr(self.sampler, "temperature", None),
            self.judge.name,
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@dataclass(frozen=True)
class RolloutSummary:
    k: int
    peak: float
    """Max of log P(first sentence) over the start and every boundary of every rollout."""
    verbalized: int
    """Rollouts the judge says verbalize eval awareness."""
    judged: int
    evidence: str
    """The first verbalizing rollout's words (empty when none)."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RolloutsChecked:
    """Progress of the rollout pass."""

    done: int
    total: int
    cached: bool = False


def summarize(
    monitor: StartOfCotMonitor, prompt: LintPrompt, check: RolloutCheck, cache: ScoreCache | None = None
) -> tuple[RolloutSummary, bool]:
    """Sample, score and judge one prompt's rollouts, or take them from ``cache``; ``(summary, cached)``."""
    key = check.cache_key(monitor, prompt) if cache is not None else ""
    stored = cache.get_result(key) if cache is not None else None
    if stored is not None:
        return RolloutSummary(**json.loads(stored)), True
    target = SentenceTarget(monitor.sentences[0])
    score = rollout_score(
        monitor, prompt.conversation, check.sampler, target, check.k, check.seed, check.max_new_tokens
    )
    verdicts = [check.judge.judge(prompt.text, r.text) for r in score.rollouts]
    said = [v for v in verdicts if v.verbalizes]
    summary = RolloutSummary(
        check.k,
        score.value,
        len(said),
        sum(v.verbalizes is not None for v in verdicts),
        said[0].evidence if said else "",
    )
    if cache is not None:  # committed at once: an interrupted lint resumes here
        cache.put_result(key, json.dumps(summary.as_dict()))
    return summary, False
