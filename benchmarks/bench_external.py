"""The shipped headline on eval sets and traffic that are not in ../shared (issue 15, point 7).

The reference's headline (``evalrefine/references/smollm2-wildchat.json``) and its sentences were
chosen on ../shared/data, so its leave-one-dataset-out AUROC is still a figure about *those* eval
families and *that* traffic (WildChat). Here nothing is fitted: every prompt is scored by the
embedded model through the public Session (the score cache makes reruns cheap) and placed with
``place_scores``; the question is whether the headline still separates evals from real-looking
traffic, and whether it does better than the two things it must beat to mean anything: prompt
length (its direction fixed on ../shared, where shorter prompts are the more eval-like) and the
best single eval-aware sentence (chosen on ../shared by the reference's own held-out figures).

Sources used for the run reported in issue 15 (files under /tmp/ood_external/, never in the repo;
each a fixed-seed sample, ``random.Random(0).sample`` of the deduplicated list, at most 100, minus
any text also in ../shared):

eval sets
  xstest      paul-rottger/exaggerated-safety @ d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d
              xstest_prompts.csv (safe and unsafe prompts), CC-BY-4.0
  truthfulqa  benedictflorance/truthfulqa_experiments @ 6fdfd38288e86296582a584694df5cf43d1f634a
              datasets/TruthfulQA.csv (a copy of sylinrl/TruthfulQA, 817 rows), Apache-2.0
  gsm8k       openai/grade-school-math @ 3101c7d5072418e28b9008a6636bde82a006892c
              grade_school_math/data/test.jsonl, MIT
  mtbench     lm-sys/FastChat @ 0e6d3e4beaab66f4d3f93db72541a4abab8af28d
              fastchat/llm_judge/data/mt_bench/question.jsonl (first turns, all 80), Apache-2.0
  jbb_pair    JailbreakBench/artifacts @ 909e68c01d94222b8ad2e397a017e2e12e2adb73
              attack-artifacts/PAIR/black_box/gpt-3.5-turbo-1106.json (the 87 PAIR jailbreak prompts), MIT
traffic-like sources (none is WildChat)
  sharegpt    Marugannwg/ShareGPT92k_user_linguistic_mining @ 8186064b06829a39494e941fb7a83f66b2228cd8
              sampled_enriched_data/*_0.json: first human turn of real user-shared ChatGPT conversations
              (English, 1-4000 characters, as WildChat in ../shared)
  oasst       LAION-AI/Open-Assistant @ f1e6ed9526f5817531f3ab85441a40b3671ddccb
              model/model_eval/manual/data/prompt_lottery_en_250_text.jsonl: OpenAssistant volunteers'
              opening prompts (human-written for a chat assistant, not logged traffic), Apache-2.0
  hh_harmless anthropics/hh-rlhf @ 354e5c3cb8960630860dd5774a6ac2a58313bf4d
              harmless-base/test.jsonl.gz: first Human turn; crowdworkers chatting with an assistant
              while asked to red-team it (casual chat style, often harmful requests), MIT

First run (n_boot 1000): all five evals pooled vs the pooled traffic, headline 0.664 [0.62, 0.70], length in its
../shared direction 0.393 (0.607 flipped), 'This is a hypothetical scenario' 0.633. Per set the headline beats
length in its ../shared direction on 4/5, but length with its direction chosen post hoc beats the headline on 4/5;
it beats the sentence on 4/5 (not on the PAIR jailbreaks, where 'This is clearly a test' reaches 0.83).
hh_harmless reads as test-like (median WildChat percentile 81); ShareGPT and OASST read like WildChat (56, 48).

Each JSONL record may carry ``source_repo``/``source_path``/``source_commit``; the header repeats
them from the files, so the printed report names its sources whatever files it was given.

Usage: python benchmarks/bench_external.py --eval xstest=/tmp/ood_external/xstest.jsonl ...
       --deploy sharegpt=/tmp/ood_external/sharegpt.jsonl ... [--n-boot 1000] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from _common import SHARED_DATA

from evalrefine import open_session
from evalrefine.core.calibration.joint import is_eval_aware
from evalrefine.core.calibration.metrics import auroc, bootstrap_auroc_ci
from evalrefine.core.calibration.placement import place_scores
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.calibration.reference_build import prompt_text
from evalrefine.core.io.prompt_sets import read_prompt_set
from evalrefine.core.scoring.batch import PromptScored, score_records
from evalrefine.core.scoring.score_cache import ScoreCache
from evalrefine.core.session import Session
from evalrefine.errors import EvalRefineError, InputError

Array = np.ndarray


@dataclass(frozen=True)
class PromptSet:
    name: str
    kind: str  # "eval" or "deploy"
    path: Path
    headline: Array
    percentile: Array
    sentences: dict[str, Array]
    chars: Array
    sources: tuple[str, ...]
    failed: int

    def __len__(self) -> int:
        return len(self.headline)


def parse_named(values: Sequence[str], flag: str) -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise InputError(
                f"{flag} {value!r}: expected NAME=PATH", f"e.g. {flag} xstest=/tmp/ood_external/xstest.jsonl"
            )
        if not Path(path).is_file():
            raise InputError(f"{flag} {name}: no file {path}", "give the path of a JSONL prompt set")
        if name in (n for n, _ in out):
            raise InputError(f"{flag} {name} given twice", "give every set a distinct name")
        out.append((name, Path(path)))
    return out


def file_sources(path: Path) -> tuple[str, ...]:
    """The distinct ``repo @ commit : path`` of the records, read from the file's optional fields."""
    found: dict[str, None] = {}
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # read_prompt_set reports malformed lines; the header just skips them
        if isinstance(rec, dict) and rec.get("source_repo"):
            found.setdefault(f"{rec['source_repo']} @ {rec.get('source_commit', '?')} : {rec.get('source_path', '?')}")
    return tuple(found) or ("(no source fields in the file)",)


def score_set(session: Session, cache: ScoreCache, name: str, kind: str, path: Path, batch_size: int) -> PromptSet:
    """Every prompt's headline, deployment percentile, sentence log Ps and length (scores from the cache
    when the monitor's identity has not changed)."""
    reference = session.reference
    assert reference is not None
    records = read_prompt_set(path)
    order = sorted(range(len(records)), key=lambda i: len(records[i].conversation.as_dicts()[-1]["content"]))
    events = list(score_records(session.monitor, [records[i] for i in order], cache, batch_size=batch_size))
    scored = [e for e in events if isinstance(e, PromptScored)]
    for e in events:
        if not isinstance(e, PromptScored):
            print(f"  skipped {e.message}", file=sys.stderr)
    placements = [place_scores(e.logprobs, e.prompt_tokens, reference, session.target_percentile) for e in scored]
    return PromptSet(
        name,
        kind,
        path,
        np.array([p.joint_score for p in placements]),
        np.array([p.percentile for p in placements]),
        {s: np.array([e.logprobs[s] for e in scored]) for s in aware_sentences(reference)},
        np.array([len(prompt_text(e)) for e in scored], dtype=np.float64),
        file_sources(path),
        len(events) - len(scored),
    )


def aware_sentences(reference: Reference) -> list[str]:
    return [s for s in reference.sentences if is_eval_aware(s, reference.eval_sentences)]


def shared_length_sign() -> tuple[float, str]:
    """+1 if longer prompts are the more eval-like on ../shared, else -1 (the direction length is scored in)."""
    try:
        lengths = {
            f: [len(json.loads(line)["text"]) for line in (SHARED_DATA / f).open()]
            for f in ("eval_prompts.jsonl", "deploy_prompts.jsonl")
        }
    except OSError:
        return -1.0, "../shared/data absent: length scored as -characters (its direction there)"
    a = auroc(lengths["eval_prompts.jsonl"], lengths["deploy_prompts.jsonl"])
    sign = 1.0 if a >= 0.5 else -1.0
    word = "longer" if sign > 0 else "shorter"
    note = f"on ../shared {word} prompts are the more eval-like (AUROC of +characters {a:.3f})"
    return sign, f"{note}: length scored as {sign:+.0f} x characters"


def paired_delta_ci(
    pos: tuple[Array, Array], neg: tuple[Array, Array], n_boot: int, seed: int = 0
) -> tuple[float, float, float]:
    """AUROC(a) - AUROC(b) on the same prompts (``pos``/``neg`` hold each score's eval and traffic
    values) and its 95% percentile bootstrap interval (scipy.stats.bootstrap), resampling eval and
    traffic prompts separately, each prompt keeping both of its scores (paired). Resamples use the
    Mann-Whitney form of the AUROC (the same number as roc_auc_score, ties counting half), vectorised."""
    from scipy.stats import bootstrap, mannwhitneyu  # type: ignore[import-untyped]

    def mw_auc(p: Array, n: Array) -> Array:
        u = mannwhitneyu(p, n, axis=-1, method="asymptotic", use_continuity=False).statistic
        auc: Array = np.asarray(u, dtype=np.float64) / (p.shape[-1] * n.shape[-1])
        return auc

    def stat(pi: Array, ni: Array, axis: int = -1) -> Array:
        p, n = pi.astype(int), ni.astype(int)
        delta: Array = mw_auc(pos[0][p], neg[0][n]) - mw_auc(pos[1][p], neg[1][n])
        return delta

    data = (np.arange(len(pos[0]), dtype=np.float64), np.arange(len(neg[0]), dtype=np.float64))
    rng = np.random.default_rng(seed)
    res = bootstrap(data, stat, n_resamples=n_boot, method="percentile", vectorized=True, random_state=rng)
    point = auroc(pos[0], neg[0]) - auroc(pos[1], neg[1])
    return point, float(res.confidence_interval.low), float(res.confidence_interval.high)


def concat(sets: Sequence[PromptSet], name: str, kind: str) -> PromptSet:
    return PromptSet(
        name,
        kind,
        Path(),
        np.concatenate([s.headline for s in sets]),
        np.concatenate([s.percentile for s in sets]),
        {k: np.concatenate([s.sentences[k] for s in sets]) for k in sets[0].sentences},
        np.concatenate([s.chars for s in sets]),
        (),
        sum(s.failed for s in sets),
    )


def fmt_ci(point: float, lo: float, hi: float) -> str:
    return f"{point:.3f} [{lo:.2f},{hi:.2f}]"


def fmt_delta(point: float, lo: float, hi: float) -> str:
    return f"{point:+.3f} [{lo:+.2f},{hi:+.2f}]"


Interval = tuple[float, float, float]
"""A point estimate and its 95% interval."""


@dataclass(frozen=True)
class Row:
    """One eval set against one traffic set."""

    headline: Interval
    sentences: dict[str, float]
    length: float
    """AUROC of length in the direction fitted on ../shared."""
    minus_length: Interval
    minus_best: Interval


def compare(ev: PromptSet, dep: PromptSet, best: str, sign: float, n_boot: int) -> Row:
    head = (ev.headline, dep.headline)
    length = (sign * ev.chars, sign * dep.chars)
    return Row(
        (auroc(*head), *bootstrap_auroc_ci(*head, n_boot=n_boot)),
        {s: auroc(ev.sentences[s], dep.sentences[s]) for s in ev.sentences},
        auroc(*length),
        paired_delta_ci((head[0], length[0]), (head[1], length[1]), n_boot),
        paired_delta_ci((head[0], ev.sentences[best]), (head[1], dep.sentences[best]), n_boot),
    )


def print_table(
    evals: Sequence[PromptSet], deploys: Sequence[PromptSet], sentences: list[str], best: str, sign: float, n_boot: int
) -> dict[str, Row]:
    """Every eval set (and all of them pooled) against the pooled traffic and each traffic source;
    returns the rows against the pooled traffic."""
    pooled = concat(deploys, "pooled", "deploy") if len(deploys) > 1 else deploys[0]
    abbrev = [f"S{i + 1}" for i in range(len(sentences))]
    print("\nAUROC, eval set (positive) vs traffic: headline with its 95% stratified bootstrap CI; the gains over")
    print("length and over the best ../shared sentence are paired (same prompts), with 95% bootstrap CIs;")
    print("length is scored in its ../shared direction; |len| = max(AUROC, 1-AUROC), its direction chosen post hoc")
    for a, s in zip(abbrev, sentences, strict=True):
        print(f"  {a} = log P({s!r}){'  <- best single sentence on ../shared' if s == best else ''}")
    cols = f"{'eval':<11} {'vs traffic':<12} {'n':>7}  {'headline [95% CI]':<20}" + "".join(f"{a:>7}" for a in abbrev)
    cols += f"{'length':>8}{'|len|':>7}  {'headline-length':<22} {'headline-best sentence':<22}"
    print(cols)
    print("-" * len(cols))
    rows = {}
    for ev in [*evals, concat(evals, "ALL evals", "eval")]:
        for dep in [pooled, *deploys] if len(deploys) > 1 else deploys:
            r = compare(ev, dep, best, sign, n_boot)
            line = f"{ev.name:<11} {dep.name:<12} {len(ev):>3}/{len(dep):<3}  {fmt_ci(*r.headline):<20}"
            line += (
                "".join(f"{r.sentences[s]:>7.3f}" for s in sentences)
                + f"{r.length:>8.3f}{max(r.length, 1 - r.length):>7.3f}  "
            )
            print(line + f"{fmt_delta(*r.minus_length):<22} {fmt_delta(*r.minus_best):<22}")
            if dep is pooled:
                rows[ev.name] = r
        print()
    return rows


def print_placement(evals: Sequence[PromptSet], deploys: Sequence[PromptSet], ref_name: str) -> None:
    pooled_median = float(np.median(np.concatenate([d.headline for d in deploys])))
    print(f"Placement among the reference's deployment prompts ({ref_name}: WildChat) and the external traffic")
    cols = f"{'set':<12} {'kind':<7} {'n':>4} {'chars p50':>10} {'pct p50':>8} {'> ref p50':>10}"
    cols += f" {'> ext-traffic p50':>18}"
    print(cols)
    print("-" * len(cols))
    for s in [*evals, *deploys]:
        print(
            f"{s.name:<12} {s.kind:<7} {len(s):>4} {np.median(s.chars):>10.0f} {np.median(s.percentile):>8.1f} "
            f"{np.mean(s.percentile > 50):>10.0%} {np.mean(s.headline > pooled_median):>18.0%}"
        )
    print("(pct p50: median headline percentile among the reference's WildChat prompts; > ref p50: the share above")
    print(" their median, for a traffic source a calibration check, about 50% if it reads like WildChat to the model)")


def summary(rows: dict[str, Row]) -> None:
    per_set = [r for name, r in rows.items() if name != "ALL evals"]
    k = len(per_set)
    above = sum(r.headline[1] > 0.5 for r in per_set)
    gain_len, sure_len = sum(r.minus_length[0] > 0 for r in per_set), sum(r.minus_length[1] > 0 for r in per_set)
    gain_best, sure_best = sum(r.minus_best[0] > 0 for r in per_set), sum(r.minus_best[1] > 0 for r in per_set)
    posthoc = sum(r.headline[0] > max(r.sentences.values()) for r in per_set)
    flip = sum(max(r.length, 1 - r.length) > r.headline[0] for r in per_set)
    print("\nSummary (each eval set vs the pooled external traffic)")
    if "ALL evals" in rows:
        r = rows["ALL evals"]
        print(
            f"  all eval sets pooled: headline {fmt_ci(*r.headline)}, gain over length {fmt_delta(*r.minus_length)}, "
            f"over the best sentence {fmt_delta(*r.minus_best)}"
        )
    print(
        f"  headline CI above 0.5 on {above}/{k} sets; beats length on {gain_len}/{k} (gain CI above 0: {sure_len}/{k})"
    )
    print(f"  length in each set's post-hoc direction, max(AUROC, 1-AUROC), beats the headline on {flip}/{k} sets")
    print(
        f"  beats the best ../shared sentence on {gain_best}/{k} (gain CI above 0: {sure_best}/{k}); "
        f"beats each set's post-hoc best sentence on {posthoc}/{k}"
    )


def headline_figures(reference: Reference) -> dict[str, object]:
    """The held-out figures stored in the reference's provenance (empty for a reference without them)."""
    held = reference.provenance.get("headline")
    return dict(held) if isinstance(held, dict) else {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--eval", action="append", default=[], metavar="NAME=PATH", help="an eval set (JSONL)")
    parser.add_argument("--deploy", action="append", default=[], metavar="NAME=PATH", help="a traffic source (JSONL)")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        evals_in, deploys_in = parse_named(args.eval, "--eval"), parse_named(args.deploy, "--deploy")
        if not evals_in or not deploys_in:
            raise InputError("need at least one --eval and one --deploy set", "give each as NAME=PATH")
        session = open_session()
        if session.reference is None:
            raise InputError("no reference matches the configured model", "run with the embedded model (the default)")
        reference = session.reference
        cache = ScoreCache(session.settings.cache_dir / "scores.sqlite")
        t0 = time.perf_counter()
        sets = [score_set(session, cache, n, "eval", p, args.batch_size) for n, p in evals_in]
        sets += [score_set(session, cache, n, "deploy", p, args.batch_size) for n, p in deploys_in]
    except EvalRefineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    evals = [s for s in sets if s.kind == "eval"]
    deploys = [s for s in sets if s.kind == "deploy"]
    sentences = aware_sentences(reference)
    held = headline_figures(reference)
    stored = held.get("candidates")
    candidates = {str(k): float(v) for k, v in stored.items()} if isinstance(stored, dict) else {}
    best = max(sentences, key=lambda s: candidates.get(s, 0.0))
    sign, sign_note = shared_length_sign()

    print(
        f"bench_external: {session.backend.name}, reference {reference.name} (joint {reference.joint_method()}), "
        f"scored in {time.perf_counter() - t0:.0f}s"
    )
    print(
        f"in distribution (../shared, leave-one-dataset-out, from the reference): headline {held.get('auroc')}, "
        f"length {held.get('length_auroc')}, best sentence {best!r} {candidates.get(best)}"
    )
    print(sign_note)
    print("sources:")
    for s in sets:
        failed = f", {s.failed} failed" if s.failed else ""
        print(f"  {s.kind:<6} {s.name:<12} n={len(s):<4} {s.path}{failed}")
        for src in s.sources:
            print(f"           {src}")
    rows = print_table(evals, deploys, sentences, best, sign, args.n_boot)
    print_placement(evals, deploys, reference.name)
    summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
