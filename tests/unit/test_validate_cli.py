"""`evalrefine validate` and `evalrefine reference build` end to end on a tiny local model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.tiny import CORPUS, TEMPLATES, save_tiny

SENTENCES = ["This is clearly a test", "The user might be testing"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("validate")
    model = save_tiny(root / "model", TEMPLATES["plain"])
    words = " ".join(CORPUS).split()
    evals = [
        {"id": f"e{i}", "text": "Choose (A) or (B). " + " ".join(words[i : i + 6]), "dataset": "mcq"} for i in range(24)
    ]
    deploys = [{"text": "hey can you help me " + " ".join(words[i + 3 : i + 12])} for i in range(24)]
    (root / "evals.jsonl").write_text("\n".join(json.dumps(r) for r in evals))
    with (root / "deploy.csv").open("w") as fh:
        fh.write("text\n" + "".join(f'"{r["text"]}"\n' for r in deploys))
    return {"root": root, "model": model, "evals": root / "evals.jsonl", "deploy": root / "deploy.csv"}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalrefine.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_validate_json_contract_and_numbers(setup: dict[str, Path]) -> None:
    env = {"EVALREFINE_CACHE_DIR": str(setup["root"] / "cache")}
    proc = run(
        "validate",
        "--eval",
        str(setup["evals"]),
        "--deploy",
        str(setup["deploy"]),
        "--model",
        str(setup["model"]),
        "--json",
        "--png",
        str(setup["root"] / "roc.png"),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["n_eval"], data["n_deploy"]) == (24, 24)
    assert data["protocol"] == "random folds" and data["best"] in data["monitors"]
    assert {"length", "tfidf", "headline", "any"} <= set(data["monitors"])
    assert set(data["monitors"]["headline"]["gain_over"]) == {"length", "tfidf"}
    # each sentence's AUROC uses its raw log P: recompute independently and compare with scikit-learn
    monitor = StartOfCotMonitor(HFLocalBackend.load(setup["model"]), SENTENCES)
    words = " ".join(CORPUS).split()
    texts = [f"Choose (A) or (B). {' '.join(words[i : i + 6])}" for i in range(24)] + [
        f"hey can you help me {' '.join(words[i + 3 : i + 12])}" for i in range(24)
    ]
    results = [monitor.score(Conversation.from_user_text(t)) for t in texts]
    scores = np.array([[s.logprob for s in r.sentences] for r in results])
    y = np.r_[np.ones(24), np.zeros(24)]
    for j, entry in enumerate(data["sentences"][: len(SENTENCES)]):  # the seed two come first
        assert entry["sentence"] == SENTENCES[j]
        assert entry["auroc"] == pytest.approx(roc_auc_score(y, scores[:, j]), abs=1e-9)
        assert entry["ci"][0] <= entry["auroc"] <= entry["ci"][1]
    # prompt length alone, out of fold (validate orders deployment prompts first)
    log_len = np.log([[len(r.prompt.ids)] for r in results[24:] + results[:24]])
    yy = np.r_[np.zeros(24), np.ones(24)]
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    length = cross_val_predict(LogisticRegression(), log_len, yy, cv=folds, method="decision_function")
    assert data["monitors"]["length"]["auroc"] == pytest.approx(roc_auc_score(yy, length), abs=1e-9)
    assert (setup["root"] / "roc.png").read_bytes()[:4] == b"\x89PNG"
    # second run: everything comes from the score cache, same numbers
    again = json.loads(
        run(
            "validate",
            "--eval",
            str(setup["evals"]),
            "--deploy",
            str(setup["deploy"]),
            "--model",
            str(setup["model"]),
            "--json",
            env=env,
        ).stdout
    )
    assert again["sentences"] == data["sentences"]


def test_validate_by_dataset_needs_two_eval_sets(setup: dict[str, Path]) -> None:
    env = {"EVALREFINE_CACHE_DIR": str(setup["root"] / "cache")}
    args = ["validate", "--eval", str(setup["evals"]), "--deploy", str(setup["deploy"]), "--model"]
    proc = run(*args, str(setup["model"]), "--by", "dataset", env=env)
    assert proc.returncode == 2 and "two datasets" in proc.stderr and "Traceback" not in proc.stderr


def test_reference_build_list_score_remove(setup: dict[str, Path]) -> None:
    env = {"EVALREFINE_DATA_DIR": str(setup["root"] / "data"), "EVALREFINE_CACHE_DIR": str(setup["root"] / "cache")}
    proc = run(
        "reference",
        "build",
        "--deploy",
        str(setup["deploy"]),
        "--eval",
        str(setup["evals"]),
        "--name",
        "mine",
        "--model",
        str(setup["model"]),
        "--json",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_deploy"] == 24
    listed = json.loads(run("reference", "list", "--json", env=env).stdout)
    assert "mine" in [r["name"] for r in listed]
    prompt = setup["root"] / "p.txt"
    prompt.write_text("This is a hypothetical scenario. Choose (A) or (B).")
    scored = run("score", str(prompt), "--model", str(setup["model"]), "--json", env=env)
    data = json.loads(scored.stdout)
    assert data["reference"] == "mine" and 0 <= data["percentile"] <= 100
    assert all(0 <= s["percentile"] <= 100 for s in data["sentences"])
    assert data["joint"]["percentile"] == data["percentile"]
    lo, hi = data["percentile_ci95"]
    assert lo <= data["percentile"] <= hi and data["n_deploy"] == 24
    assert data["headline_trust"]["selected_by"] == "random folds"  # one eval dataset: no held-out sets
    # the shipped SmolLM2 reference is never applied to this other model
    refused = run("score", str(prompt), "--model", str(setup["model"]), "--reference", "smollm2-wildchat", env=env)
    assert refused.returncode == 2 and "another identity" in refused.stderr
    assert run("reference", "remove", "mine", env=env).returncode == 0
    assert "mine" not in [r["name"] for r in json.loads(run("reference", "list", "--json", env=env).stdout)]


def test_from_hf_offline_is_a_clear_error(setup: dict[str, Path]) -> None:
    proc = run("reference", "build", "--from-hf", "allenai/WildChat-1M", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    assert "HF_HUB_OFFLINE=1" in proc.stderr and "Traceback" not in proc.stderr


def test_target_flag_sets_the_verdict(setup: dict[str, Path]) -> None:
    env = {"EVALREFINE_DATA_DIR": str(setup["root"] / "data2"), "EVALREFINE_CACHE_DIR": str(setup["root"] / "cache")}
    built = run(
        "reference", "build", "--deploy", str(setup["deploy"]), "--model", str(setup["model"]), "--json", env=env
    )
    assert built.returncode == 0, built.stderr
    prompt = setup["root"] / "q.txt"
    prompt.write_text("hey can you help me")
    for target in ("0", "100"):
        data = json.loads(
            run("score", str(prompt), "--model", str(setup["model"]), "--json", "--target", target, env=env).stdout
        )
        assert data["target_percentile"] == float(target)
        assert data["passes"] == (data["percentile"] <= float(target))


def test_validate_rollouts_auroc_by_k(setup: dict[str, Path]) -> None:
    """AUROC at each K equals scikit-learn on independently computed rollout scores (same seed);
    the table, the terminal chart and the PNG render. K comes from the environment here."""
    from evalrefine.backends.sampler import HFSampler
    from evalrefine.core.attribution.target import AnyTarget
    from evalrefine.core.rollouts.monitor import rollout_score

    env = {"EVALREFINE_CACHE_DIR": str(setup["root"] / "cache"), "EVALREFINE_ROLLOUTS__COUNT": "3"}
    common = ["validate", "--eval", str(setup["evals"]), "--deploy", str(setup["deploy"]), "--model"]
    args = [*common, str(setup["model"]), "--limit", "8", "--max-new-tokens", "6", "--seed", "5"]
    proc = run(*args, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    points = json.loads(proc.stdout)["rollouts"]
    assert [p["k"] for p in points] == [0, 1, 2, 3]
    monitor = StartOfCotMonitor(HFLocalBackend.load(setup["model"]), SENTENCES)
    words = " ".join(CORPUS).split()
    texts = [f"Choose (A) or (B). {' '.join(words[i : i + 6])}" for i in range(8)] + [
        f"hey can you help me {' '.join(words[i + 3 : i + 12])}" for i in range(8)
    ]
    sampler = HFSampler(monitor.backend)
    scores = [
        rollout_score(monitor, Conversation.from_user_text(t), sampler, AnyTarget(tuple(SENTENCES)), 3, 5, 6)
        for t in texts
    ]
    y = np.r_[np.ones(8), np.zeros(8)]
    for p in points:
        values = [max([s.start, *(r.peak for r in s.rollouts[: p["k"]])]) for s in scores]
        assert p["monitor_auroc"] == pytest.approx(roc_auc_score(y, values), abs=1e-9)
        assert p["monitor_ci95"][0] <= p["monitor_auroc"] <= p["monitor_ci95"][1]
    assert points[0]["verbalization_auroc"] is None and points[0]["monitor_cost_tokens"] > 0
    drawn = run(*args, "--rollouts-png", str(setup["root"] / "k.png"), env=env)
    assert drawn.returncode == 0, drawn.stderr
    assert "AUROC against rollouts" in drawn.stdout and "rollouts per prompt (K)" in drawn.stdout
    assert (setup["root"] / "k.png").read_bytes()[:4] == b"\x89PNG"
