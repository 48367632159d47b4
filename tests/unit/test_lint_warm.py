"""A re-lint whose scores are all cached loads no model (issue 18: "warm is instant").

End to end, in fresh interpreters: the second ``evalrefine lint`` of an unchanged repository imports
neither torch nor transformers and prints the same JSON report as the first (only the ``cached``
flags differ), including a prompt too long for the context, whose error is cached too. Touching the
model file makes the next run load the model again; new weights give new scores. In process:
:func:`lint` calls a :class:`DeferredMonitor`'s loader only when the cache lacks a prompt, and the
identity stamp changes with exactly what the monitor identity depends on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalrefine.backends.hf_local import HFLocalBackend
from evalrefine.backends.stamps import identity_stamp
from evalrefine.config import load_settings
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.run import DeferredMonitor, LintFinished, LintReport, Threshold, lint
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache
from evalrefine.errors import ModelError
from tests.tiny import TEMPLATES, save_tiny, tiny_model, tiny_tokenizer

SENTENCES = ["This is clearly a test", "Hi"]

_RUN = """
import atexit, sys
atexit.register(lambda: sys.__stderr__.write(
    "HEAVY=" + ",".join(m for m in ("torch", "transformers") if m in sys.modules) + "\\n"))
from evalrefine.cli.main import main
sys.argv[0] = "evalrefine"
main()
"""


def _lint_cli(*args: str) -> tuple[dict[str, Any], list[str]]:
    """The JSON report of ``evalrefine lint ARGS`` and the heavy modules its process imported."""
    proc = subprocess.run([sys.executable, "-c", _RUN, "lint", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr  # 2: the overlong prompt is a problem
    heavy = next(line for line in proc.stderr.splitlines() if line.startswith("HEAVY="))
    return json.loads(proc.stdout), [m for m in heavy.removeprefix("HEAVY=").split(",") if m]


def _without_cached(report: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(report))
    for r in copy["results"]:
        del r["cached"]
    return copy


def _repo(root: Path, n: int) -> Path:
    root.mkdir()
    rows = [{"id": f"p{i}", "input": f"prompt {i} " + "word " * (i % 13)} for i in range(n)]
    rows += rows[:3]  # duplicates
    rows.append({"id": "long", "input": "Ünïcödé 🙂 " * 300})  # longer than the tiny model's 256 positions
    (root / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_warm_relint_imports_no_torch_and_reports_the_same(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "model", TEMPLATES["qwen3"])
    repo = _repo(tmp_path / "repo", 24)
    args = [str(repo), "--model", str(model), "--threshold", "-30", "--format", "json"]
    args += ["--cache", str(tmp_path / "c.sqlite"), *(f"--sentence={s}" for s in SENTENCES)]

    cold, heavy = _lint_cli(*args)
    assert heavy == ["torch", "transformers"]  # the model loaded (a lint batch is bulk work: torch scores it)
    assert len(cold["results"]) == 27 and not any(r["cached"] for r in cold["results"])
    assert [p["line"] for p in cold["problems"]] == [28]
    assert "context window" in cold["problems"][0]["message"]

    warm, heavy = _lint_cli(*args)
    assert heavy == []
    assert all(r["cached"] for r in warm["results"])
    assert _without_cached(warm) == _without_cached(cold)

    weights = model / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched, not changed
    touched, heavy = _lint_cli(*args)
    assert heavy == ["transformers"]  # loaded again (the stamp changed), but only to find every score cached
    assert all(r["cached"] for r in touched["results"])  # same weights, same scores
    assert _without_cached(touched) == _without_cached(cold)
    assert _lint_cli(*args)[1] == []  # and warm again

    tok = tiny_tokenizer(TEMPLATES["qwen3"])
    tiny_model(len(tok), seed=1).save_pretrained(model)  # new weights
    retrained, heavy = _lint_cli(*args)
    assert heavy == ["torch", "transformers"]
    assert not any(r["cached"] for r in retrained["results"])  # all scored afresh
    before = {r["hash"]: r["logprobs"] for r in cold["results"]}
    after = {r["hash"]: r["logprobs"] for r in retrained["results"]}
    assert before.keys() == after.keys() and all(before[h] != after[h] for h in before)


@pytest.fixture(scope="module")
def tiny_monitor() -> StartOfCotMonitor:
    tok = tiny_tokenizer(TEMPLATES["plain"])
    return StartOfCotMonitor(HFLocalBackend(tiny_model(len(tok)), tok, "tiny"), SENTENCES)


def _report(events: list[object]) -> LintReport:
    last = events[-1]
    assert isinstance(last, LintFinished)
    return last.report


def test_deferred_monitor_loads_only_on_a_miss(tiny_monitor: StartOfCotMonitor, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", 10)
    prompts, problems, skipped = gather([str(repo)], ["*.jsonl"], [], ["input"])
    cache = ScoreCache(tmp_path / "c.sqlite")
    limit = Threshold("logprob", -30)
    cold = _report(list(lint(prompts, problems, skipped, tiny_monitor, limit, None, cache)))
    loads: list[int] = []

    def load() -> StartOfCotMonitor:
        loads.append(1)
        return tiny_monitor

    fp = tiny_monitor.model_fingerprint
    warm = _report(list(lint(prompts, problems, skipped, DeferredMonitor(fp, SENTENCES, load), limit, None, cache)))
    assert loads == [] and all(r.cached for r in warm.results)
    assert [(r.prompt, r.logprobs, r.tokens, r.percentile) for r in warm.results] == [
        (r.prompt, r.logprobs, r.tokens, r.percentile) for r in cold.results
    ]
    assert warm.problems == cold.problems and len(cold.problems) == 1

    (repo / "b.jsonl").write_text(json.dumps({"input": "a prompt the cache has not seen"}) + "\n")
    more, problems, skipped = gather([str(repo)], ["*.jsonl"], [], ["input"])
    deferred = DeferredMonitor(fp, SENTENCES, load)
    mixed = _report(list(lint(more, problems, skipped, deferred, limit, None, cache)))
    assert loads == [1] and [r.prompt.record_id for r in mixed.results if not r.cached] == ["b:1"]

    stale = DeferredMonitor("0" * 32, SENTENCES, load)  # a fingerprint the loaded model does not have
    with pytest.raises(ModelError, match="identity changed"):
        list(lint(more, problems, skipped, stale, limit, None, cache))


def test_stamp_follows_what_the_identity_depends_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])

    def stamp(**monitor: object) -> str | None:
        settings = load_settings(model={"name": str(model)}, monitor=monitor)
        return identity_stamp(settings)

    base = stamp()
    assert base is not None and stamp() == base
    assert stamp(template_date="2025-06-01") != base
    assert stamp(cot_opener="<think>\n") != base
    assert stamp(sentences=["Another sentence"]) == base  # sentences are keyed per score, not in the identity
    assert identity_stamp(load_settings(model={"name": str(model), "dtype": "bfloat16"})) != base
    assert identity_stamp(load_settings(model={"name": str(model), "attn_implementation": "eager"})) != base
    (model / "chat_template.jinja").write_text((model / "chat_template.jinja").read_text() + " ")
    assert stamp() != base  # any file of the directory, not only the weights
    assert identity_stamp(load_settings(model={"name": "org/hub-model"})) is None  # found by the hub client
    assert identity_stamp(load_settings(model={"name": str(model), "server": "http://127.0.0.1:1/v1"})) is None
    assert identity_stamp(load_settings(model={"name": str(tmp_path / "missing.gguf")})) is None


def test_get_many_agrees_with_get(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path / "c.sqlite")
    hashes = [f"h{i}" for i in range(2000)]  # more than one chunk of SQLite parameters
    for i, h in enumerate(hashes):
        scores = {"a": -float(i), "b": -0.5 * i} if i % 7 else {"a": -float(i)}  # some lack sentence "b"
        cache.put("fp", h, i + 3, scores)
    cache.put("other-fp", "h1", 1, {"a": 0.0, "b": 0.0})
    asked = [*hashes, "unknown", "h5"]
    many = cache.get_many("fp", asked, ["b", "a"])
    assert many == {h: hit for h in asked if (hit := cache.get("fp", h, ["b", "a"])) is not None}
    assert len(many) == 2000 - 286 and list(many["h1"][1]) == ["b", "a"] and many["h1"] == (4, {"b": -0.5, "a": -1.0})
