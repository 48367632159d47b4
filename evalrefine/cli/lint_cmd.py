"""``evalrefine lint``: find the prompts of an eval repository that look like tests (CI-friendly).

Exit status: 0 every prompt under the threshold, 1 findings (new ones, with ``--baseline``),
2 errors (unreadable records are listed with file:line; the rest is still linted).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from evalrefine.backends.factories import judge_for, sampler_for
from evalrefine.cli.common import (
    build_settings,
    err_console,
    find_reference,
    load_model,
    monitor_for,
    monitor_sentences,
    reference_for_identity,
)
from evalrefine.cli.options import Flags, shared_flags
from evalrefine.core.lint.discovery import lint_root
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.rollout_check import RolloutsChecked
from evalrefine.core.lint.run import DeferredMonitor, LintEvent, LintFinished, LintReport, Scored, Threshold, lint
from evalrefine.errors import InputError

if TYPE_CHECKING:
    from evalrefine.config import Settings
    from evalrefine.core.calibration.reference import Reference
    from evalrefine.core.scoring.monitor import StartOfCotMonitor
    from evalrefine.core.scoring.score_cache import ScoreCache

FORMATS = ("table", "json", "sarif", "junit", "html")


@shared_flags(formats=FORMATS, rollouts=True)
def lint_command(
    paths: Annotated[list[str] | None, typer.Argument(help="Files, dirs, globs or Inspect logs to lint.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
    threshold: Annotated[
        str | None,
        typer.Option("--threshold", help="Deployment percentile (0-100), or a raw log P if negative."),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="A previous --format json report: fail on new findings only.")
    ] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Rewrite findings with the offline rubric rewriter.")] = False,
    write: Annotated[
        bool, typer.Option("--write", help="With --fix: patch the files in place (a .bak copy is kept).")
    ] = False,
    fix_dir: Annotated[Path, typer.Option("--fix-dir", help="With --fix: where fixed copies go.")] = Path(
        "evalrefine-fixed"
    ),
    include: Annotated[list[str] | None, typer.Option("--include", help="Glob of files to read (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Glob of files to skip (repeatable).")] = None,
    text_field: Annotated[
        list[str] | None,
        typer.Option(
            "--text-field", help="Record field holding the prompt, dotted or indexed: input.messages, turns[0].content."
        ),
    ] = None,
    inspect_task: Annotated[
        list[str] | None,
        typer.Option(
            "--inspect-task",
            help="An Inspect task, task.py@name: lint its dataset's samples without running a model. "
            "This IMPORTS AND RUNS the task file's Python code: use it on repositories you trust. "
            "Needs pip install 'evalrefine[inspect]'.",
        ),
    ] = None,
    explain_skips: Annotated[
        bool, typer.Option("--explain-skips", help="List every skipped file and reference, with the reason.")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Score everything afresh.")] = False,
    cache_file: Annotated[
        Path | None, typer.Option("--cache", help="Score cache (SQLite); default CACHE_DIR/scores.sqlite.")
    ] = None,
    html_heatmaps: Annotated[
        int, typer.Option("--html-heatmaps", help="With --format html: explain the N worst prompts (0: none).")
    ] = 10,
    *,
    flags: Flags,
) -> None:
    """Score every prompt in an eval repository and report the ones that look like tests.
    With --rollouts K, also sample K rollouts of each prompt: a prompt whose rollouts say it is a
    test is a finding, and so is one whose rollout peak exceeds a raw log P threshold."""
    from evalrefine import __version__
    from evalrefine.core.scoring.score_cache import ScoreCache

    fmt = flags.format
    if fmt == "table" and output is not None and output.suffix.lower() in (".html", ".htm"):
        fmt = "html"  # -o report.html alone asks for the page
    if html_heatmaps < 0:
        raise InputError(f"--html-heatmaps {html_heatmaps} is negative", "give a count, e.g. 10, or 0 for none")
    if write and not fix:
        raise InputError("--write patches the fixes in place", "give --fix --write")
    settings = build_settings(flags)
    cfg = settings.lint
    limit = Threshold.parse(threshold or cfg.threshold)
    if not paths and not inspect_task:
        raise InputError("nothing to lint", "give a path, or --inspect-task task.py@name")
    prompts, problems, skipped = gather(
        paths or [],
        include or cfg.include,
        [*cfg.exclude, *(exclude or [])],
        text_field or cfg.text_fields,
        inspect_task or [],
    )
    if flags.system is not None:  # --system goes first in every prompt that has none of its own
        prompts = [
            p if p.conversation.system else replace(p, conversation=p.conversation.with_system(flags.system))
            for p in prompts
        ]
    quiet = fmt != "table" and output is None
    verbal = judge_for(settings) if settings.rollouts.count > 0 else None  # a bad --judge fails early
    cache = None if no_cache else ScoreCache(cache_file or settings.cache_dir / "scores.sqlite")
    monitor, ref = _open_monitor(settings, cache, quiet, lazy=verbal is None)
    cancel = threading.Event()
    check = None
    if verbal is not None:
        from evalrefine.core.lint.rollout_check import RolloutCheck

        rs = settings.rollouts
        live = monitor.load() if isinstance(monitor, DeferredMonitor) else monitor
        check = RolloutCheck(sampler_for(live.backend, rs), verbal, rs.count, rs.seed, rs.max_new_tokens)
    events = lint(prompts, problems, skipped, monitor, limit, ref, cache, baseline, cfg.batch_size, cancel, check)
    report = _run_with_progress(events, cancel, quiet=False)  # progress goes to stderr: a report on stdout is safe
    if cache is not None:
        for warning in cache.warnings:  # a corrupt or read-only cache was set aside; the run went on
            err_console.print(f"warning: {warning}", markup=False)
        cache.close()
    text = (
        _html(report, monitor, ref, html_heatmaps, __version__) if fmt == "html" else _render(report, fmt, __version__)
    )
    if output is not None:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {output}")
    if fmt == "table" or output is not None:
        from evalrefine.render.lint import lint_table

        lint_table(Console(stderr=fmt != "table"), report, ref)
    elif text:
        sys.stdout.write(text)
    _print_skips(report, explain_skips)
    if fix and report.findings:
        from evalrefine.cli.lint_fix import fix_findings

        roots = [lint_root(Path(p)) for p in paths or () if Path(p).exists()]  # writes stay inside what was named
        live = monitor.load() if isinstance(monitor, DeferredMonitor) else monitor  # a warm run loads it here
        fix_findings(report, live, ref, settings, fix_dir, write, roots=roots or None)
    raise typer.Exit(report.exit_code)


def _open_monitor(
    settings: Settings, cache: ScoreCache | None, quiet: bool, lazy: bool
) -> tuple[StartOfCotMonitor | DeferredMonitor, Reference | None]:
    """The monitor and its reference. When the cache knows this model's identity (stored under the
    stamps of its files and settings, see :mod:`evalrefine.backends.stamps`) and ``lazy``, a deferred
    monitor: a re-lint whose scores are all cached then loads no model and imports no torch."""
    from evalrefine.backends.stamps import identity_stamp

    stamp = identity_stamp(settings) if cache is not None else None
    known = cache.get_identity(stamp) if cache is not None and stamp is not None and lazy else None

    def remember(monitor: StartOfCotMonitor) -> StartOfCotMonitor:
        key = stamp or identity_stamp(settings)  # a GGUF converted by this load is stamped now
        if cache is not None and key is not None:
            cache.put_identity(key, monitor.identity, monitor.model_fingerprint)
        return monitor

    if known is None:
        backend = load_model(settings, quiet=quiet)
        ref = find_reference(settings, monitor_for(backend, settings))
        return remember(monitor_for(backend, settings, ref.required_sentences() if ref else ())), ref
    identity, fingerprint = known
    ref = reference_for_identity(settings, identity, fingerprint)
    extra = ref.required_sentences() if ref else ()

    def load() -> StartOfCotMonitor:  # called under the progress bar: plain lines, no second live display
        from evalrefine.backends.registry import load_backend

        if not quiet:
            err_console.print(f"Loading {settings.model.name} model: some prompts are not in the score cache…")
        status = None if quiet else lambda line: err_console.print(line, markup=False, highlight=False)
        return remember(monitor_for(load_backend(settings.model, settings.cache_dir, status), settings, extra))

    return DeferredMonitor(fingerprint, monitor_sentences(settings, extra), load), ref


def _print_skips(report: LintReport, explain: bool) -> None:
    """One summary line of what was not linted and why (every line with ``--explain-skips``), on stderr."""
    from evalrefine.core.lint import skips

    line = skips.summary(report.skipped)
    if not line:
        return
    if explain:
        for entry in skips.explain(report.skipped):
            err_console.print(f"skipped {entry}", markup=False, highlight=False, soft_wrap=True)
    err_console.print(
        line + ("" if explain else " (--explain-skips lists them)"), markup=False, highlight=False, soft_wrap=True
    )


def _run_with_progress(events: Iterator[LintEvent], cancel: threading.Event, quiet: bool) -> LintReport:
    from evalrefine.cli.progress import progress

    with progress(err_console, "scoring prompts", quiet) as report_progress:
        try:
            for event in events:
                if isinstance(event, Scored):
                    report_progress(event.done, event.total)
                elif isinstance(event, RolloutsChecked):
                    report_progress(event.done, event.total, "sampling rollouts")
                elif isinstance(event, LintFinished):
                    return event.report
        except KeyboardInterrupt:
            cancel.set()
            err_console.print("interrupted: scores so far are kept in the cache; run the same command to resume")
            raise SystemExit(130) from None
    raise AssertionError("lint ended without a report")


def _render(report: LintReport, fmt: str, version: str) -> str:
    from evalrefine.core.lint.reports import to_json, to_junit, to_sarif

    if fmt == "json":
        return json.dumps(to_json(report), ensure_ascii=False, indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report, version), ensure_ascii=False, indent=2) + "\n"
    if fmt == "junit":
        return to_junit(report)
    return ""


def _html(
    report: LintReport, monitor: StartOfCotMonitor | DeferredMonitor, ref: Reference | None, n: int, version: str
) -> str:
    """The HTML page, with heatmaps of the ``n`` worst prompts (which loads the model on a cached run)."""
    from evalrefine.cli.progress import progress
    from evalrefine.render.html_report import explain_worst, html_report

    heatmaps = {}
    if n and report.results:
        live = monitor.load() if isinstance(monitor, DeferredMonitor) else monitor
        with progress(err_console, "explaining the worst prompts") as step:
            heatmaps = explain_worst(report, live, ref, n, step)
    return html_report(report, ref, heatmaps, version, n)
