"""``lint --rollouts``: each prompt's rollout peak equals an independent rollout score with the same
seed, and the finding rule (a verbalizing rollout, or a peak over a raw log P threshold) holds."""

from __future__ import annotations

import pytest

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.backends.sampler import HFSampler
from evalrefine.core.attribution.target import SentenceTarget
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.reports import to_json
from evalrefine.core.lint.rollout_check import RolloutCheck, RolloutsChecked
from evalrefine.core.lint.run import LintFinished, Threshold, lint
from evalrefine.core.rollouts.monitor import rollout_score
from evalrefine.core.rollouts.verbalization import Verdict
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.conftest import REPO
from tests.tiny import TEMPLATES, tiny_model, tiny_tokenizer

SENTENCE = "This is clearly a test"


class SaysTestFor:
    """A verbalization judge (our own protocol) that answers by prompt, so the rule is testable."""

    name = "says-test-for"

    def __init__(self, word: str) -> None:
        self.word, self.calls = word, 0

    def judge(self, prompt: str, rollout: str) -> Verdict:
        self.calls += 1
        return Verdict(self.word in prompt, self.word if self.word in prompt else "")


@pytest.fixture(scope="module")
def monitor() -> StartOfCotMonitor:
    tok = tiny_tokenizer(TEMPLATES["plain"])
    return StartOfCotMonitor(HFLocalBackend(tiny_model(len(tok)), tok, "tiny"), [SENTENCE])


def test_rollout_peaks_and_finding_rule(monitor: StartOfCotMonitor) -> None:
    prompts, problems, skipped = gather([str(REPO / "tests/fixtures/evalrepo/prompts")], ["*"], [], ["text"])
    assert len(prompts) == 2
    judge = SaysTestFor("shut")
    check = RolloutCheck(HFSampler(monitor.backend), judge, k=2, seed=3, max_new_tokens=10)
    start = {p.content_hash: monitor.score(p.conversation).sentences[0].logprob for p in prompts}
    # A raw threshold between the two start scores: one prompt over it at the start, one under.
    threshold = Threshold("logprob", sum(start.values()) / 2)
    events = list(lint(prompts, problems, skipped, monitor, threshold, None, rollouts=check))
    progress = [e for e in events if isinstance(e, RolloutsChecked)]
    assert [(e.done, e.total) for e in progress] == [(1, 2), (2, 2)] and judge.calls == 4
    report = events[-1].report  # type: ignore[union-attr]
    assert isinstance(events[-1], LintFinished)
    for r in report.results:
        ro = r.rollouts
        assert ro is not None and (ro.k, ro.judged) == (2, 2)
        independent = rollout_score(
            monitor, r.prompt.conversation, HFSampler(monitor.backend), SentenceTarget(SENTENCE), 2, 3, 10
        )
        assert ro.peak == pytest.approx(independent.value, abs=1e-9) and ro.peak >= r.logprob - 1e-5
        says = "shut" in r.prompt.text
        assert ro.verbalized == (2 if says else 0) and ro.evidence == ("shut" if says else "")
        assert r.finding == (r.logprob > threshold.value or says or ro.peak > threshold.value)
    data = to_json(report)
    assert all(d["rollouts"]["k"] == 2 for d in data["results"])
    assert any("say it is a test" in d["message"] for d in data["results"])


def test_rollout_pass_resumes_from_the_cache(monitor: StartOfCotMonitor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Stopped after the first prompt's rollouts, a rerun takes that one from the cache and samples
    only the other; the results equal an uninterrupted run's."""
    import threading

    from evalrefine.core.scoring.score_cache import ScoreCache

    prompts, problems, skipped = gather([str(REPO / "tests/fixtures/evalrepo/prompts")], ["*"], [], ["text"])
    judge = SaysTestFor("shut")
    check = RolloutCheck(HFSampler(monitor.backend), judge, k=2, seed=3, max_new_tokens=10)
    threshold = Threshold("logprob", -1e-3)
    cache = ScoreCache(tmp_path / "scores.sqlite")
    cancel = threading.Event()
    first = []
    for event in lint(prompts, problems, skipped, monitor, threshold, None, cache, cancel=cancel, rollouts=check):
        first.append(event)
        if isinstance(event, RolloutsChecked):
            cancel.set()
    assert first[-1].report.cancelled and judge.calls == 2  # type: ignore[union-attr]
    events = list(lint(prompts, problems, skipped, monitor, threshold, None, cache, rollouts=check))
    assert [e.cached for e in events if isinstance(e, RolloutsChecked)] == [True, False] and judge.calls == 4
    fresh = list(lint(prompts, problems, skipped, monitor, threshold, None, rollouts=check))
    got, want = events[-1].report, fresh[-1].report  # type: ignore[union-attr]
    assert [r.rollouts for r in got.results] == [r.rollouts for r in want.results]
    assert [r.finding for r in got.results] == [r.finding for r in want.results]
    cache.close()
