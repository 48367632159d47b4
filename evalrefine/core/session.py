"""One object that owns scoring policy, so every front end gives the same number for the same prompt.

Which reference places a score, which sentences are forced (the configured ones, the reference's
joint sentences, a held-out check sentence), what the headline score is and which target percentile
counts as "reads like real traffic" used to be decided separately by each command, and the copies
disagreed (``refine -s`` crashed, ``score`` and ``lint`` differed). :class:`Session` decides once;
the CLI, the TUI and the Python API (:func:`evalrefine.open_session`) only drive it and render what it
returns. It stays headless: the backend, the rewriter, the embedder, the rollout sampler and the
verbalization judge come in through :class:`Services`, built by whoever owns the heavy libraries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalrefine.config import Settings
from evalrefine.core.attribution.base import Attribution
from evalrefine.core.attribution.target import AnyTarget, JointTarget, SentenceTarget, Target
from evalrefine.core.calibration.placement import Placement, place
from evalrefine.core.calibration.reference import Reference, ReferenceStore
from evalrefine.core.compare import Comparison, compare
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.run import LintEvent, Threshold, lint
from evalrefine.core.refine.guard import Embedder, IntentGuard, Judge
from evalrefine.core.refine.loop import DEFAULT_HELD_OUT, RefineConfig, RefineEvent, RefineScorer, refine
from evalrefine.core.refine.rewriting import Rewriter
from evalrefine.core.refine.rubric import Rubric, find_rubric
from evalrefine.core.rollouts.monitor import Sampler
from evalrefine.core.rollouts.verbalization import VerbalizationJudge
from evalrefine.core.rollouts.verify import VerifyProgress, VerifyReport
from evalrefine.core.scoring.monitor import MonitorResult, StartOfCotMonitor
from evalrefine.core.scoring.protocols import ScoringBackend
from evalrefine.errors import InputError
from evalrefine.resources import data_dir


def _missing(what: str) -> Callable[..., Any]:
    def fail(*_: object) -> Any:
        raise InputError(f"this session has no {what}", "open it with evalrefine.open_session(), which provides one")

    return fail


@dataclass(frozen=True)
class Services:
    """The heavy collaborators, built lazily by the caller that may import their libraries."""

    rewriter: Callable[[str | None, Rubric], tuple[Rewriter, Judge | None]] = field(
        default_factory=lambda: _missing("rewriter")
    )
    """``(spec or None for the configured default, rubric) -> (rewriter, intent judge)``."""
    embedder: Callable[[], Embedder] = field(default_factory=lambda: _missing("embedder"))
    sampler: Callable[[ScoringBackend], Sampler] = field(default_factory=lambda: _missing("sampler"))
    judge: Callable[[], VerbalizationJudge] = field(default_factory=lambda: _missing("judge"))


@dataclass(frozen=True)
class ScoreView:
    """A prompt's score as every front end shows it."""

    result: MonitorResult
    """Every forced sentence's log P (and tokens)."""
    placement: Placement | None
    """Where it falls among the reference's deployment prompts (``None`` without a reference)."""
    value: float
    """The headline: the target's value (the joint score with a reference)."""


class Session:
    """The model, its reference, the forced sentences, the headline target and the operations on them."""

    def __init__(
        self,
        settings: Settings,
        backend: ScoringBackend,
        references: ReferenceStore | None = None,
        services: Services | None = None,
    ) -> None:
        self.settings, self.backend = settings, backend
        self.services = services or Services()
        shown = list(settings.monitor.sentences)
        probe = self.monitor_for(shown)
        self.reference_notes: tuple[str, ...] = ()
        """Why a reference built on these weights was not used (for a front end to show as warnings)."""
        self.reference: Reference | None = None
        if references is not None:
            self.reference = references.for_fingerprint(
                probe.model_fingerprint, settings.calibration.reference, probe.identity
            )
            if self.reference is None:
                self.reference_notes = tuple(
                    f"reference {ref.name!r} not used: {why}"
                    for ref, why in references.near_misses(probe.model_fingerprint, probe.identity)
                )
        self.target: Target = self._headline(shown)
        needed = self.reference.required_sentences() if self.reference else ()
        self.monitor = self.monitor_for([*shown, *needed, *self.target.sentences])
        self._rubric: Rubric | None = None
        self._rewriter: tuple[Rewriter, Judge | None] | None = None

    def _headline(self, shown: Sequence[str]) -> Target:
        if self.reference is not None and self.settings.monitor.headline == "auto":
            return JointTarget(self.reference)
        return SentenceTarget(shown[0]) if len(shown) == 1 else AnyTarget(tuple(shown))

    def monitor_for(self, sentences: Sequence[str]) -> StartOfCotMonitor:
        """A monitor over ``sentences`` (duplicates dropped) with this session's opener and date."""
        m = self.settings.monitor
        return StartOfCotMonitor(
            self.backend, list(dict.fromkeys(sentences)), m.cot_opener, template_date=m.template_date
        )

    @property
    def shown(self) -> tuple[str, ...]:
        """The sentences a user asked to see (the reference's extra ones are scored but not listed)."""
        return tuple(self.settings.monitor.sentences)

    @property
    def target_percentile(self) -> float:
        return self.settings.calibration.target_percentile

    @property
    def rubric(self) -> Rubric:
        if self._rubric is None:
            self._rubric = find_rubric("default", [data_dir("rubrics"), self.settings.data_dir / "rubrics"])
        return self._rubric

    def score(self, conversation: Conversation) -> ScoreView:
        return self.view(self.monitor.score(conversation))

    def view(self, result: MonitorResult) -> ScoreView:
        """The headline and placement of an already computed result (e.g. from the score cache)."""
        placement = place(result, self.reference, self.target_percentile) if self.reference else None
        return ScoreView(result, placement, self.target.value(result))

    def explain(
        self, conversation: Conversation, method: str = "loo", granularity: str = "sentence", check: bool = False
    ) -> Attribution:
        """Which spans raise the headline (the same target ``refine`` lowers)."""
        from evalrefine.core.attribution.explain import explain

        return explain(self.monitor, self.target, conversation, method, granularity, check=check)  # type: ignore[arg-type]

    def rewriter(self, spec: str | None = None, rubric: Rubric | None = None) -> tuple[Rewriter, Judge | None]:
        """The configured rewriter (``spec`` overrides it) and its intent judge, built once."""
        if spec is not None or rubric is not None:
            return self.services.rewriter(spec, rubric or self.rubric)
        if self._rewriter is None:
            self._rewriter = self.services.rewriter(None, self.rubric)
        return self._rewriter

    def guard(self, keep: Sequence[str] = (), judge: Judge | None = None) -> IntentGuard:
        return IntentGuard(tuple(keep), self.services.embedder(), judge, self.settings.refine.min_similarity)

    def refine_scorer(self, held_out: str = DEFAULT_HELD_OUT) -> RefineScorer:
        """Scores candidates on the headline, watching ``held_out`` (never optimised) for gaming."""
        monitor = self.monitor_for([*self.monitor.sentences, held_out])
        return RefineScorer(monitor, self.target, self.reference, held_out)

    def refine_config(self, max_iters: int = 5, **overrides: object) -> RefineConfig:
        """The loop's limits with the session's target percentile and held-out guard."""
        base: dict[str, object] = {
            "max_iters": max_iters,
            "target_percentile": self.target_percentile,
            "max_held_out_rise": self.settings.refine.max_held_out_rise,
        }
        base.update({k: v for k, v in overrides.items() if v is not None})
        return RefineConfig(**base)  # type: ignore[arg-type]

    def refine(
        self,
        conversation: Conversation,
        keep: Sequence[str] = (),
        config: RefineConfig | None = None,
        cancel: threading.Event | None = None,
        held_out: str = DEFAULT_HELD_OUT,
        rewriter: tuple[Rewriter, Judge | None] | None = None,
        rubric: Rubric | None = None,
    ) -> Iterator[RefineEvent]:
        """Rewrite until the headline reads like deployment traffic: a generator of frozen events.
        ``rewriter``: a rewriter and its intent judge already built (default: the configured one)."""
        rewriter_obj, judge = rewriter or self.rewriter(rubric=rubric)
        return refine(
            conversation,
            self.refine_scorer(held_out),
            rewriter_obj,
            self.guard(keep, judge),
            rubric or self.rubric,
            config or self.refine_config(),
            cancel,
        )

    def compare(self, variants: Sequence[tuple[str, Conversation]]) -> Comparison:
        return compare(variants, self.monitor, self.target, self.reference, self.target_percentile)

    def rollout_target(self) -> AnyTarget:
        """What a rollout monitor tracks: log P(any shown eval-aware sentence) at each boundary."""
        return AnyTarget(self.shown)

    def verify(
        self, original: Conversation, current: Conversation, cancel: threading.Event | None = None
    ) -> Iterator[VerifyProgress | VerifyReport]:
        """``evalrefine verify`` on two versions with the ``[rollouts]`` settings (K = 8 when unset)."""
        from evalrefine.core.rollouts.verify import verify_steps

        rs = self.settings.rollouts
        return verify_steps(
            original,
            current,
            self.monitor_for(self.shown),
            self.services.sampler(self.backend),
            self.rollout_target(),
            rs.count or 8,
            rs.seed,
            rs.max_new_tokens,
            self.services.judge(),
            cancel,
        )

    def lint_threshold(self) -> Threshold:
        """The configured ``[lint] threshold``; a percentile one falls back to log P > -20 without a reference."""
        threshold = Threshold.parse(self.settings.lint.threshold)
        if threshold.kind == "percentile" and self.reference is None:
            return Threshold("logprob", -20.0)
        return threshold

    def lint(self, paths: Sequence[str], cancel: threading.Event | None = None) -> Iterator[LintEvent]:
        """Every prompt under ``paths`` scored and judged against the ``[lint]`` settings."""
        cfg = self.settings.lint
        prompts, problems, skipped = gather(list(paths), cfg.include, cfg.exclude, cfg.text_fields)
        return lint(
            prompts,
            problems,
            skipped,
            self.monitor,
            self.lint_threshold(),
            self.reference,
            None,
            None,
            cfg.batch_size,
            cancel,
        )


def reference_store(settings: Settings) -> ReferenceStore:
    """The user's references, then the ones shipped with evalrefine."""
    shipped = Path(__file__).resolve().parents[1] / "references"
    return ReferenceStore(settings.data_dir / "references", sorted(shipped.glob("*.json")))
