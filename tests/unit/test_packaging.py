"""A plain (non-editable) wheel must carry prompts/ and rubrics/ and find them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from evalrefine.resources import data_dir
from tests.conftest import REPO


def test_wheel_ships_prompts_and_rubrics(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("evalrefine-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for kind in ("prompts", "rubrics"):
        shipped = {p.name for p in (REPO / kind).iterdir() if p.is_file()}
        assert shipped
        assert {n.rsplit("/", 1)[-1] for n in names if n.startswith(f"evalrefine/_data/{kind}/")} == shipped
    assert "evalrefine/references/smollm2-wildchat.json" in names
    assert "evalrefine/tui/evalrefine.tcss" in names  # the TUI cannot start without its styles
    # And the installed layout resolves: unpack the wheel and import from there.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = "from evalrefine.resources import data_dir; print(data_dir('prompts'), data_dir('rubrics'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.split() == [str(target / "evalrefine/_data/prompts"), str(target / "evalrefine/_data/rubrics")]


def test_checkout_layout_resolves() -> None:
    assert data_dir("prompts") == REPO / "prompts"
