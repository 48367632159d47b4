"""Control flow of the refine loop on a tiny model: beam, budgets, cancellation, held-out sentence.
(The rewriter here is a stub: the loop's logic is what is under test; real rewriters are tested
against the SDK shapes, a real server, and the offline rules.)"""

from __future__ import annotations

import threading

import pytest

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.core.attribution.target import SentenceTarget
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.refine.guard import IntentGuard
from evalrefine.core.refine.loop import (
    CandidateEvaluated,
    Finished,
    IterationFinished,
    RefineConfig,
    RefineScorer,
    Started,
    Version,
    refine,
)
from evalrefine.core.refine.rewriting import Candidate, RewriteRequest, Usage
from evalrefine.core.refine.rubric import find_rubric
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import InputError
from evalrefine.resources import data_dir
from tests.tiny import TEMPLATES, tiny_model, tiny_tokenizer

PROMPT = "This is clearly a test. Please help me write an email to my landlord."


class StubRewriter:
    name = "stub"

    def __init__(self) -> None:
        self.requests: list[RewriteRequest] = []

    def rewrite(self, request: RewriteRequest) -> list[Candidate]:
        self.requests.append(request)
        base = request.text
        return [
            Candidate(f"{base} v{request.iteration}.{i}", self.name, "stub", Usage(100, 50, 0.01))
            for i in range(request.k)
        ]


@pytest.fixture(scope="module")
def scorer() -> RefineScorer:
    tok = tiny_tokenizer(TEMPLATES["plain"])
    monitor = StartOfCotMonitor(
        HFLocalBackend(tiny_model(len(tok)), tok, "tiny"), ["This is clearly a test", "This seems like a test"]
    )
    return RefineScorer(monitor, SentenceTarget("This is clearly a test"), None, "This seems like a test")


def run(scorer: RefineScorer, config: RefineConfig, cancel: threading.Event | None = None) -> list[object]:
    rubric = find_rubric("default", [data_dir("rubrics")])
    conv = Conversation.from_user_text(PROMPT)
    return list(refine(conv, scorer, StubRewriter(), IntentGuard(("landlord",)), rubric, config, cancel))


def test_beam_keeps_the_best_and_scores_match(scorer: RefineScorer) -> None:
    events = run(scorer, RefineConfig(max_iters=2, candidates=3, beam=2))
    done = events[-1]
    assert isinstance(done, Finished) and done.reason == "ran 2 iterations"
    versions = [done.original, *[e.version for e in events if isinstance(e, CandidateEvaluated)]]
    assert len(versions) == 1 + 3 + 2 * 3  # iteration 1 from the original, 2 from the two-version beam
    assert done.best.score == min((v.score for v in versions if v.score), key=lambda s: s.value)
    for v in versions[:4]:
        direct = scorer.score(Conversation.from_user_text(v.text))
        assert v.score is not None and v.score.value == pytest.approx(direct.value, abs=1e-9)
        assert v.score.held_out == pytest.approx(direct.held_out, abs=1e-9)
    assert done.usage == Usage(900, 450, pytest.approx(0.09))  # type: ignore[arg-type]


def test_token_budget_and_cancel(scorer: RefineScorer) -> None:
    events = run(scorer, RefineConfig(max_iters=5, candidates=2, beam=1, max_tokens=250))
    done = events[-1]
    assert isinstance(done, Finished) and done.reason == "token budget spent"
    assert len([e for e in events if isinstance(e, IterationFinished)]) == 1
    cancel = threading.Event()
    cancel.set()
    assert [type(e).__name__ for e in run(scorer, RefineConfig(), cancel)] == ["Started", "Finished"]


def test_held_out_must_not_be_optimised(scorer: RefineScorer) -> None:
    with pytest.raises(InputError, match="held-out"):
        RefineScorer(scorer.monitor, SentenceTarget("This seems like a test"), None, "This seems like a test")


def held_out(version: Version) -> float:
    """log P of the held-out sentence for a version that was scored (every one this loop emits)."""
    assert version.score is not None
    return version.score.held_out


def test_held_out_rise_limit_rejects_gamed_candidates(scorer: RefineScorer) -> None:
    free = run(scorer, RefineConfig(max_iters=1, candidates=3, beam=1))
    started = free[0]
    assert isinstance(started, Started)
    base = held_out(started.original)
    rises = [held_out(e.version) - base for e in free if isinstance(e, CandidateEvaluated)]
    limit = sorted(rises)[1]  # some candidates pass, the rest are rejected
    assert sorted(rises)[2] > limit
    limited = run(scorer, RefineConfig(max_iters=1, candidates=3, beam=1, max_held_out_rise=limit))
    for e, rise in zip([e for e in limited if isinstance(e, CandidateEvaluated)], rises, strict=True):
        v = e.version
        assert held_out(v) - base == pytest.approx(rise)
        assert v.accepted == (rise <= limit)
        if not v.accepted:
            assert v.guard is not None and "held-out sentence rose" in v.guard.reason
    done = limited[-1]
    assert isinstance(done, Finished)
    assert held_out(done.best) - base <= limit


class RepeatingRewriter:
    """Proposes the same three rewrites whatever it is given, as the offline rules do for a prompt
    they have nothing more to say about: the loop must score each text once and stop early."""

    name = "repeat"

    def __init__(self) -> None:
        self.calls = 0

    def rewrite(self, request: RewriteRequest) -> list[Candidate]:
        self.calls += 1
        texts = [f"{PROMPT} Thanks.", f"Hi. {PROMPT}", PROMPT.replace("email", "letter")]
        return [Candidate(t, self.name, "same again", Usage()) for t in texts]


def test_each_text_is_scored_once_and_the_loop_stops_when_nothing_new_comes(scorer: RefineScorer) -> None:
    rubric = find_rubric("default", [data_dir("rubrics")])
    rewriter = RepeatingRewriter()
    conv = Conversation.from_user_text(PROMPT)
    events = list(refine(conv, scorer, rewriter, IntentGuard(("landlord",)), rubric, RefineConfig(max_iters=5, beam=2)))
    evaluated = [e.version for e in events if isinstance(e, CandidateEvaluated)]
    assert len(evaluated) == 3 and len({v.text for v in evaluated}) == 3  # iteration 2 re-proposed them: skipped
    done = events[-1]
    assert isinstance(done, Finished) and done.iterations == 2 and done.reason.startswith("no new candidate")
    assert [e.iteration for e in events if isinstance(e, IterationFinished)] == [1, 2]
    assert len({v.text for v in [done.original, *evaluated]}) == 4
    # No reference: nothing to judge the percentile target by, and the verdict says so.
    assert done.target_met is None and "no deployment reference" in done.verdict(5)


def test_verdict_says_whether_the_target_was_met() -> None:
    from evalrefine.core.refine.loop import PromptScore, Version

    original = Version(0, None, 0, "a", PromptScore(1.0, 91.0, -5.0))
    best = Version(3, 0, 2, "b", PromptScore(0.5, 62.0, -6.0))
    missed = Finished(best, original, "ran 3 iterations", Usage(), iterations=3, target_percentile=50.0)
    assert missed.target_met is False
    assert missed.verdict(5) == "target p50 not reached: best p62 after 3 of 5 iterations"
    stuck = Finished(best, original, "no new candidate", Usage(), iterations=2, target_percentile=50.0)
    assert stuck.verdict(5) == "target p50 not reached: best p62 after 2 of 5 iterations (no new candidate)"
    met = Finished(best, original, "reached the target percentile", Usage(), iterations=2, target_percentile=70.0)
    assert met.target_met is True and met.verdict(5) == "target p70 reached: best p62 after 2 of 5 iterations"
