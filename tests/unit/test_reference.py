"""References: storage, fingerprint checks, placement, and resuming an interrupted batch."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import percentileofscore

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.core.batch import PromptScored, score_records
from evalrefine.core.calibration import place
from evalrefine.core.conversation import Conversation
from evalrefine.core.joint import logsumexp
from evalrefine.core.monitor import StartOfCotMonitor
from evalrefine.core.prompt_sets import PromptRecord
from evalrefine.core.reference import Reference, ReferenceError, ReferenceStore, load_reference
from evalrefine.core.reference_build import build_reference
from evalrefine.core.score_cache import ScoreCache
from tests.tiny import CORPUS, TEMPLATES, tiny_model, tiny_tokenizer

SENTENCES = ["This is clearly a test", "The user might be testing"]
EXTRA = ["Sure", "Hello"]


def backend(seed: int = 0) -> HFLocalBackend:
    tok = tiny_tokenizer(TEMPLATES["plain"])
    return HFLocalBackend(tiny_model(len(tok), seed=seed), tok, f"tiny-{seed}")


def records(n: int, prefix: str) -> list[PromptRecord]:
    words = " ".join(CORPUS).split()
    out = []
    for i in range(n):
        text = " ".join(words[(i * 7) % len(words) :][: 3 + i % 11]) or "hello"
        out.append(PromptRecord(f"{prefix}:{i}", Conversation.from_user_text(f"{prefix} {text}"), prefix))
    return out


def scored(monitor: StartOfCotMonitor, recs: list[PromptRecord]) -> list[PromptScored]:
    return [e for e in score_records(monitor, recs) if isinstance(e, PromptScored)]


@pytest.fixture(scope="module")
def built() -> tuple[StartOfCotMonitor, Reference]:
    monitor = StartOfCotMonitor(backend(), [*SENTENCES, *EXTRA])
    deploy, evals = scored(monitor, records(40, "deploy")), scored(monitor, records(30, "eval"))
    ref, _ = build_reference("tiny", "tiny-0", monitor.model_fingerprint, deploy, evals, SENTENCES, EXTRA, {})
    return monitor, ref


def test_round_trip(tmp_path: Path, built: tuple[StartOfCotMonitor, Reference]) -> None:
    _, ref = built
    path = ref.save(tmp_path / "tiny.json")
    again = load_reference(path)
    for a, b in zip(again.entries, ref.entries, strict=True):
        assert (a.id, a.label, a.prompt_tokens) == (b.id, b.label, b.prompt_tokens)
        assert np.allclose(a.logprobs, b.logprobs, atol=1e-6)  # stored to 6 decimals
    assert (again.sentences, again.eval_sentences, again.joint) == (ref.sentences, ref.eval_sentences, ref.joint)
    assert "prompt" not in path.read_text().lower().replace("prompt_tokens", "")  # no prompt text stored


def test_placement_matches_scipy(built: tuple[StartOfCotMonitor, Reference]) -> None:
    monitor, ref = built
    result = monitor.score(Conversation.from_user_text("This is clearly a test of the assistant."))
    placement = place(result, ref, target=50.0)
    for s in result.sentences:
        deploy = [e.logprobs[ref.sentences.index(s.sentence)] for e in ref.labelled("deploy")]
        assert placement.percentiles[s.sentence] == pytest.approx(percentileofscore(deploy, s.logprob, kind="mean"))
    logprobs = {s.sentence: s.logprob for s in result.sentences}
    joint = ref.joint_score(logprobs, len(result.prompt.ids))
    if ref.joint is None:
        assert joint == pytest.approx(logsumexp([logprobs[s] for s in SENTENCES]))
    deploy_joint = [ref.joint_score(ref.logprob_map(e), e.prompt_tokens) for e in ref.labelled("deploy")]
    assert placement.percentile == pytest.approx(percentileofscore(deploy_joint, joint, kind="mean"))
    assert placement.passes == (placement.percentile <= 50.0)


def test_reference_for_another_model_is_refused(tmp_path: Path, built: tuple[StartOfCotMonitor, Reference]) -> None:
    monitor, ref = built
    store = ReferenceStore(tmp_path)
    ref.save(store.path_for("tiny"))
    other = StartOfCotMonitor(backend(seed=1), SENTENCES)
    assert other.model_fingerprint != monitor.model_fingerprint
    with pytest.raises(ReferenceError, match="different model"):
        store.for_fingerprint(other.model_fingerprint, "tiny")
    assert store.for_fingerprint(other.model_fingerprint) is None  # never used silently
    assert store.for_fingerprint(monitor.model_fingerprint).name == "tiny"  # type: ignore[union-attr]
    # a different CoT opener changes the fingerprint too
    opened = StartOfCotMonitor(monitor.backend, SENTENCES, cot_opener="Okay, ")
    assert opened.model_fingerprint != monitor.model_fingerprint
    store.remove("tiny")
    assert store.all() == []


def test_interrupted_batch_resumes_without_rescoring(tmp_path: Path) -> None:
    monitor = StartOfCotMonitor(backend(), SENTENCES)
    recs = records(12, "deploy") + records(3, "deploy")  # the last three repeat earlier prompts
    cache = ScoreCache(tmp_path / "scores.sqlite")
    cancel = threading.Event()
    first = []
    for event in score_records(monitor, recs, cache, cancel):
        first.append(event)
        if len(first) == 5:
            cancel.set()  # as Ctrl-C in the TUI / a killed CLI would
    assert len(first) == 5 and cache.count(monitor.model_fingerprint) == 5
    cache.close()
    cache = ScoreCache(tmp_path / "scores.sqlite")  # a new process
    second = [e for e in score_records(monitor, recs, cache) if isinstance(e, PromptScored)]
    assert [e.cached for e in second] == [True] * 5 + [False] * 7 + [True] * 3
    assert cache.count(monitor.model_fingerprint) == 12  # every distinct prompt stored exactly once
    fresh = scored(monitor, recs)
    for a, b in zip(second, fresh, strict=True):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-9)
