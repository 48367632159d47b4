"""The lint report as one self-contained HTML page (``evalrefine lint --format html``).

A reviewer opens the page from a CI artifact, offline, so everything is inline: CSS, a small script
(sortable columns, expandable rows, a filter) and the histogram as SVG; nothing is fetched. The
linted repository is untrusted input, so every piece of its text (prompts, paths, record ids, error
messages) is HTML-escaped, sort keys live in escaped ``data-`` attributes rather than in a script,
and a Content-Security-Policy allows only this page's own script and style (by hash) and no network:
even text that escaped the escaping could neither run nor phone home.

Heatmaps cost one leave-one-out attribution each (about N/2 forward passes for N sentences, plus
the 13 scorings of the deletion check), so :func:`explain_worst` explains only the ``n`` worst
prompts (findings first); :func:`html_report` itself is a pure function of its inputs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

import numpy as np

from evalrefine.core.attribution.base import Attribution
from evalrefine.core.attribution.target import JointTarget, SentenceTarget, Target
from evalrefine.core.calibration.placement import place_scores
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.lint import skips
from evalrefine.core.lint.reports import result_dict
from evalrefine.core.lint.run import LintReport, LintResult
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.errors import EvalRefineError
from evalrefine.render.explain import METHODS, effect_words, merge_spans
from evalrefine.render.html_assets import CSS, JS

DEFAULT_HEATMAPS = 10
MAX_TEXT = 5000
"""Characters of a prompt shown in full when it has no heatmap (a huge repo stays a usable page)."""
HEAT_LEVELS = 5


def _h(value: object) -> str:
    """Escape anything for HTML text and quoted attributes (quotes included)."""
    return escape(str(value), quote=True)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _preview(text: str, width: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _num(value: float | None, fmt: str = "") -> str:
    """A number for a cell (``fmt``) or, with no ``fmt``, exactly (``repr``) for a sort key."""
    if value is None or not math.isfinite(value):
        return ""
    return format(float(value), fmt) if fmt else repr(float(value))


def heatmap_targets(report: LintReport, n: int) -> list[LintResult]:
    """The ``n`` worst prompts (findings first, then the next worst), each distinct text once."""
    ranked = sorted(report.results, key=lambda r: not r.finding)  # stable: worst first within each group
    chosen: dict[str, LintResult] = {}
    for r in ranked:
        if len(chosen) >= n:
            break
        chosen.setdefault(r.prompt.content_hash, r)
    return list(chosen.values())


def heatmap_target(report: LintReport, reference: Reference | None) -> Target:
    """What lint judged by: the reference's joint score for a percentile threshold, else the log P
    of the first sentence (the raw threshold's quantity)."""
    if reference is not None and report.threshold.kind == "percentile":
        return JointTarget(reference)
    return SentenceTarget(report.sentence)


def explain_worst(
    report: LintReport,
    monitor: StartOfCotMonitor,
    reference: Reference | None,
    n: int = DEFAULT_HEATMAPS,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Attribution]:
    """Leave-one-out sentence attribution (``evalrefine explain``'s default, with its deletion
    check) of the ``n`` worst prompts, keyed by content hash. A prompt that cannot be explained
    (no words to split) simply gets no heatmap."""
    from evalrefine.core.attribution.explain import explain

    target = heatmap_target(report, reference)
    chosen = heatmap_targets(report, n)
    out: dict[str, Attribution] = {}
    for i, r in enumerate(chosen, start=1):
        with contextlib.suppress(EvalRefineError):
            out[r.prompt.content_hash] = explain(monitor, target, r.prompt.conversation, "loo", "sentence")
        if on_progress is not None:
            on_progress(i, len(chosen))
    return out


# -- pieces of the page -----------------------------------------------------------------------------
def _level(effect: float, scale: float) -> str:
    k = abs(effect) / scale if scale > 0 else 0.0
    level = min(HEAT_LEVELS, math.ceil(HEAT_LEVELS * k - 1e-9)) if k >= 0.02 else 0
    return "" if level == 0 else ("r" if effect > 0 else "b") + str(level)


def heatmap_html(result: Attribution, conversation: Conversation, top: int = 3) -> str:
    """Every turn painted red (the span raises the score) to blue (lowers it), the top spans in
    words, and the deletion check saying whether to trust the picture."""
    scale = max((abs(e.effect) for e in result.spans), default=0.0)
    parts = [
        f'<p class="note">explains {_h(result.target)} = {result.value:.3f} {_h(result.units)}; red raises it, '
        f"blue lowers it (hover a span for its effect). {_h(METHODS.get(result.method, result.method))}</p>"
    ]
    for i, msg in enumerate(conversation.messages):
        spans = sorted((e for e in result.spans if e.span.message == i), key=lambda e: e.span.start)
        pos, pieces = 0, []
        for e in spans:
            pieces.append(_h(msg.content[pos : e.span.start]))
            cls = _level(e.effect, scale)
            pieces.append(
                f'<mark class="{cls}" data-effect="{float(e.effect)!r}" '
                f'title="effect {e.effect:+.3f} {_h(result.units)}">'
                f"{_h(msg.content[e.span.start : e.span.end])}</mark>"
            )
            pos = max(pos, e.span.end)
        pieces.append(_h(msg.content[pos:]))
        parts.append(f'<div class="role">{_h(msg.role)}</div><div class="turn">{"".join(pieces)}</div>')
    ranked = [row for row in merge_spans(result.ranked())[:top] if row.effect > 0]
    if ranked:
        items = "".join(
            f"<li>“{_h(_preview(row.text, 80))}”{row.copies_note}: "
            f"{_h(effect_words(result.method, row.effect, result.units))}</li>"
            for row in ranked
        )
        parts.append(f"<p>spans that make it read most like a test:</p><ol>{items}</ol>")
    curve = result.faithfulness
    if curve is not None:
        verdict = (
            '<span class="trust">faithful: deleting the top spans lowers the score faster than random deletions'
            if curve.trustworthy
            else '<span class="distrust">NOT faithful here: random deletions do as well; do not trust this ranking'
        )
        steps = ", ".join(
            f"k={k}: {t:.2f} vs {r:.2f}" for k, t, r in zip(curve.ks, curve.top, curve.random, strict=True)
        )
        parts.append(f'<p>deletion check: {verdict}</span> <span class="note">(top vs random: {steps})</span></p>')
    return "".join(parts)


def _plain_text(conversation: Conversation) -> str:
    parts = []
    for msg in conversation.messages:
        text = msg.content
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT] + f"… ({len(msg.content) - MAX_TEXT} more characters)"
        parts.append(f'<div class="role">{_h(msg.role)}</div><div class="turn">{_h(text)}</div>')
    return "".join(parts)


def histogram_svg(deploy: Sequence[float], marks: Sequence[tuple[int, float, bool, str]], cut: float | None) -> str:
    """The reference's deployment scores as grey bars, each linted prompt as a line (red finding,
    green ok; links to its row), and the threshold dashed. ``marks``: (row, score, finding, label)."""
    width, height, left, bottom, top, bins = 760, 210, 44, 34, 10, 40
    values = np.asarray(deploy, dtype=np.float64)
    every = [*values.tolist(), *(m[1] for m in marks), *([cut] if cut is not None else [])]
    lo, hi = float(min(every)), float(max(every))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max(int(counts.max()), 1)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    out = [
        f'<svg id="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="deployment histogram">'
    ]
    bar_w = plot_w / bins
    for i, c in enumerate(counts):
        h = c / peak * plot_h
        out.append(
            f'<rect class="bin" data-count="{int(c)}" data-lo="{float(edges[i])!r}" x="{left + i * bar_w:.2f}" '
            f'y="{top + plot_h - h:.2f}" width="{max(bar_w - 1, 1):.2f}" height="{h:.2f}" fill="#c9c9c9"/>'
        )
    base = top + plot_h
    out.append(f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="#888"/>')
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        out.append(f'<text x="{x(v):.2f}" y="{base + 14}" text-anchor="middle">{v:.2f}</text>')
    out.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>')
    out.append(f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>')
    out.append(
        f'<text x="{left + plot_w}" y="{height - 4}" text-anchor="end">score → more test-like than real traffic</text>'
    )
    if cut is not None:
        out.append(
            f'<line id="threshold" x1="{x(cut):.2f}" y1="{top}" x2="{x(cut):.2f}" y2="{base}" '
            'stroke="#333" stroke-dasharray="4 3"/>'
        )
    for row, score, finding, label in marks:
        colour = "#d11a2a" if finding else "#1e9e44"
        out.append(
            f'<a href="#p-{row}"><line class="mark" data-score="{float(score)!r}" x1="{x(score):.2f}" y1="{top}" '
            f'x2="{x(score):.2f}" y2="{base}" stroke="{colour}" stroke-width="1.5" stroke-opacity="0.75">'
            f"<title>{_h(label)}</title></line></a>"
        )
    out.append("</svg>")
    return "".join(out)


def _histogram_section(report: LintReport, reference: Reference | None) -> str:
    if reference is None:
        return '<p class="note">No deployment reference for this model: no percentiles and no histogram.</p>'
    deploy = reference.joint_scores("deploy")
    marks = []
    for i, r in enumerate(report.results):
        try:
            placed = place_scores(r.logprobs, r.tokens, reference)
        except (KeyError, ValueError):  # scored without a sentence the reference needs
            continue
        label = f"{r.prompt.location}: p{placed.percentile:.0f}, score {placed.joint_score:.3f}"
        marks.append((i, float(placed.joint_score), r.finding, label))
    cut = None
    if report.threshold.kind == "percentile" and len(deploy):
        cut = float(np.percentile(deploy, report.threshold.value))
    return (
        f"<h2>Where the prompts fall in deployment traffic</h2>"
        f'<p class="note">Grey: joint score ({_h(reference.joint_method())}) of the {len(deploy)} deployment prompts '
        f"of reference {_h(reference.name)}; lines: your prompts (red findings, green ok; click one to open its row)"
        + ("; dashed: the threshold" if cut is not None else "")
        + f".</p>{histogram_svg(deploy.tolist(), marks, cut)}"
    )


COLUMNS = (
    ("rank", "num", "#"),
    ("where", "text", "location"),
    ("pct", "num", "deployment pct"),
    ("verdict", "text", "verdict"),
    ("logp", "num", "log P"),
    ("tokens", "num", "tokens"),
)


def _row(i: int, r: LintResult, report: LintReport, heat: Attribution | None, n_heat: int, with_rollouts: bool) -> str:
    d = result_dict(r, report)
    where = f"{d['file']}:{d['line']}"
    verdict, cls = ("finding", "v-new") if r.finding and r.new else ("finding (baseline)", "v-known")
    if not r.finding:
        verdict, cls = "ok", "v-ok"
    preview = _preview(r.prompt.text)
    attrs = {
        "rank": str(i + 1),
        "where": where,
        "pct": _num(r.percentile),
        "verdict": verdict,
        "logp": _num(r.logprob),
        "tokens": str(r.tokens),
        "rollouts": _num(r.rollouts.peak) if r.rollouts is not None else "",
        "prompt": preview,
        "finding": "1" if r.finding else "0",
    }
    data = " ".join(f'data-{k}="{_h(v)}"' for k, v in attrs.items())
    cells = [
        f'<td class="num"><button class="toggle" aria-expanded="false" aria-label="details">▸</button>{i + 1}</td>',
        f'<td class="where">{_h(where)}</td>',
        f'<td class="num">{_h(_num(r.percentile, ".1f") or "–")}</td>',
        f'<td class="{cls}">{_h(verdict)}</td>',
        f'<td class="num">{r.logprob:.2f}</td>',
        f'<td class="num">{r.tokens}</td>',
    ]
    if with_rollouts:
        ro = r.rollouts
        cells.append(f'<td class="num">{_h(f"{ro.peak:.2f}, {ro.verbalized}/{ro.judged}" if ro else "–")}</td>')
    cells.append(f'<td class="preview" title="{_h(preview)}">{_h(preview)}</td>')
    if heat is not None:
        body = heatmap_html(heat, r.prompt.conversation)
    else:
        why = f"only the {n_heat} worst prompts get a heatmap (--html-heatmaps)" if n_heat else "heatmaps are off"
        body = f'<p class="note">No heatmap: {why}.</p>{_plain_text(r.prompt.conversation)}'
    scores = ", ".join(f"{_h(s)}: {lp:.3f}" for s, lp in r.logprobs.items())
    facts = (
        f'<p class="note">record {_h(r.prompt.record_id)} ({_h(r.prompt.format)}); {_h(d["message"])}.'
        f"<br>log P of each sentence: {scores}</p>"
    )
    span = len(cells)
    return (
        f'<tbody class="prompt" id="p-{i}" {data}><tr class="row">{"".join(cells)}</tr>'
        f'<tr class="detail" hidden><td colspan="{span}">{facts}{body}</td></tr></tbody>'
    )


def html_report(
    report: LintReport,
    reference: Reference | None = None,
    heatmaps: Mapping[str, Attribution] | None = None,
    version: str = "",
    n_heatmaps: int = DEFAULT_HEATMAPS,
) -> str:
    """The whole page. ``heatmaps``: attributions by content hash (from :func:`explain_worst`)."""
    heatmaps = heatmaps or {}
    with_rollouts = any(r.rollouts is not None for r in report.results)
    heads = [
        *COLUMNS,
        *([("rollouts", "num", "rollouts: peak, say test")] if with_rollouts else []),
        ("prompt", "text", "prompt"),
    ]
    head = "".join(
        f'<th data-key="{k}" data-type="{t}"{" aria-sort=ascending" if k == "rank" else ""}>{_h(label)}</th>'
        for k, t, label in heads
    )
    rows = "".join(
        _row(i, r, report, heatmaps.get(r.prompt.content_hash), n_heatmaps, with_rollouts)
        for i, r in enumerate(report.results)
    )
    n_find = sum(r.finding for r in report.results)
    summary = f"{len(report.results)} prompts, {n_find} findings"
    if report.baseline is not None:
        summary += f" ({len(report.findings)} new since the baseline)"
    summary += f", {len(report.problems)} errors, {len(report.skipped)} files skipped"
    if report.cancelled:
        summary += " (interrupted: incomplete)"
    meta = (
        f'<p class="meta"><strong>{_h(summary)}</strong><br>finding: {_h(report.threshold.describe(report.sentence))}; '
        f"reference: {_h(report.reference or 'none')}; exit status {report.exit_code}"
        + (f"; evalrefine {_h(version)}" if version else "")
        + "</p>"
    )
    problems = ""
    if report.problems:
        items = "".join(f"<li>{_h(p)}</li>" for p in report.problems)
        problems = f'<h2>Errors ({len(report.problems)})</h2><ul class="problems">{items}</ul>'
    skipped = ""
    if report.skipped:
        items = "".join(f"<li>{_h(s)}</li>" for s in skips.explain(report.skipped))
        summary_line = _h(skips.summary(report.skipped))
        skipped = f'<details><summary>{summary_line}</summary><ul class="problems">{items}</ul></details>'
    csp = (
        f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_h(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>evalrefine lint: {_h(summary)}</title><style>{CSS}</style></head><body>"
        f"<h1>evalrefine lint</h1>{meta}{_histogram_section(report, reference)}{problems}"
        "<h2>Prompts, worst first</h2>"
        '<div class="controls"><input type="search" id="filter" placeholder="filter by location or text" '
        'aria-label="filter"> <label><input type="checkbox" id="findings-only"> findings only</label> '
        '<span class="note">click a column to sort, a row to open its text and heatmap</span></div>'
        f'<table id="prompts"><thead><tr>{head}</tr></thead>{rows}</table>{skipped}'
        f"<script>{JS}</script></body></html>\n"
    )
