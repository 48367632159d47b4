"""The deployment reference shipped for the embedded model: it matches, and places scores exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from scipy.stats import percentileofscore

from evalrefine.config import load_settings
from evalrefine.core.conversation import load_conversation
from evalrefine.core.monitor import StartOfCotMonitor
from evalrefine.core.reference import load_reference
from tests.conftest import REPO

pytestmark = pytest.mark.integration
SHIPPED = REPO / "evalrefine" / "references" / "smollm2-wildchat.json"


def test_shipped_reference_matches_the_embedded_model(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    ref = load_reference(SHIPPED)
    settings = load_settings()
    monitor = StartOfCotMonitor(embedded_backend, settings.monitor.sentences)
    assert ref.model_fingerprint == monitor.model_fingerprint
    assert (len(ref.labelled("deploy")), len(ref.labelled("eval"))) == (450, 544)
    assert ref.joint is not None and set(settings.monitor.joint_sentences) <= set(ref.sentences)
    assert "text" not in json.loads(SHIPPED.read_text())["entries"][0]


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
    joint = ref.joint_score(logprobs, len(result.prompt.ids))
    deploy_joint = [ref.joint_score(ref.logprob_map(e), e.prompt_tokens) for e in ref.labelled("deploy")]
    assert data["joint"]["method"] == "logistic"
    assert data["joint"]["score"] == pytest.approx(joint, abs=1e-4)
    assert data["percentile"] == pytest.approx(percentileofscore(deploy_joint, joint, kind="mean"))
    for s in data["sentences"]:
        deploy = ref.sentence_scores(s["sentence"], "deploy")
        assert s["percentile"] == pytest.approx(percentileofscore(deploy, s["logprob"], kind="mean"))
    assert data["verdict"] == ("reads like deployment traffic" if data["percentile"] <= 50 else "looks like a test")
