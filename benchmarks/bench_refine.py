"""The offline rewriter on the embedded model: how often does refine make an eval read like traffic?

Over eval prompts from ../shared/data whose joint score is above the deployment median (a sample,
spread over the datasets): the share brought to or below the median within 5 iterations, the
median drop of the joint score and of log P("This is clearly a test"), and how the held-out
sentence (never optimised) moved.

Usage: python benchmarks/bench_refine.py [--prompts N] [--iters N] [--max-held-out-rise NATS]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(__file__))

from _common import SHARED_DATA

import evalrefine
from evalrefine.core.io.prompt_sets import read_prompt_set
from evalrefine.core.refine.loop import Finished, PromptScore, with_user_text

HELD_OUT = "This seems like a test"
WATCHED = "This is clearly a test"


def placed(score: PromptScore) -> float:
    """The score's percentile: never ``None`` here, since every score is placed against the shipped reference."""
    assert score.percentile is not None
    return score.percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument(
        "--max-held-out-rise", type=float, default=None, help="reject rewrites whose held-out log P rises more"
    )
    args = parser.parse_args()
    # What `evalrefine refine --rewriter rules` runs: the same Session, reference, target and guard.
    session = evalrefine.open_session(refine={"rewriter": "rules"})
    backend = session.backend
    scorer = session.refine_scorer(HELD_OUT)
    watch = session.monitor_for([WATCHED])
    config = session.refine_config(args.iters, max_held_out_rise=args.max_held_out_rise, target_percentile=50.0)

    by_dataset = defaultdict(list)
    for rec in read_prompt_set(SHARED_DATA / "eval_prompts.jsonl"):
        by_dataset[rec.dataset].append(rec)
    per = max(1, args.prompts // len(by_dataset))
    sample = [r for recs in by_dataset.values() for r in recs[:: max(1, len(recs) // per)][:per]]
    rows = []
    stops: Counter[str] = Counter()
    iterations: list[int] = []
    t0 = time.perf_counter()
    for rec in sample:
        first = scorer.score(rec.conversation)
        if first.percentile is None or first.percentile <= 50:
            continue
        events = list(session.refine(rec.conversation, config=config, held_out=HELD_OUT))
        finished = next(e for e in events if isinstance(e, Finished))
        stops[finished.reason.split(":")[0]] += 1
        iterations.append(finished.iterations)
        best = finished.best.score
        assert best is not None
        watched = [
            watch.score(with_user_text(rec.conversation, t)).sentences
            for t in (finished.original.text, finished.best.text)
        ]
        lp = [next(s.logprob for s in w if s.sentence == WATCHED) for w in watched]
        rows.append((rec.dataset, first, best, lp[0] - lp[1], finished.best.id != 0))
    n = len(rows)
    reached = sum(1 for _, _, b, _, _ in rows if b.percentile is not None and b.percentile <= 50)
    changed = sum(1 for *_, c in rows if c)
    print(
        f"{backend.name}, offline rules rewriter, ≤ {args.iters} iterations, held-out rise limit "
        f"{args.max_held_out_rise}, {n} eval prompts above the "
        f"deployment median (of {len(sample)} sampled), {time.perf_counter() - t0:.0f} s"
    )
    print(f"  brought to or below the deployment median: {reached}/{n} = {100 * reached / max(n, 1):.0f}% (goal ≥ 40%)")
    print(f"  prompts the rewriter changed at all: {changed}/{n}")
    print(
        f"  median drop of the joint score: {statistics.median(f.value - b.value for _, f, b, _, _ in rows):.3f} "
        f"(percentile {statistics.median(placed(f) - placed(b) for _, f, b, _, _ in rows):.1f} points)"
    )
    print(f"  median drop of log P({WATCHED!r}): {statistics.median(d for *_, d, _ in rows):.3f} nats")
    held = [b.held_out - f.held_out for _, f, b, _, _ in rows]
    print(
        f"  held-out {HELD_OUT!r} (never optimised): median change {statistics.median(held):+.3f} nats, "
        f"lower in {sum(h < 0 for h in held)}/{n}"
    )
    print(f"  iterations run: median {statistics.median(iterations or [0])}; why the loop ended: {dict(stops)}")
    for ds in sorted({r[0] for r in rows}):
        sub = [r for r in rows if r[0] == ds]
        ok = sum(1 for _, _, b, _, _ in sub if b.percentile is not None and b.percentile <= 50)
        print(f"    {ds}: {ok}/{len(sub)} reached, changed {sum(1 for *_, c in sub if c)}")


if __name__ == "__main__":
    main()
