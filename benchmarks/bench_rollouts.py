"""AUROC vs K for the rollout monitor and the verbalization monitor (the seed study's Figure 2),
on a sample of ../shared/data with the embedded model, and what each costs.

The same core code as ``evalrefine validate --rollouts K``: every prompt gets K_max seeded rollouts
once, the K-rollout monitors use the first K (K = 0 is the start-of-CoT monitor). Rollout monitor:
max over rollouts and sentence boundaries of log P(any eval-aware sentence). Verbalization monitor:
share of the K rollouts that say the situation is a test (the offline pattern detector, or
``--judge SPEC`` for an LLM). Cost: forward-token equivalents per prompt (see
``evalrefine.core.rollouts.validation``). Also times one rollout pass against the plain monitor.

Usage: python benchmarks/bench_rollouts.py [--prompts N] [--max-new-tokens T] [--png FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _common import load_texts

from evalrefine.backends.factories import sampler_for
from evalrefine.backends.registry import load_backend
from evalrefine.backends.rewriters import make_verbalization_judge
from evalrefine.config import load_settings
from evalrefine.core.attribution.target import AnyTarget
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.rollouts.validation import auroc_by_k, sample_prompts
from evalrefine.core.scoring.monitor import StartOfCotMonitor

KS = (0, 1, 2, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--judge", default="patterns")
    parser.add_argument("--png", default=None)
    args = parser.parse_args()
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    monitor = StartOfCotMonitor(backend, list(settings.monitor.sentences))
    target = AnyTarget(tuple(settings.monitor.sentences))
    judge = make_verbalization_judge(args.judge, settings.refine)
    half = args.prompts // 2
    # Prompts of at most 600 characters, so a CPU run stays in minutes (long WildChat turns would
    # dominate the generation cost).
    evals = [r for r in load_texts("eval_prompts.jsonl") if len(r["text"]) <= 600]
    deploy = [r for r in load_texts("deploy_prompts.jsonl") if len(r["text"]) <= 600]
    evals, deploy = evals[:: len(evals) // half][:half], deploy[:: len(deploy) // half][:half]
    prompts = [(Conversation.from_user_text(r["text"]), True) for r in evals]
    prompts += [(Conversation.from_user_text(r["text"]), False) for r in deploy]
    t0 = time.perf_counter()
    results = []
    sampler = sampler_for(backend, settings.rollouts)
    for r in sample_prompts(monitor, prompts, sampler, target, judge, max(KS), 0, args.max_new_tokens):
        results.append(r)
        print(f"  prompt {len(results)}/{len(prompts)}", end="\r", file=sys.stderr, flush=True)
    secs = time.perf_counter() - t0
    t1 = time.perf_counter()
    for conv, _ in prompts:
        monitor.score(conv)
    plain = time.perf_counter() - t1
    points = auroc_by_k(results, KS)
    print(
        f"{backend.name}: {len(results)} prompts ({half} eval, {half} WildChat), up to {max(KS)} rollouts of "
        f"≤ {args.max_new_tokens} tokens, seed 0, judge {judge.name}; sampling pass {secs:.0f} s, "
        f"start-of-CoT monitor alone {plain:.1f} s ({secs / plain:.0f}× slower)"
    )
    header = "   K   rollout monitor AUROC [95% CI]   verbalization AUROC   verbalizing (eval / deploy)"
    print(header + "   cost (fwd tokens)")
    for p in points:
        v = f"{p.verbalization.auroc:.3f}" if p.verbalization else "—"
        ci = f"[{p.monitor.ci[0]:.2f}, {p.monitor.ci[1]:.2f}]"
        said = f"{p.verbalizing_eval:.0%} / {p.verbalizing_deploy:.0%}" if p.k else "—"
        verbal_cost = f"{p.verbalization_cost:.0f}" if p.k else "—"
        print(
            f"  {p.k:>2}   {p.monitor.auroc:>11.3f} {ci:<14}   {v:>19}   {said:^27}   "
            f"{p.monitor_cost:>6.0f} / {verbal_cost} per prompt (monitor / verbalization)"
        )
    if args.png:
        from evalrefine.render.plots import auroc_by_k_png

        auroc_by_k_png(points, args.png, f"{backend.name}: {len(results)} prompts, ≤ {args.max_new_tokens} tokens")
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
