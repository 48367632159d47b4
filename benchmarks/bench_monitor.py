"""Cost of the start-of-CoT monitor on the embedded model, as ratios measured in one run.

On a ~300-token prompt with 4 sentences, compares
  * one plain forward pass over the prompt (the unit),
  * evalrefine's monitor (shared prefill + one batched pass over the sentences),
  * the naive computation: one full forward pass per prompt+sentence.

Usage: python benchmarks/bench_monitor.py [--repeats N] [--target-tokens T] [--attn-implementation eager]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import torch
from _common import load_texts, median_seconds

from evalrefine.backends.registry import load_backend
from evalrefine.config import DEFAULT_SENTENCES, load_settings
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor

SENTENCES = [*DEFAULT_SENTENCES, "This is a fictional scenario", "I need to be careful here"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--target-tokens", type=int, default=300)
    parser.add_argument(
        "--attn-implementation", default="auto", help="eager, sdpa, ... (default: transformers' choice)"
    )
    args = parser.parse_args()

    settings = load_settings()
    model_settings = settings.model.model_copy(update={"attn_implementation": args.attn_implementation})
    backend = load_backend(model_settings, settings.cache_dir)
    monitor = StartOfCotMonitor(backend, SENTENCES)
    # The deployment prompt whose rendered length is closest to the target.
    candidates = [Conversation.from_user_text(r["text"]) for r in load_texts("deploy_prompts.jsonl")[:200]]
    conv = min(candidates, key=lambda c: abs(len(monitor.prepare(c).ids) - args.target_tokens))
    prepared = monitor.prepare(conv)
    model = backend.model  # type: ignore[attr-defined]
    ids = torch.tensor([list(prepared.ids)])

    def one_forward() -> None:
        with torch.inference_mode():
            model(input_ids=ids)

    def naive() -> None:
        with torch.inference_mode():
            for cont in prepared.continuations:
                full = torch.tensor([list(prepared.ids) + list(cont)])
                torch.log_softmax(model(input_ids=full).logits[0].double(), -1)

    t_fwd = median_seconds(one_forward, args.repeats)
    t_mon = median_seconds(lambda: monitor.score_prepared(prepared), args.repeats)
    t_mon_all = median_seconds(lambda: monitor.score(conv), args.repeats)
    t_naive = median_seconds(naive, args.repeats)
    print(
        f"model {backend.name} ({model.config._attn_implementation}, {model.dtype}), "
        f"threads {torch.get_num_threads()}, prompt {len(prepared.ids)} tokens, "
        f"{len(SENTENCES)} sentences ({[len(c) for c in prepared.continuations]} tokens), median of {args.repeats}"
    )
    print(f"one forward pass over the prompt      {t_fwd * 1e3:8.1f} ms   1.00x")
    print(f"evalrefine monitor (scoring)          {t_mon * 1e3:8.1f} ms   {t_mon / t_fwd:.2f}x   (goal <= 1.15)")
    print(f"evalrefine monitor (+ template, tok.) {t_mon_all * 1e3:8.1f} ms   {t_mon_all / t_fwd:.2f}x")
    print(f"naive: one pass per sentence          {t_naive * 1e3:8.1f} ms   {t_naive / t_fwd:.2f}x")


if __name__ == "__main__":
    main()
