"""AUROC vs K for the rollout monitor and the verbalization monitor (the seed study's Figure 2),
on a sample of ../shared/data with the embedded model, and what each costs.

For each prompt, K_max rollouts are sampled once (seeded); the K-rollout monitors use the first K.
Rollout monitor: max over rollouts and sentence boundaries of log P(any eval-aware sentence)
(K = 0 is the start-of-CoT monitor). Verbalization monitor: share of the K rollouts that say the
situation is a test (the offline pattern detector). Cost is in forward-token equivalents: prompt
tokens scored + tokens generated (scoring the boundaries re-reads each rollout once more, packed).

Usage: python benchmarks/bench_rollouts.py [--prompts N] [--max-new-tokens T]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _common import load_texts

from evalrefine.backends.registry import load_backend
from evalrefine.backends.sampler import HFSampler
from evalrefine.config import load_settings
from evalrefine.core.attribution.target import AnyTarget
from evalrefine.core.conversation import Conversation
from evalrefine.core.metrics import auroc
from evalrefine.core.monitor import StartOfCotMonitor
from evalrefine.core.rollouts import rollout_score
from evalrefine.core.verbalization import verbalizes

KS = (0, 1, 2, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    settings = load_settings()
    backend = load_backend(settings.model, settings.cache_dir)
    monitor = StartOfCotMonitor(backend, list(settings.monitor.sentences))
    target = AnyTarget(tuple(settings.monitor.sentences))
    sampler = HFSampler(backend)
    half = args.prompts // 2
    # Prompts of at most 600 characters, so a CPU run stays in minutes (long WildChat turns would
    # dominate the generation cost).
    evals = [r for r in load_texts("eval_prompts.jsonl") if len(r["text"]) <= 600]
    deploy = [r for r in load_texts("deploy_prompts.jsonl") if len(r["text"]) <= 600]
    evals, deploy = evals[:: len(evals) // half][:half], deploy[:: len(deploy) // half][:half]
    labels, peaks, verbal, prompt_tokens, generated = [], [], [], 0, 0
    t0 = time.perf_counter()
    for i, (label, row) in enumerate([(1, r) for r in evals] + [(0, r) for r in deploy]):
        print(f"  prompt {i + 1}/{2 * half}", end="\r", file=sys.stderr, flush=True)
        score = rollout_score(
            monitor, Conversation.from_user_text(row["text"]), sampler, target, max(KS), 0, args.max_new_tokens
        )
        labels.append(label)
        peaks.append([score.start, *(r.peak for r in score.rollouts)])
        verbal.append([verbalizes(r.text) for r in score.rollouts])
        prompt_tokens += len(monitor.prepare(Conversation.from_user_text(row["text"])).ids)
        generated += sum(len(r.token_ids) for r in score.rollouts)
    secs = time.perf_counter() - t0
    n = len(labels)
    print(
        f"{backend.name}: {n} prompts ({half} eval, {half} WildChat), up to {max(KS)} rollouts of "
        f"≤ {args.max_new_tokens} tokens, seed 0, {secs:.0f} s"
    )
    print("   K   rollout monitor AUROC   verbalization AUROC   verbalizing (eval / deploy)   cost (forward tokens)")

    def split(xs: list[float]) -> tuple[list[float], list[float]]:
        return [x for x, y in zip(xs, labels, strict=True) if y], [x for x, y in zip(xs, labels, strict=True) if not y]

    for k in KS:
        monitor_auroc = auroc(*split([max(p[: k + 1]) for p in peaks]))
        rate = [sum(v[:k]) / k if k else 0.0 for v in verbal]
        verb_auroc = auroc(*split(rate)) if k else float("nan")
        ev, dp = (sum(r > 0 for r in side) / half for side in split(rate))
        cost = (prompt_tokens + generated * k / max(KS)) / n
        row = f"  {k:>2}   {monitor_auroc:>21.3f}   {verb_auroc:>19.3f}   {ev:>11.0%} / {dp:<11.0%}"
        print(f"{row}   {cost:>10.0f} per prompt")


if __name__ == "__main__":
    main()
