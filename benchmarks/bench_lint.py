"""Lint throughput on the embedded model: prompts per second over prompts from ../shared/data.

Four ways over the same prompts, in one run:
  naive   one `monitor.score` per prompt, no cache, no batching (what a user would write)
  batch=1 lint's pipeline with packing off (cache writes, per-prompt passes)
  cold    lint as shipped: shortest first, packed batches, empty cache
  warm    lint again over an unchanged repository (every score from the SQLite cache)

Then the whole command as a user runs it, `evalrefine lint REPO --format json`, in a fresh
interpreter over --cli-prompts prompts: cold (empty cache: the model is loaded and everything
scored), then warm (the same command again: every score cached, so no model is loaded and neither
torch nor transformers is imported; issue 18 asks for <= 1 s at 800 prompts on 2 cores), and the ratio.

Usage: python benchmarks/bench_lint.py [--prompts N] [--batch-size B] [--cli-prompts M]
       (--prompts 0 or --cli-prompts 0 skips that part)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from _common import load_texts

from evalrefine.backends.registry import load_backend
from evalrefine.config import load_settings
from evalrefine.core.calibration.reference import load_reference
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.run import LintFinished, Threshold, lint
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.score_cache import ScoreCache

REF = Path(__file__).resolve().parents[1] / "evalrefine" / "references" / "smollm2-wildchat.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cli-prompts", type=int, default=800)
    args = parser.parse_args()
    if args.prompts > 0:
        in_process(args.prompts, args.batch_size)
    if args.cli_prompts > 0:
        cli_relint(args.cli_prompts)


def in_process(n_prompts: int, batch_size: int) -> None:
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    ref = load_reference(REF)
    monitor = StartOfCotMonitor(backend, list(dict.fromkeys([*settings.monitor.sentences, *ref.required_sentences()])))
    rows = load_texts("eval_prompts.jsonl")[::2] + load_texts("deploy_prompts.jsonl")[::2]
    step = max(1, len(rows) // n_prompts)
    rows = rows[::step][:n_prompts]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "prompts.jsonl").write_text("".join(json.dumps({"input": r["text"]}) + "\n" for r in rows))
        prompts, problems, skipped = gather([str(repo)], ["*.jsonl"], [], ["input"])
        n = len(prompts)
        tokens = sum(len(monitor.prepare(p.conversation).ids) for p in prompts)

        def run_lint(cache: ScoreCache | None, batch: int) -> float:
            t0 = time.perf_counter()
            events = lint(prompts, problems, skipped, monitor, Threshold("percentile", 90), ref, cache, None, batch)
            report = next(e for e in events if isinstance(e, LintFinished)).report
            assert len(report.results) == n
            return time.perf_counter() - t0

        monitor.score(prompts[0].conversation)  # warm-up
        t0 = time.perf_counter()
        for p in prompts:
            monitor.score(p.conversation)
        naive = time.perf_counter() - t0
        unbatched = run_lint(ScoreCache(Path(tmp) / "b1.sqlite"), 1)
        cache = ScoreCache(Path(tmp) / "c.sqlite")
        cold = run_lint(cache, batch_size)
        warm = run_lint(cache, batch_size)
    print(f"{backend.name}, {n} prompts ({tokens} prompt tokens, {len(monitor.sentences)} sentences each), CPU")
    for name, secs in (
        ("naive loop", naive),
        ("lint, batch=1", unbatched),
        (f"lint cold, batch={batch_size}", cold),
        ("lint warm (cached)", warm),
    ):
        print(f"  {name:<22} {secs:7.2f} s  {n / secs:8.1f} prompts/s  {naive / secs:6.2f}× naive")


_CLI = """
import atexit, sys
atexit.register(lambda: sys.__stderr__.write(
    "HEAVY=" + ",".join(m for m in ("torch", "transformers") if m in sys.modules) + "\\n"))
from evalrefine.cli.main import main
sys.argv[0] = "evalrefine"
main()
"""


def cli_relint(n_prompts: int, repeats: int = 3) -> None:
    """`evalrefine lint` in fresh interpreters, cold then warm (median of ``repeats``): what a CI job
    or a user at a terminal waits for; beside it, what importing the CLI alone costs on this machine."""
    rows = load_texts("eval_prompts.jsonl") + load_texts("deploy_prompts.jsonl")
    rows = rows[:: max(1, len(rows) // n_prompts)][:n_prompts]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "prompts.jsonl").write_text("".join(json.dumps({"input": r["text"]}) + "\n" for r in rows))
        command = ["lint", str(repo), "--format", "json", "--cache", str(Path(tmp) / "cli.sqlite")]

        def run() -> tuple[float, dict[str, Any], str]:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", _CLI, *command], capture_output=True, text=True)
            secs = time.perf_counter() - t0
            if proc.returncode not in (0, 1):
                raise SystemExit(f"evalrefine lint failed ({proc.returncode}): {proc.stderr[-2000:]}")
            heavy = next(x for x in proc.stderr.splitlines() if x.startswith("HEAVY=")).removeprefix("HEAVY=")
            report: dict[str, Any] = json.loads(proc.stdout)
            for r in report["results"]:
                del r["cached"]
            return secs, report, heavy or "neither torch nor transformers"

        def import_only() -> float:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import evalrefine.cli.main"], check=True)
            return time.perf_counter() - t0

        cold, cold_report, cold_heavy = run()
        warm_runs = [run() for _ in range(repeats)]
        imports = statistics.median(import_only() for _ in range(repeats))
    warm = statistics.median(w[0] for w in warm_runs)
    warm_heavy = ", ".join(sorted({w[2] for w in warm_runs}))
    same = "identical" if all(w[1] == cold_report for w in warm_runs) else "DIFFERENT"
    print(f"evalrefine lint (CLI, fresh interpreter), {len(rows)} prompts, {os.cpu_count()} cores:")
    print(f"  cold (empty cache)      {cold:7.2f} s  imported {cold_heavy}")
    print(f"  warm (all cached)       {warm:7.2f} s  imported {warm_heavy} (median of {repeats})")
    print(f"  of which starting Python and importing the CLI: {imports:.2f} s")
    print(f"  warm is {cold / warm:.0f}x faster; JSON reports {same} apart from the 'cached' flags")


if __name__ == "__main__":
    main()
