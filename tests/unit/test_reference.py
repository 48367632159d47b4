"""References: storage, fingerprint checks, placement, and resuming an interrupted batch."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import percentileofscore
from sklearn.linear_model import LogisticRegression

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.core.calibration.joint import MonotoneJoint, logsumexp
from evalrefine.core.calibration.placement import place, place_scores
from evalrefine.core.calibration.reference import Reference, ReferenceError, ReferenceStore, load_reference
from evalrefine.core.calibration.reference_build import build_reference
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.io.prompt_sets import PromptRecord
from evalrefine.core.scoring.batch import PromptScored, score_records
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache
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
    assert (again.crossfit, again.fold_of) == (ref.crossfit, ref.fold_of)
    assert "prompt" not in path.read_text().lower().replace("prompt_tokens", "")  # no prompt text stored


def test_placement_matches_scipy(built: tuple[StartOfCotMonitor, Reference]) -> None:
    monitor, ref = built
    result = monitor.score(Conversation.from_user_text("This is clearly a test of the assistant."))
    placement = place(result, ref, target=50.0)
    for s in result.sentences:
        deploy = [e.logprobs[ref.sentences.index(s.sentence)] for e in ref.labelled("deploy")]
        assert placement.percentiles[s.sentence] == pytest.approx(percentileofscore(deploy, s.logprob, kind="mean"))
    logprobs = {s.sentence: s.logprob for s in result.sentences}
    deploy_maps = [ref.logprob_map(e) for e in ref.labelled("deploy")]
    if ref.joint is None:  # one eval dataset here: 'any' or one sentence won on random folds
        joint = logsumexp([logprobs[s] for s in SENTENCES])
        deploy_joint = [logsumexp([d[s] for s in SENTENCES]) for d in deploy_maps]
    else:
        joint, deploy_joint = by_hand(ref.joint, logprobs), [by_hand(ref.joint, d) for d in deploy_maps]
    assert placement.joint_score == pytest.approx(joint)
    assert placement.percentile == pytest.approx(percentileofscore(deploy_joint, joint, kind="mean"))
    assert placement.passes == (placement.percentile <= 50.0)
    assert not placement.in_reference and placement.n_deploy == 40


def by_hand(model: MonotoneJoint, lp: dict[str, float]) -> float:
    """A headline's value from its stored numbers, without the project's scoring code."""
    x = np.array([lp[t.aware] - (lp[t.neutral] if t.neutral else 0.0) for t in model.terms])
    return float(((x - np.array(model.mean)) / np.array(model.scale)) @ np.array(model.coef) + model.intercept)


def synthetic(n: int, label: str, rng: np.random.Generator) -> list[PromptScored]:
    """Scores in which "any opener is likely here" varies a lot from prompt to prompt, so the eval
    signal shows in the contrast log P(aware) − log P("Sure") far more than in log P(aware) alone."""
    out = []
    for i in range(n):
        dataset = ("mcq", "harm", "persona")[i % 3] if label == "eval" else "wildchat"
        base, signal = rng.normal(0, 4), 1.5 * (label == "eval")
        lp = {
            SENTENCES[0]: -25 + base + signal + rng.normal(0, 0.7),
            SENTENCES[1]: -28 + base + rng.normal(0, 0.7),
            "Sure": -5 + base + rng.normal(0, 0.7),
            "Hello": -7 + rng.normal(0, 1),
        }
        rec = PromptRecord(f"{label}:{i}", Conversation.from_user_text(f"{label} prompt {i}"), dataset)
        out.append(PromptScored(i, rec, lp, int(rng.integers(5, 300)), False))
    return out


def test_headline_is_chosen_out_of_distribution_and_cross_fitted() -> None:
    rng = np.random.default_rng(3)
    deploy, evals = synthetic(150, "deploy", rng), synthetic(150, "eval", rng)
    ref, report = build_reference("syn", "m", "fp", deploy, evals, SENTENCES, EXTRA, {}, n_boot=100)
    assert report is not None and report.protocol == "leave-one-dataset-out"
    assert ref.joint is not None and ref.joint_method() == "logistic" and min(ref.joint.coef) >= 0
    figures = ref.provenance["headline"]
    assert isinstance(figures, dict) and figures["selected_by"] == "leave-one-dataset-out"
    assert set(figures["per_dataset"]) == {"mcq", "harm", "persona"}
    assert figures["auroc"] > max(figures["candidates"][s] for s in SENTENCES)
    # each fold model is the constrained fit on the other folds: scikit-learn on its active terms
    fold_of = np.array(ref.fold_of)
    rows = [ref.logprob_map(e) for e in ref.entries]
    y = np.array([int(e.label == "eval") for e in ref.entries])
    assert sorted(set(fold_of.tolist())) == list(range(len(ref.crossfit)))
    for k, model in enumerate(ref.crossfit):
        train = np.flatnonzero(fold_of != k)
        x = np.array([[r[t.aware] - (r[t.neutral] if t.neutral else 0.0) for t in model.terms] for r in rows])[train]
        z = (x - x.mean(0)) / x.std(0)
        active = np.array(model.coef) > 1e-6
        sk = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(z[:, active], y[train])
        assert np.array(model.coef)[active] == pytest.approx(sk.coef_[0], abs=1e-3)
    oof = np.array([by_hand(ref.crossfit[k], r) for r, k in zip(rows, fold_of, strict=True)])
    deploy_idx = np.flatnonzero(y == 0)
    # a reference prompt is placed by the fold model that never saw it, among the other prompts
    j = int(deploy_idx[np.argsort(oof[deploy_idx])[75]])  # a mid-ranked deployment prompt
    own = place_scores(rows[j], ref.entries[j].prompt_tokens, ref)
    assert own.in_reference and own.joint_score == pytest.approx(oof[j])
    others = oof[np.setdiff1d(deploy_idx, [j])]
    assert own.percentile == pytest.approx(percentileofscore(others, oof[j], kind="mean"))
    # a new prompt: the full model's score among every cross-fitted deployment score
    new = {**rows[j], "Sure": rows[j]["Sure"] + 0.2}
    placed = place_scores(new, 50, ref)
    assert not placed.in_reference and placed.joint_score == pytest.approx(by_hand(ref.joint, new))
    assert placed.percentile == pytest.approx(percentileofscore(oof[deploy_idx], placed.joint_score, kind="mean"))
    lo, hi = placed.percentile_ci
    assert lo <= placed.percentile <= hi and hi - lo > 5  # 150 deployment prompts: several points wide


def test_reference_for_another_model_is_refused(tmp_path: Path, built: tuple[StartOfCotMonitor, Reference]) -> None:
    monitor, ref = built
    store = ReferenceStore(tmp_path)
    ref.save(store.path_for("tiny"))
    other = StartOfCotMonitor(backend(seed=1), SENTENCES)
    assert other.model_fingerprint != monitor.model_fingerprint
    with pytest.raises(ReferenceError, match="under another identity"):
        store.for_fingerprint(other.model_fingerprint, "tiny")
    assert store.for_fingerprint(other.model_fingerprint) is None  # never used silently
    assert store.for_fingerprint(monitor.model_fingerprint).name == "tiny"  # type: ignore[union-attr]
    # a different CoT opener changes the fingerprint too
    opened = StartOfCotMonitor(monitor.backend, SENTENCES, cot_opener="Okay, ")
    assert opened.model_fingerprint != monitor.model_fingerprint
    store.remove("tiny")
    assert store.all() == []


def test_identity_mismatch_says_what_differs(tmp_path: Path, built: tuple[StartOfCotMonitor, Reference]) -> None:
    """A reference records the identity it was built under; another template date (or opener) on the
    same weights is refused by name with what differs, and reported as a near miss otherwise."""
    monitor, ref = built
    store = ReferenceStore(tmp_path)
    recorded = Reference(
        "dated",
        ref.model,
        monitor.model_fingerprint,
        ref.sentences,
        ref.eval_sentences,
        ref.entries,
        {"identity": monitor.identity},
    )
    recorded.save(store.path_for("dated"))
    later = StartOfCotMonitor(monitor.backend, SENTENCES, template_date="2027-03-04")
    assert later.identity["weights"] == monitor.identity["weights"]
    assert later.model_fingerprint != monitor.model_fingerprint
    with pytest.raises(ReferenceError, match=r"template date \(2026-01-01 vs now 2027-03-04\)"):
        store.for_fingerprint(later.model_fingerprint, "dated", later.identity)
    assert store.for_fingerprint(later.model_fingerprint, None, later.identity) is None
    [(miss, why)] = store.near_misses(later.model_fingerprint, later.identity)
    assert miss.name == "dated" and why == "differs in template date (2026-01-01 vs now 2027-03-04)"
    assert store.near_misses(monitor.model_fingerprint, monitor.identity) == []


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
