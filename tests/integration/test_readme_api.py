"""The README's Python example runs as written, on the embedded model, and says what it claims."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.integration
def test_the_readme_python_example_runs() -> None:
    section = README.read_text(encoding="utf-8").split("## From Python: `evalrefine.Session`")[1]
    code = section.split("```python")[1].split("```")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("headline ") and "percentile" in lines[0]
    assert "hypothetical scenario" in lines[1]  # the disclosure is the span that raises the headline most
    assert float(lines[1].split()[0]) > 0
    assert lines[2] == "Started" and lines[-1] == "Finished"
