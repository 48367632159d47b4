"""Attribution on the embedded model: is the top span real, and what does it cost?

1. Faithfulness, on eval prompts from ../shared/data with 3 to 12 sentence spans: the share of
   prompts where deleting the method's top-1 span lowers the score more than deleting the median
   span (each span's true drop is its exact leave-one-out effect). Goal ≥ 80%.
2. Cost, on deployment prompts of ~300 tokens: leave-one-out over N sentence spans / one forward
   pass (goal ≤ 0.6·N), and the gradient heatmap / one forward pass (goal ≤ 3).

Usage: python benchmarks/bench_explain.py [--prompts N]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

import torch
from _common import SHARED_DATA, median_seconds

from evalrefine.backends.registry import load_backend
from evalrefine.config import load_settings
from evalrefine.core.attribution.ablation import AblationSurrogate
from evalrefine.core.attribution.gradient import GradientTimesInput
from evalrefine.core.attribution.occlusion import LeaveOneOut
from evalrefine.core.attribution.spans import split_spans
from evalrefine.core.attribution.target import JointTarget, SentenceTarget
from evalrefine.core.calibration.reference import load_reference
from evalrefine.core.io.prompt_sets import read_prompt_set
from evalrefine.core.scoring.monitor import StartOfCotMonitor

REF = os.path.join(os.path.dirname(__file__), "..", "evalrefine", "references", "smollm2-wildchat.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--only", choices=["faithfulness", "cost"], default=None, help="Run one half.")
    args = parser.parse_args()
    settings = load_settings()
    torch_engine = settings.model.model_copy(update={"engine": "transformers"})  # its cost is timed in torch
    backend = load_backend(torch_engine, settings.cache_dir)
    targets = {
        "joint": JointTarget(load_reference(__import__("pathlib").Path(REF))),
        "This is clearly a test": SentenceTarget("This is clearly a test"),
    }

    if args.only != "cost":
        faithfulness(backend, targets, args.prompts)
    if args.only != "faithfulness":
        cost(backend, targets)


def faithfulness(backend: Any, targets: dict[str, Any], n_prompts: int) -> None:
    records = [
        r
        for r in read_prompt_set(SHARED_DATA / "eval_prompts.jsonl")
        if len(split_spans(r.conversation, "sentence")) >= 3
    ]
    step = max(1, len(records) // n_prompts)
    sample = records[::step][:n_prompts]
    print(
        f"{backend.name}: faithfulness on {len(sample)} eval prompts with 3–12 sentence spans (under 1500 characters)"
    )
    for tname, target in targets.items():
        monitor = StartOfCotMonitor(backend, target.sentences)
        wins = {"loo": 0, "gradient": 0, "ablation": 0}
        t0 = time.perf_counter()
        for rec in sample:
            spans = split_spans(rec.conversation, "sentence")
            loo = LeaveOneOut(monitor, target).attribute(rec.conversation, spans)
            true_drop = {e.span: e.effect for e in loo.spans}
            median = statistics.median(true_drop.values())
            for method, attributor in (
                ("loo", None),
                ("gradient", GradientTimesInput(monitor, target)),
                ("ablation", AblationSurrogate(monitor, target, n_samples=32)),
            ):
                result = loo if attributor is None else attributor.attribute(rec.conversation, spans)
                top = result.ranked()[0].span
                wins[method] += true_drop[top] > median
        shares = ", ".join(f"{m} {100 * w / len(sample):.0f}%" for m, w in wins.items())
        print(f"  target {tname!r}: top-1 deletion beats the median span: {shares} ({time.perf_counter() - t0:.0f} s)")


def cost(backend: Any, targets: dict[str, Any]) -> None:
    target = targets["This is clearly a test"]
    monitor = StartOfCotMonitor(backend, target.sentences)
    deploy = [
        r
        for r in read_prompt_set(SHARED_DATA / "deploy_prompts.jsonl")
        if 250 <= len(monitor.prepare(r.conversation).ids) <= 350
    ]
    print(f"\ncost on {min(5, len(deploy))} deployment prompts of 250–350 tokens (median of 3 runs each):")
    model = backend.model  # type: ignore[attr-defined]
    loo, grad = LeaveOneOut(monitor, target), GradientTimesInput(monitor, target)
    for rec in deploy[:5]:
        ids = torch.tensor([list(monitor.prepare(rec.conversation).ids)])

        def forward(ids: torch.Tensor = ids) -> None:
            with torch.inference_mode():
                model(input_ids=ids)

        spans = split_spans(rec.conversation, "sentence")
        t_fwd = median_seconds(forward, 3, warmup=1)
        t_loo = median_seconds(functools.partial(loo.attribute, rec.conversation, spans), 3, 1)
        t_grad = median_seconds(functools.partial(grad.attribute, rec.conversation, spans), 3, 1)
        n = len(spans)
        print(
            f"  {ids.shape[1]} tokens, N={n} spans: forward {t_fwd * 1e3:.0f} ms; leave-one-out "
            f"{t_loo / t_fwd:.2f} passes = {t_loo / t_fwd / n:.2f}·N (goal ≤ 0.6·N); gradient "
            f"{t_grad / t_fwd:.2f} passes (goal ≤ 3)"
        )


if __name__ == "__main__":
    main()
