"""Held-out validation: leave-one-dataset-out splits, the baselines, and the figures a report gives,
each recomputed independently with scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from evalrefine.core.calibration.heldout import lodo_splits
from evalrefine.core.calibration.validation import Scored, validate

SENTENCES = ["This is clearly a test", "The user might be testing"]
JOINT = ["This looks like an evaluation", "Sure"]
WORDS = [
    "please",
    "help",
    "me",
    "write",
    "code",
    "for",
    "a",
    "story",
    "about",
    "my",
    "cat",
    "and",
    "the",
    "weather",
    "today",
]


def prompts(seed: int = 0, n: int = 240) -> list[Scored]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        is_eval = i % 2 == 0
        dataset = ("mcq", "harm", "persona")[i % 3] if is_eval else "wildchat"
        lp = {s: float(rng.normal(-25 + 2.0 * is_eval, 3)) for s in [*SENTENCES, *JOINT]}
        lp["Sure"] = float(rng.normal(-5, 1))
        text = " ".join(rng.choice(WORDS, 6)) + (" (A) or (B)?" if dataset == "mcq" else "")
        out.append(Scored(lp, int(rng.integers(5, 400)), is_eval, dataset, text))
    return out


def test_lodo_holds_out_one_eval_set_with_its_own_traffic() -> None:
    ps = prompts()
    y = np.array([int(p.is_eval) for p in ps])
    splits = lodo_splits(y, [p.dataset for p in ps])
    assert sorted(s.name for s in splits) == ["harm", "mcq", "persona"]
    deploy_parts = []
    for s in splits:
        assert not set(s.train) & set(s.test) and len(s.train) + len(s.test) == len(ps)
        assert {ps[i].dataset for i in s.test if ps[i].is_eval} == {s.name}
        assert s.name not in {ps[i].dataset for i in s.train}
        deploy_parts.append({int(i) for i in s.test if not ps[i].is_eval})
    assert set().union(*deploy_parts) == set(np.flatnonzero(y == 0).tolist())
    assert sum(len(d) for d in deploy_parts) == int((y == 0).sum())  # disjoint
    with pytest.raises(ValueError, match="two datasets"):
        lodo_splits(y, ["mcq" if p.is_eval else "w" for p in ps])


def test_lodo_report_matches_sklearn_on_each_held_out_set() -> None:
    ps = prompts(1)
    report = validate(ps, SENTENCES, JOINT, n_boot=200, by="dataset", controlled=False)
    y = np.array([int(p.is_eval) for p in ps])
    splits = {s.name: s for s in lodo_splits(y, [p.dataset for p in ps])}
    assert report.protocol == "leave-one-dataset-out" and len(report.held_out) == 3
    for held in report.held_out:
        s = splits[held.name]
        yy = y[s.test]
        for sentence in SENTENCES:
            expected = roc_auc_score(yy, [ps[i].logprobs[sentence] for i in s.test])
            assert held.results[sentence].auroc == pytest.approx(expected, abs=1e-12)
        log_len = np.array([[math.log(p.prompt_tokens)] for p in ps])
        length = LogisticRegression().fit(log_len[s.train], y[s.train]).decision_function(log_len[s.test])
        assert held.results["length"].auroc == pytest.approx(roc_auc_score(yy, length), abs=1e-9)
        lo, hi = held.results["headline"].ci
        assert lo <= held.results["headline"].auroc <= hi
    mean = np.mean([h.results["This is clearly a test"].auroc for h in report.held_out])
    assert report.get("This is clearly a test").auroc == pytest.approx(mean)


def test_random_folds_baselines_are_out_of_fold() -> None:
    ps = prompts(2)
    report = validate(ps, SENTENCES, JOINT, n_boot=200)
    y = np.array([int(p.is_eval) for p in ps])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    texts = [p.text for p in ps]
    tfidf = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), LogisticRegression(C=10.0, solver="liblinear")
    )
    oof = np.empty(len(ps))
    for train, test in folds.split(np.zeros(len(y)), y):
        oof[test] = tfidf.fit([texts[i] for i in train], y[train]).decision_function([texts[i] for i in test])
    assert report.get("tfidf").auroc == pytest.approx(roc_auc_score(y, oof), abs=1e-9)
    log_len = np.array([[math.log(p.prompt_tokens)] for p in ps])
    length = cross_val_predict(LogisticRegression(), log_len, y, cv=folds, method="decision_function")
    assert report.length_only.auroc == pytest.approx(roc_auc_score(y, length), abs=1e-9)
    # the text classifier finds the "(A) or (B)" format; the monitor's gain over it is still reported
    assert set(report.get("headline").controlled) == {"length", "tfidf"}
    assert report.as_dict()["best"] in {*SENTENCES, "This looks like an evaluation", "any", "headline"}
