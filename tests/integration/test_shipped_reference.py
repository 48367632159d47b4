"""The deployment reference shipped for the embedded model: it matches, its headline is monotone in
eval awareness and chosen out of distribution, and it places scores exactly (recomputed by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import percentileofscore

from evalrefine.config import load_settings
from evalrefine.core.calibration.joint import MonotoneJoint, logsumexp
from evalrefine.core.calibration.reference import Reference, load_reference
from evalrefine.core.io.conversation import load_conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.conftest import REPO

pytestmark = pytest.mark.integration
SHIPPED = REPO / "evalrefine" / "references" / "smollm2-wildchat.json"


def by_hand(ref: Reference, model: MonotoneJoint | None, lp: dict[str, float]) -> float:
    """The headline from the stored numbers alone (``any`` when the reference has no fitted one)."""
    if model is None:
        return logsumexp([lp[s] for s in ref.eval_sentences])
    x = np.array([lp[t.aware] - (lp[t.neutral] if t.neutral else 0.0) for t in model.terms])
    return float(((x - np.array(model.mean)) / np.array(model.scale)) @ np.array(model.coef) + model.intercept)


def test_shipped_reference_matches_the_embedded_model(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    ref = load_reference(SHIPPED)
    settings = load_settings()
    monitor = StartOfCotMonitor(embedded_backend, settings.monitor.sentences)
    assert ref.model_fingerprint == monitor.model_fingerprint
    assert (len(ref.labelled("deploy")), len(ref.labelled("eval"))) == (450, 544)
    assert set(settings.monitor.joint_sentences) <= set(ref.sentences)
    assert "text" not in json.loads(SHIPPED.read_text())["entries"][0]
    figures = ref.provenance["headline"]
    assert isinstance(figures, dict) and figures["selected_by"] == "leave-one-dataset-out"
    assert len(figures["per_dataset"]) == 5
    method = ref.joint_method()
    chosen = {"logistic": "headline", "any": "any"}.get(method) or (ref.joint.terms[0].aware if ref.joint else "")
    assert figures["method"] == chosen
    if ref.joint is not None:
        assert min(ref.joint.coef) >= 0.0 and all(min(m.coef) >= 0.0 for m in ref.crossfit)
        assert all(w >= 0 for s, w in ref.joint.sentence_weights().items() if s in ref.eval_sentences)


def test_score_json_percentile_is_exact(embedded_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    example = REPO / "examples" / "hypothetical_scenario.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "evalrefine.cli.main", "score", str(example), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    ref = load_reference(SHIPPED)
    monitor = StartOfCotMonitor(embedded_backend, list(dict.fromkeys([*ref.eval_sentences, *ref.sentences])))
    result = monitor.score(load_conversation(example))
    logprobs = {s.sentence: s.logprob for s in result.sentences}
    joint = by_hand(ref, ref.joint, logprobs)
    # the reference's own scores are cross-fitted: each deployment prompt by the fold model without it
    deploy = [(ref.logprob_map(e), k) for e, k in zip(ref.entries, ref.fold_of or [0] * len(ref.entries), strict=True)]
    deploy_joint = [
        by_hand(ref, ref.crossfit[k] if ref.crossfit else ref.joint, lp)
        for (lp, k), e in zip(deploy, ref.entries, strict=True)
        if e.label == "deploy"
    ]
    assert data["joint"]["method"] == ref.joint_method()
    assert data["joint"]["score"] == pytest.approx(joint, abs=1e-4)
    assert data["percentile"] == pytest.approx(percentileofscore(deploy_joint, joint, kind="mean"))
    lo, hi = data["percentile_ci95"]
    assert lo <= data["percentile"] <= hi and data["headline_trust"]["selected_by"] == "leave-one-dataset-out"
    for s in data["sentences"]:
        deploy_s = ref.sentence_scores(s["sentence"], "deploy")
        assert s["percentile"] == pytest.approx(percentileofscore(deploy_s, s["logprob"], kind="mean"))
    assert data["verdict"] == ("reads like deployment traffic" if data["percentile"] <= 50 else "looks like a test")
