"""``verify``: does a refined prompt lower eval awareness in what the model actually writes?

Both prompts get K seeded rollouts. For each arm: the rollout monitor (per rollout, the peak of the
target over its sentence boundaries) and the verbalization monitor (does the rollout say it is
being tested). The differences (refined − original) come with percentile-bootstrap 95% intervals
over rollouts; an improvement counts only when the whole interval is below zero.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from evalrefine.core.attribution.target import Target
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.refine.rewriting import Usage
from evalrefine.core.rollouts.monitor import RolloutScore, Sampler, sample_rollouts
from evalrefine.core.rollouts.verbalization import PatternJudge, VerbalizationJudge, Verdict, verbalization_rate
from evalrefine.core.scoring.monitor import StartOfCotMonitor


@dataclass(frozen=True)
class Arm:
    name: str
    score: RolloutScore
    verdicts: tuple[Verdict, ...]

    @property
    def judged(self) -> list[float]:
        """1.0 / 0.0 per rollout the judge could read (unjudged ones are left out)."""
        return [float(v.verbalizes) for v in self.verdicts if v.verbalizes is not None]

    @property
    def peaks(self) -> list[float]:
        return [r.peak for r in self.score.rollouts]

    @property
    def mean_peak(self) -> float:
        return float(np.mean(self.peaks)) if self.peaks else float("nan")

    @property
    def verbalization_rate(self) -> float:
        return verbalization_rate(self.verdicts)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "start": self.score.start,
            "rollout_monitor": self.score.value,
            "mean_peak": self.mean_peak if self.peaks else None,
            "verbalization_rate": self.verbalization_rate,
            "rollouts": [
                {
                    "text": r.text,
                    "peak": r.peak,
                    "values": list(r.values),
                    "boundaries": list(r.boundaries),
                    "verbalizes": v.verbalizes,
                    "evidence": v.evidence,
                }
                for r, v in zip(self.score.rollouts, self.verdicts, strict=True)
            ],
        }


@dataclass(frozen=True)
class Difference:
    mean: float
    low: float
    high: float

    @property
    def lowered(self) -> bool:
        return self.high < 0


@dataclass(frozen=True)
class VerifyReport:
    target: str
    k: int
    seed: int
    original: Arm
    refined: Arm
    monitor: Difference
    """Refined − original mean rollout peak."""
    verbalization: Difference
    """Refined − original verbalization rate."""
    judge: str = "patterns"

    def as_dict(self) -> dict[str, object]:
        diff = {"monitor": self.monitor, "verbalization": self.verbalization}
        return {
            "target": self.target,
            "rollouts": self.k,
            "seed": self.seed,
            "judge": self.judge,
            "judge_usage": asdict(
                sum((v.usage for arm in (self.original, self.refined) for v in arm.verdicts), Usage())
            ),
            "original": self.original.as_dict(),
            "refined": self.refined.as_dict(),
            "difference": {k: {"mean": d.mean, "ci95": [d.low, d.high], "lowered": d.lowered} for k, d in diff.items()},
        }


def bootstrap_difference(a: list[float], b: list[float], seed: int, n: int = 4000) -> Difference:
    """mean(b) − mean(a) with a percentile-bootstrap 95% interval (each arm resampled on its own)."""
    if not a or not b:
        return Difference(float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    draws = xb[rng.integers(0, len(xb), (n, len(xb)))].mean(1) - xa[rng.integers(0, len(xa), (n, len(xa)))].mean(1)
    return Difference(float(xb.mean() - xa.mean()), float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975)))


@dataclass(frozen=True)
class VerifyProgress:
    """One rollout of one arm sampled, scored and judged."""

    arm: str
    done: int
    total: int


def verify_steps(
    original: Conversation,
    refined: Conversation,
    monitor: StartOfCotMonitor,
    sampler: Sampler,
    target: Target,
    k: int,
    seed: int = 0,
    max_new_tokens: int = 128,
    judge: VerbalizationJudge | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[VerifyProgress | VerifyReport]:
    """Both prompts' rollouts from the same seed, a :class:`VerifyProgress` after each, then the
    report (not reached when ``cancel`` is set: a half-sampled comparison would mislead).
    ``judge`` defaults to the offline pattern detector."""
    judge = judge or PatternJudge()
    arms = []
    for name, conv in (("original", original), ("refined", refined)):
        prepared = monitor.prepare(conv)
        start = target.value(monitor.score_prepared(prepared))
        rollouts, verdicts = [], []
        for rollout in sample_rollouts(monitor, prepared, sampler, target, k, seed, max_new_tokens):
            if cancel is not None and cancel.is_set():
                return
            rollouts.append(rollout)
            verdicts.append(judge.judge(conv.messages[-1].content, rollout.text))
            yield VerifyProgress(name, len(rollouts), k)
        arms.append(Arm(name, RolloutScore(start, tuple(rollouts)), tuple(verdicts)))
    a, b = arms
    yield VerifyReport(
        target.name,
        k,
        seed,
        a,
        b,
        bootstrap_difference(a.peaks, b.peaks, seed),
        bootstrap_difference(a.judged, b.judged, seed + 1),
        judge.name,
    )


def verify(
    original: Conversation,
    refined: Conversation,
    monitor: StartOfCotMonitor,
    sampler: Sampler,
    target: Target,
    k: int,
    seed: int = 0,
    max_new_tokens: int = 128,
    judge: VerbalizationJudge | None = None,
) -> VerifyReport:
    """:func:`verify_steps` run to the end."""
    *_, report = verify_steps(original, refined, monitor, sampler, target, k, seed, max_new_tokens, judge)
    assert isinstance(report, VerifyReport)
    return report
