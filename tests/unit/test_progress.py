"""Progress in a CI log: plain lines with count, rate and ETA when stderr is not a terminal (issue 18)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from evalrefine.cli.progress import progress


def test_plain_lines_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([0.0, 5.0, 20.0, 40.0, 41.0])  # the start, then one reading per report
    # By dotted name: the module's `time` is not a re-export mypy strict lets us reach as an attribute.
    monkeypatch.setattr("evalrefine.cli.progress.time.monotonic", lambda: next(clock))
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    with progress(console, "scoring prompts") as report:
        report(1, 10)  # 5 s in: too soon for a line
        report(4, 10)  # 20 s: a line
        report(8, 10)  # 40 s: a line
        report(10, 10)  # the end: always a line
    lines = out.getvalue().splitlines()
    assert lines[0] == "scoring prompts: 4/10 (40%), 0.2/s, ETA 30s"
    assert lines[1] == "scoring prompts: 8/10 (80%), 0.2/s, ETA 10s"
    assert lines[2].startswith("scoring prompts: 10/10 (100%)") and "ETA" not in lines[2]


def test_quiet_draws_nothing() -> None:
    out = io.StringIO()
    with progress(Console(file=out), "x", quiet=True) as report:
        report(1, 2)
    assert out.getvalue() == ""
