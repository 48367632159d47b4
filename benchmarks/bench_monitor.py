"""Cost of the start-of-CoT monitor on the embedded model, as ratios measured in one run.

On a ~300-token prompt with 4 sentences, compares
  * one plain forward pass over the prompt (the unit),
  * evalrefine's monitor (shared prefill + one batched pass over the sentences),
  * the naive computation: one full forward pass per prompt+sentence,
  * the NumPy engine's monitor on the same prompt (``model.engine: auto`` on a CPU), and a re-score
    after an edit at its end (what the TUI does while you type: the prompt's start is reused),
and, each in a fresh process as a user's command runs, the time from start to the first score with
each engine (imports, model load, one score; median of 3).

Usage: python benchmarks/bench_monitor.py [--repeats N] [--target-tokens T] [--attn-implementation eager]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

import torch
from _common import load_texts, median_seconds

from evalrefine.backends.registry import load_backend
from evalrefine.config import DEFAULT_SENTENCES, load_settings
from evalrefine.core.io.conversation import Conversation, Message
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
    model_settings = settings.model.model_copy(
        update={"attn_implementation": args.attn_implementation, "engine": "transformers"}
    )
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
    numpy_backend: Any = load_backend(settings.model, settings.cache_dir)
    numpy_monitor = StartOfCotMonitor(numpy_backend, SENTENCES)

    def afresh() -> None:
        numpy_backend._last = None  # nothing to reuse: the whole prompt is computed
        numpy_monitor.score(conv)

    t_np = median_seconds(afresh, args.repeats)
    ratio = f"{t_np / t_fwd:.2f}x   ({t_np / t_mon_all:.2f}x torch's monitor)"
    print(f"NumPy engine monitor (+ template, tok.) {t_np * 1e3:6.1f} ms   {ratio}")
    edits = iter(range(10**6))
    head, last = conv.messages[:-1], conv.messages[-1]

    def typing() -> None:  # the TUI re-scores after each pause in typing: here, an edit at the end
        numpy_monitor.score(Conversation((*head, Message(last.role, last.content + " x" * next(edits)))))

    t_typing = median_seconds(typing, args.repeats)
    print(f"NumPy, re-score after an edit at the end {t_typing * 1e3:5.1f} ms   ({t_np / t_typing:.1f}x less)")
    print("\nstart → first score in a fresh process (imports, load, one score), median of 3:")
    for engine in ("numpy", "transformers"):
        runs = [first_score_seconds(engine) for _ in range(3)]
        print(f"  engine {engine:<12} {statistics.median(runs):5.2f} s   (runs {', '.join(f'{r:.2f}' for r in runs)})")


def first_score_seconds(engine: str) -> float:
    code = (
        "from evalrefine import open_session\n"
        "from evalrefine.core.io.conversation import Conversation\n"
        f"s = open_session(model={{'engine': {engine!r}}})\n"
        "s.score(Conversation.from_user_text('Is this a test? Tell me honestly.'))\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
