"""``lint --fix``: rewrite the findings with the offline rubric rewriter, then write fixed copies
(default, under ``--fix-dir``) or, with ``--write``, patch the files in place keeping numbered
backups. What may be written and how is decided in :mod:`evalrefine.core.lint.fix`; this module
only reports it, one line per file and a table per prompt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from evalrefine.cli.common import err_console
from evalrefine.config import Settings
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.lint.fix import PromptFixed, Replacement, fix_file, fix_prompts, write_root
from evalrefine.core.lint.run import LintReport
from evalrefine.core.refine.loop import DEFAULT_HELD_OUT, PromptScore
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.render.scores import ordinal


def fix_findings(
    report: LintReport,
    monitor: StartOfCotMonitor,
    reference: Reference | None,
    settings: Settings,
    fix_dir: Path,
    write: bool,
    roots: Sequence[Path] | None = None,
) -> None:
    """``roots``: the lint roots of the paths given on the command line (a file is written only
    inside the one holding it); by default each file's own, found without following symlinks."""
    from evalrefine.backends.embedder import SentenceTransformerEmbedder
    from evalrefine.core.attribution.target import JointTarget, SentenceTarget, Target
    from evalrefine.core.refine.guard import IntentGuard
    from evalrefine.core.refine.loop import RefineConfig, RefineScorer
    from evalrefine.core.refine.rubric import find_rubric
    from evalrefine.resources import data_dir

    target: Target = JointTarget(reference) if reference else SentenceTarget(report.sentence)
    fix_monitor = StartOfCotMonitor(
        monitor.backend,
        list(dict.fromkeys([*monitor.sentences, DEFAULT_HELD_OUT])),
        monitor.cot_opener,
        template_date=settings.monitor.template_date,
    )
    scorer = RefineScorer(fix_monitor, target, reference, DEFAULT_HELD_OUT)
    rubric = find_rubric("default", [data_dir("rubrics"), settings.data_dir / "rubrics"])
    guard = IntentGuard((), SentenceTransformerEmbedder(), None, settings.refine.min_similarity)
    pct = report.threshold.value if report.threshold.kind == "percentile" else settings.calibration.target_percentile
    config = RefineConfig(max_iters=3, target_percentile=pct, max_held_out_rise=settings.refine.max_held_out_rise)
    fixed: list[PromptFixed] = []
    with err_console.status("rewriting findings…") as status:
        for i, outcome in enumerate(fix_prompts([r.prompt for r in report.findings], scorer, rubric, guard, config)):
            status.update(f"rewriting findings… {i + 1}/{len(report.findings)}")
            fixed.append(outcome)
    by_file: dict[Path, list[Replacement]] = defaultdict(list)
    for f in fixed:
        if f.new_text is not None:
            by_file[f.prompt.location.path].append(Replacement(f.prompt, f.new_text))
    refused: dict[int, str] = {}
    for path, reps in sorted(by_file.items()):
        root = next((r for r in roots or () if path.absolute().is_relative_to(r)), None) or write_root(path)
        done = fix_file(path, reps, None if write else fix_dir, root)
        refused.update({id(r.prompt): why for r, why in done.refused})
        if done.written is not None:
            line = f"{'patched' if write else 'wrote'} {done.written}"
            err_console.print(line + (f" (backup {done.backup})" if done.backup else ""), markup=False)
    _show(Console(stderr=True), fixed, refused)


def _where(score: PromptScore) -> str:
    return ordinal(score.percentile) if score.percentile is not None else f"{score.value:.2f}"


def _show(console: Console, fixed: list[PromptFixed], refused: dict[int, str]) -> None:
    table = Table(title="--fix: score before → after", title_justify="left")
    for col in ("where", "before", "after", "result"):
        table.add_column(col)
    for f in fixed:
        result = "no rewrite scored lower" if f.new_text is None else refused.get(id(f.prompt), "fixed")
        table.add_row(Text(str(f.prompt.location)), _where(f.before), _where(f.after), Text(result))
    console.print(table)
