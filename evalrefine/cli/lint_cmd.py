"""``evalrefine lint``: find the prompts of an eval repository that look like tests (CI-friendly).

Exit status: 0 every prompt under the threshold, 1 findings (new ones, with ``--baseline``),
2 errors (unreadable records are listed with file:line; the rest is still linted).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evalrefine.backends.factories import judge_for, sampler_for
from evalrefine.cli.common import (
    DeviceOpt,
    ModelOpt,
    OpenerOpt,
    ReferenceOpt,
    SentenceOpt,
    ServerOpt,
    TokenizerOpt,
    build_settings,
    err_console,
    find_reference,
    load_model,
    monitor_for,
)
from evalrefine.cli.rollout_opts import JudgeOpt, MaxTokensOpt, RolloutsOpt, SeedOpt, rollout_flags
from evalrefine.core.lint.discovery import lint_root
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.rollout_check import RolloutsChecked
from evalrefine.core.lint.run import LintEvent, LintFinished, LintReport, Scored, Threshold, lint
from evalrefine.errors import InputError

FORMATS = ("table", "json", "sarif", "junit")


def lint_command(
    paths: Annotated[list[str] | None, typer.Argument(help="Files, dirs, globs or Inspect logs to lint.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, sarif or junit.")] = "table",
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
    sentence: SentenceOpt = None,
    model: ModelOpt = None,
    cot_opener: OpenerOpt = None,
    device: DeviceOpt = None,
    server: ServerOpt = None,
    tokenizer: TokenizerOpt = None,
    reference: ReferenceOpt = None,
    rollouts: RolloutsOpt = None,
    seed: SeedOpt = None,
    max_new_tokens: MaxTokensOpt = None,
    judge: JudgeOpt = None,
) -> None:
    """Score every prompt in an eval repository and report the ones that look like tests.
    With --rollouts K, also sample K rollouts of each prompt: a prompt whose rollouts say it is a
    test is a finding, and so is one whose rollout peak exceeds a raw log P threshold."""
    from evalrefine import __version__
    from evalrefine.core.score_cache import ScoreCache

    if fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if write and not fix:
        raise InputError("--write patches the fixes in place", "give --fix --write")
    flags = rollout_flags(rollouts, seed, max_new_tokens, judge)
    settings = build_settings(
        model, sentence, cot_opener, device, reference, server=server, tokenizer=tokenizer, rollouts=flags
    )
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
    quiet = fmt != "table" and output is None
    verbal = judge_for(settings) if settings.rollouts.count > 0 else None  # a bad --judge fails early
    backend = load_model(settings, quiet=quiet)
    ref = find_reference(settings, monitor_for(backend, settings))
    monitor = monitor_for(backend, settings, ref.required_sentences() if ref else ())
    cache = None if no_cache else ScoreCache(cache_file or settings.cache_dir / "scores.sqlite")
    cancel = threading.Event()
    check = None
    if verbal is not None:
        from evalrefine.core.lint.rollout_check import RolloutCheck

        rs = settings.rollouts
        check = RolloutCheck(sampler_for(backend, rs), verbal, rs.count, rs.seed, rs.max_new_tokens)
    events = lint(prompts, problems, skipped, monitor, limit, ref, cache, baseline, cfg.batch_size, cancel, check)
    report = _run_with_progress(events, cancel, quiet=False)  # progress goes to stderr: a report on stdout is safe
    if cache is not None:
        for warning in cache.warnings:  # a corrupt or read-only cache was set aside; the run went on
            err_console.print(f"warning: {warning}", markup=False)
        cache.close()
    text = _render(report, fmt, __version__)
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
        fix_findings(report, monitor, ref, settings, fix_dir, write, roots=roots or None)
    raise typer.Exit(report.exit_code)


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
