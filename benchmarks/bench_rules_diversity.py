"""Does the offline rules rewriter give every prompt its own edits, and do they still work?

A refined batch that shares an added sentence ("Hello! I've been reading about this all weekend…")
carries a new eval tell: the same words in hundreds of prompts. This runs the rules rewriter over
every prompt of ../shared/data/eval_prompts.jsonl without a model, the way the refine loop would
call it (the first request with the leading sentences as the top spans, then every candidate
rewritten again, ``--iters`` times), and counts the sentences each prompt gained: a sentence of a
candidate that is not a sentence of the prompt, compared after normalising whitespace and case.
The figure is the share of prompts in which the most frequent added sentence appears in any
candidate (goal ≤ 5%).

``--efficacy`` then runs the real refine loop with the rules rewriter on the embedded model, as
``evalrefine refine --rewriter rules --max-iters 3`` would (the shipped reference, the joint target,
its held-out check, the embedding guard), on a sample spread over the five datasets, and prints the
share brought to or below the deployment median.

``--rewriter-module`` and ``--rubric`` measure another version, e.g. the previous one:
    git show HEAD:evalrefine/core/refine/rules.py > /tmp/old_rules.py
    git show HEAD:rubrics/default.toml > /tmp/old_default.toml
    python benchmarks/bench_rules_diversity.py --rewriter-module /tmp/old_rules.py --rubric /tmp/old_default.toml

Usage: python benchmarks/bench_rules_diversity.py [--iters N] [--efficacy] [--sample N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from _common import SHARED_DATA

from evalrefine.core.attribution.spans import split_spans
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.io.prompt_sets import PromptRecord, read_prompt_set
from evalrefine.core.refine.rewriting import Rewriter, RewriteRequest
from evalrefine.core.refine.rubric import Rubric, find_rubric, load_rubric
from evalrefine.resources import data_dir

REF = Path(__file__).resolve().parents[1] / "evalrefine" / "references" / "smollm2-wildchat.json"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> set[str]:
    """Sentences of ``text``, whitespace collapsed and lower-cased: split at line breaks and after
    . ! or ? followed by whitespace (a plain splitter, independent of the rewriter's own)."""
    return {" ".join(s.split()).lower() for s in _SENTENCE_END.split(text) if s.strip()}


def added_sentences(original: str, rewritten: str) -> set[str]:
    return sentences(rewritten) - sentences(original)


def load_rewriter(module: Path | None, rubric: Rubric) -> Rewriter:
    if module is None:
        from evalrefine.core.refine.rules import RuleRewriter

        return RuleRewriter(rubric)
    spec = importlib.util.spec_from_file_location("_measured_rules_rewriter", module)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    rewriter: Rewriter = loaded.RuleRewriter(rubric)
    return rewriter


def simulated_texts(rewriter: Rewriter, rubric: Rubric, text: str, iters: int, k: int) -> list[str]:
    """Every candidate the rewriter proposes over ``iters`` model-free iterations: the top spans are
    the first three sentences (no model to rank them), and every candidate is expanded again."""
    out, frontier = [], [text]
    for iteration in range(1, iters + 1):
        nxt = []
        for parent in frontier:
            spans = [s.text for s in split_spans(Conversation.from_user_text(parent), "sentence")][:3]
            top = tuple((s, 3.0 - i) for i, s in enumerate(spans))
            for cand in rewriter.rewrite(RewriteRequest(parent, rubric, k, top_spans=top, iteration=iteration)):
                if cand.text not in out:
                    out.append(cand.text)
                    nxt.append(cand.text)
        frontier = nxt
    return out


def diversity(records: list[PromptRecord], rewriter: Rewriter, rubric: Rubric, iters: int, k: int) -> None:
    per_prompt: Counter[str] = Counter()
    first_only: Counter[str] = Counter()
    changed, texts = 0, 0
    t0 = time.perf_counter()
    for rec in records:
        original = rec.conversation.messages[-1].content
        produced = simulated_texts(rewriter, rubric, original, iters, k)
        texts += len(produced)
        changed += bool(produced)
        per_prompt.update(set().union(*(added_sentences(original, t) for t in produced)))
        if produced:
            first_only.update(added_sentences(original, produced[0]))
    n = len(records)
    print(
        f"{rewriter.name}: {n} prompts, {changed} changed, {texts} candidates over {iters} model-free "
        f"iterations (k={k}), {time.perf_counter() - t0:.1f} s"
    )
    print(f"  distinct added sentences: {len(per_prompt)}")
    for label, counts in (("in any candidate", per_prompt), ("in the first candidate", first_only)):
        if not counts:
            print(f"  no added sentence {label}")
            continue
        sentence, count = _ranked(counts)[0]
        print(f"  most frequent added sentence {label}: {count}/{n} = {100 * count / n:.1f}% (goal ≤ 5%)")
        print(f"    {sentence[:150]!r}")
    over = [(s, c) for s, c in _ranked(per_prompt) if c > 0.05 * n]
    print(f"  added sentences in more than 5% of prompts: {len(over)}")
    for sentence, count in over[:5]:
        print(f"    {count:4d}  {sentence[:110]!r}")


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    """Most frequent first; ties alphabetically, so the printed sentence is the same every run."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def efficacy(records: list[PromptRecord], rewriter: Rewriter, rubric: Rubric, sample: int, iters: int) -> None:
    """The real loop on the embedded model, configured as ``evalrefine refine --rewriter rules``."""
    from evalrefine.backends.embedder import SentenceTransformerEmbedder
    from evalrefine.cli.common import load_model, monitor_for
    from evalrefine.config import load_settings
    from evalrefine.core.attribution.target import JointTarget
    from evalrefine.core.calibration.reference import load_reference
    from evalrefine.core.refine.guard import IntentGuard
    from evalrefine.core.refine.loop import DEFAULT_HELD_OUT, Finished, RefineConfig, RefineScorer, refine

    settings = load_settings()
    backend = load_model(settings, quiet=True)
    ref = load_reference(REF)
    target = JointTarget(ref)
    monitor = monitor_for(backend, settings, (*target.sentences, *ref.required_sentences(), DEFAULT_HELD_OUT))
    scorer = RefineScorer(monitor, target, ref, DEFAULT_HELD_OUT)
    guard = IntentGuard((), SentenceTransformerEmbedder(), None, settings.refine.min_similarity)
    goal = settings.calibration.target_percentile
    config = RefineConfig(max_iters=iters, target_percentile=goal, max_held_out_rise=settings.refine.max_held_out_rise)

    by_dataset: dict[str, list[PromptRecord]] = defaultdict(list)
    for rec in records:
        by_dataset[rec.dataset or ""].append(rec)
    per = max(1, sample // len(by_dataset))
    picked = [r for recs in by_dataset.values() for r in recs[:: max(1, len(recs) // per)][:per]]
    rows: list[tuple[str, float, float, bool]] = []
    t0 = time.perf_counter()
    for rec in picked:
        done: Any = None
        for event in refine(rec.conversation, scorer, rewriter, guard, rubric, config):
            if isinstance(event, Finished):
                done = event
        assert done is not None and done.original.score is not None and done.best.score is not None
        rows.append((rec.dataset or "", done.original.score.percentile, done.best.score.percentile, done.best.id != 0))
        print(
            f"  [{len(rows)}/{len(picked)} {time.perf_counter() - t0:.0f} s] {rec.id}: "
            f"p{rows[-1][1]:.0f} -> p{rows[-1][2]:.0f} ({done.reason})",
            file=sys.stderr,
        )
    n, above = len(rows), [r for r in rows if r[1] > goal]
    reached = sum(1 for r in rows if r[2] <= goal)
    reached_above = sum(1 for r in above if r[2] <= goal)
    print(
        f"{rewriter.name} on {backend.name}, refine loop ≤ {iters} iterations, held-out rise limit "
        f"{config.max_held_out_rise}, {n} sampled eval prompts, {time.perf_counter() - t0:.0f} s"
    )
    print(f"  at or below the deployment median (p{goal:.0f}) after refine: {reached}/{n} = {100 * reached / n:.0f}%")
    print(
        f"  of the {len(above)} above it before: {reached_above}/{len(above)} = "
        f"{100 * reached_above / max(len(above), 1):.0f}% brought there; "
        f"{sum(1 for r in rows if r[3])}/{n} changed at all"
    )
    for ds in sorted(by_dataset):
        sub = [r for r in rows if r[0] == ds]
        ok = sum(1 for r in sub if r[2] <= goal)
        print(
            f"    {ds}: {ok}/{len(sub)} at or below, median percentile before/after "
            f"{sorted(r[1] for r in sub)[len(sub) // 2]:.0f}/{sorted(r[2] for r in sub)[len(sub) // 2]:.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=3, help="refine iterations (model-free and --efficacy)")
    parser.add_argument("-k", type=int, default=3, help="candidates per request")
    parser.add_argument("--efficacy", action="store_true", help="also run the refine loop on the embedded model")
    parser.add_argument("--sample", type=int, default=30, help="eval prompts for --efficacy")
    parser.add_argument("--rewriter-module", type=Path, help="a rules_rewriter.py to measure instead")
    parser.add_argument("--rubric", type=Path, help="a rubric file instead of the shipped default")
    args = parser.parse_args()
    path = SHARED_DATA / "eval_prompts.jsonl"
    if not path.is_file():
        sys.exit(f"needs {path} (the shared prompt sets, not part of a plain clone)")
    rubric = load_rubric(args.rubric) if args.rubric else find_rubric("default", [data_dir("rubrics")])
    rewriter = load_rewriter(args.rewriter_module, rubric)
    records = list(read_prompt_set(path))
    diversity(records, rewriter, rubric, args.iters, args.k)
    if args.efficacy:
        efficacy(records, rewriter, rubric, args.sample, args.iters)


if __name__ == "__main__":
    main()
