"""What the TUI drives: the model, the monitor, the reference and the core operations, in one place.

Nothing here touches Textual: the app calls these from thread workers and renders the frozen
results, so every operation is the same code path the CLI uses. Building the session (loading the
model) is itself slow and runs in a worker too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalrefine.config import Settings
from evalrefine.core.attribution.base import Attribution
from evalrefine.core.attribution.target import AnyTarget, JointTarget, Target
from evalrefine.core.calibration import Placement, place
from evalrefine.core.compare import Comparison, compare
from evalrefine.core.conversation import Conversation
from evalrefine.core.guard import Embedder, IntentGuard, Judge
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.run import LintEvent, Threshold, lint
from evalrefine.core.monitor import MonitorResult, StartOfCotMonitor
from evalrefine.core.protocols import ScoringBackend
from evalrefine.core.reference import Reference
from evalrefine.core.refine import DEFAULT_HELD_OUT, RefineConfig, RefineEvent, RefineScorer, refine
from evalrefine.core.rewriting import Rewriter
from evalrefine.core.rubric import Rubric, find_rubric
from evalrefine.core.verify import VerifyProgress, VerifyReport
from evalrefine.resources import data_dir


@dataclass(frozen=True)
class ScoreView:
    result: MonitorResult
    placement: Placement | None
    value: float
    """The target's value (the joint score with a reference)."""


class Session:
    def __init__(
        self,
        settings: Settings,
        backend: ScoringBackend,
        reference: Reference | None,
        embedder: Embedder | None = None,
        rewriter: Rewriter | None = None,
    ) -> None:
        self.settings, self.backend, self.reference = settings, backend, reference
        self.target: Target = JointTarget(reference) if reference else AnyTarget(tuple(settings.monitor.sentences))
        extra = reference.required_sentences() if reference else ()
        sentences = list(dict.fromkeys([*settings.monitor.sentences, *extra, *self.target.sentences, DEFAULT_HELD_OUT]))
        self.monitor = StartOfCotMonitor(
            backend, sentences, settings.monitor.cot_opener, template_date=settings.monitor.template_date
        )
        self.rubric: Rubric = find_rubric("default", [data_dir("rubrics"), settings.data_dir / "rubrics"])
        self.embedder = embedder
        self._rewriter = rewriter
        self._judge: Judge | None = None

    @property
    def rewriter(self) -> Rewriter:
        if self._rewriter is None:
            from evalrefine.backends.rewriters import default_spec, make_rewriter

            self._rewriter, self._judge = make_rewriter(
                default_spec(self.settings.refine), self.rubric, self.settings.refine
            )
        return self._rewriter

    @classmethod
    def load(cls, settings: Settings) -> Session:
        """The configured model and its deployment reference (slow: run it in a worker)."""
        from evalrefine.backends.registry import load_backend
        from evalrefine.core.reference import ReferenceStore

        backend = load_backend(settings.model, settings.cache_dir)
        shipped = Path(__file__).resolve().parents[1] / "references"
        store = ReferenceStore(settings.data_dir / "references", sorted(shipped.glob("*.json")))
        probe = StartOfCotMonitor(
            backend,
            list(settings.monitor.sentences),
            settings.monitor.cot_opener,
            template_date=settings.monitor.template_date,
        )
        reference = store.for_fingerprint(probe.model_fingerprint, settings.calibration.reference)
        return cls(settings, backend, reference)

    @property
    def target_percentile(self) -> float:
        return self.settings.calibration.target_percentile

    def score(self, conversation: Conversation) -> ScoreView:
        result = self.monitor.score(conversation)
        placement = place(result, self.reference, self.target_percentile) if self.reference else None
        return ScoreView(result, placement, self.target.value(result))

    def explain(self, conversation: Conversation, method: str, granularity: str) -> Attribution:
        from evalrefine.core.attribution.explain import explain

        return explain(self.monitor, self.target, conversation, method, granularity, check=False)  # type: ignore[arg-type]

    def guard(self, keep: Sequence[str]) -> IntentGuard:
        if self.embedder is None:
            from evalrefine.backends.embedder import SentenceTransformerEmbedder

            self.embedder = SentenceTransformerEmbedder()
        return IntentGuard(tuple(keep), self.embedder, self._judge, self.settings.refine.min_similarity)

    def refine(
        self, conversation: Conversation, keep: Sequence[str], iterations: int, cancel: threading.Event
    ) -> Iterator[RefineEvent]:
        rewriter = self.rewriter
        scorer = RefineScorer(self.monitor, self.target, self.reference, DEFAULT_HELD_OUT)
        config = RefineConfig(
            max_iters=iterations,
            target_percentile=self.target_percentile,
            max_held_out_rise=self.settings.refine.max_held_out_rise,
        )
        return refine(conversation, scorer, rewriter, self.guard(keep), self.rubric, config, cancel)

    def verify(
        self, original: Conversation, current: Conversation, cancel: threading.Event
    ) -> Iterator[VerifyProgress | VerifyReport]:
        """``evalrefine verify`` on two versions, with the ``[rollouts]`` settings (K = 8 when unset)."""
        from evalrefine.backends.factories import judge_for, sampler_for
        from evalrefine.core.verify import verify_steps

        rs = self.settings.rollouts
        k = rs.count or 8
        target = AnyTarget(tuple(self.settings.monitor.sentences))
        sampler, judge = sampler_for(self.backend, rs), judge_for(self.settings)
        return verify_steps(
            original, current, self.monitor, sampler, target, k, rs.seed, rs.max_new_tokens, judge, cancel
        )

    def compare(self, variants: Sequence[tuple[str, Conversation]]) -> Comparison:
        return compare(variants, self.monitor, self.target, self.reference, self.target_percentile)

    def lint(self, path: str, cancel: threading.Event) -> Iterator[LintEvent]:
        cfg = self.settings.lint
        prompts, problems, skipped = gather([path], cfg.include, cfg.exclude, cfg.text_fields)
        threshold = Threshold.parse(cfg.threshold)
        if threshold.kind == "percentile" and self.reference is None:
            threshold = Threshold("logprob", -20.0)
        return lint(
            prompts, problems, skipped, self.monitor, threshold, self.reference, None, None, cfg.batch_size, cancel
        )
