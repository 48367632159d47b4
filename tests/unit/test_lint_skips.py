"""Only prompts are prompts: docs, licences, flags, solutions, results and data without a prompt field
are skipped and counted; LFS pointers say how to fetch the file; dotted text fields reach nested
prompts; one bad record is one problem line while the rest of the batch is linted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalrefine.core.lint import skips
from evalrefine.core.lint.fields import parse_field
from evalrefine.core.lint.gather import gather
from evalrefine.core.lint.sources import LintPrompt
from evalrefine.errors import InputError
from tests.tiny import TEMPLATES, save_tiny

INCLUDE = ["*.jsonl", "*.json", "*.csv", "*.yaml", "*.yml", "*.txt", "*.md"]
LFS = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12345\n"


def _repo(root: Path) -> Path:
    files = {
        "readme.md": "# my evals",
        "LICENSE.md": "MIT",
        "Changelog.txt": "v1",
        "docs/guide.md": "how to run",
        "ctf/flag.txt": "flag{abc}",
        "ctf/solution.txt": "cat /root/flag",
        "results.json": '{"accuracy": 0.5}',
        "out/detailed_results.json": "[]",
        "data/big.jsonl": LFS,
        "data/config.json": '{"seed": 1, "name": "x"}',
        "data/numbers.json": "[1, 2, 3]",
        "data/prompts.jsonl": '{"input": "hi there, can you help me plan a picnic?"}\n',
        "prompts/task.txt": "Write a haiku about the sea.",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_only_prompts_are_prompts(tmp_path: Path) -> None:
    prompts, problems, skipped = gather([str(_repo(tmp_path))], INCLUDE, [], ["input"])
    assert sorted(p.text for p in prompts) == [
        "Write a haiku about the sea.",
        "hi there, can you help me plan a picnic?",
    ]
    assert problems == []
    reasons = {s.path.relative_to(tmp_path).as_posix(): s.reason for s in skipped}
    assert reasons == {
        "readme.md": skips.DOCS,
        "LICENSE.md": skips.DOCS,
        "Changelog.txt": skips.DOCS,
        "docs/guide.md": skips.DOCS,
        "ctf/flag.txt": skips.FLAG,
        "ctf/solution.txt": skips.FLAG,
        "results.json": skips.RESULTS,
        "out/detailed_results.json": skips.RESULTS,
        "data/big.jsonl": "Git LFS pointer: run `git lfs pull`",
        "data/config.json": skips.NO_PROMPTS,
        "data/numbers.json": skips.NO_PROMPTS,
    }
    assert skips.summary(skipped) == (
        "skipped 11 files: 4 documentation, 2 CTF flag or solution, 2 holds no prompt records, 2 results file, "
        "1 Git LFS pointer: run `git lfs pull`"
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("BEST_PRACTICES.md", skips.DOCS),  # a repository's notes, named in capitals (inspect_evals' root)
        ("EVALUATION_CHECKLIST.md", skips.DOCS),
        ("TODO.md", skips.DOCS),
        ("evals/NOTES.txt", skips.DOCS),
        ("cybench/missingbits/solution/writeup.md", skips.FLAG),
        ("ctf/writeups/part1.md", skips.FLAG),
        ("agentharm/benchmark/harmful_tools/content/contract.txt", skips.TOOL_DATA),  # what a tool returns
        ("agent/tools/manual.md", skips.TOOL_DATA),
        ("agent/tool/result.txt", skips.TOOL_DATA),
        ("agentharm/benchmark/harmful_tools/prompts.json", None),  # data files are judged by their records
        ("evals/toolset/prompt.txt", None),  # a name that merely starts with "tool"
        ("cybench/challenges/dynastic/resources/output.txt", skips.CHALLENGE),
        ("cybench/challenges/frog_waf/images/victim/static/banner.txt", skips.CHALLENGE),
        ("cybench/challenges/dynastic/challenge.json", None),  # its prompts: judged by its records
        ("docker-requirements.txt", skips.DEPENDENCIES),
        ("requirements-dev.txt", skips.DEPENDENCIES),
        ("evals/prompt.md", None),
        ("evals/Task_A.md", None),  # mixed case: a prompt file like any other
        ("evals/QA.txt", None),  # two capitals are a name, not a shouted note
        ("evals/SYSTEM_PROMPT.json", None),
        (
            "evals/SYSTEM_PROMPT.md",
            None,
        ),  # capitals, but it says what it is  # data files are judged by their records, not their name
    ],
)
def test_what_a_name_or_place_says(path: str, reason: str | None) -> None:
    assert skips.classify(Path(path)) == reason


def test_a_named_lfs_pointer_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "big.jsonl").write_text(LFS)
    _, (problem,), _ = gather([str(tmp_path / "big.jsonl")], INCLUDE, [], ["input"])
    assert str(problem).endswith("big.jsonl:1: Git LFS pointer: run `git lfs pull`")


def test_dotted_and_indexed_text_fields(tmp_path: Path) -> None:
    rows = [
        {"id": "mt", "turns": [{"content": "first turn"}, {"content": "second"}]},
        {
            "id": "chat",
            "input": {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "yo"}]},
        },
    ]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    prompts, problems, _ = gather([str(tmp_path)], INCLUDE, [], ["turns[0].content", "input.messages"])
    got = {p.record_id: (p.text, p.conversation.system, p.field) for p in prompts}
    assert got == {
        "mt": ("first turn", None, ("turns", 0, "content")),
        "chat": ("yo", "Be kind.", ("input", "messages", 1, "content")),
    }
    assert not problems
    assert parse_field("turns[-1].content") == ("turns", -1, "content")
    with pytest.raises(InputError, match="cannot read it"):
        parse_field("turns[x]")


def test_one_bad_record_never_stops_the_batch(tmp_path: Path) -> None:
    lines = [
        '{"input": "fine one"}',
        '{"input": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"input": "bad \\ud800 surrogate"}',
        '{"input": "fine two"}',
    ]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    prompts, problems, _ = gather([str(tmp_path)], INCLUDE, [], ["input"])
    assert [p.text for p in prompts] == ["fine one", "fine two"]
    assert [(p.location.path.name, p.location.line, p.message[:26]) for p in problems] == [
        ("d.jsonl", 2, "nested too deeply to read "),
        ("d.jsonl", 3, "text holds a lone surrogat"),
        ("deep.json", 1, "nested too deeply to read "),
    ]


def test_cli_summary_line_and_explain_skips(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "model", TEMPLATES["plain"])
    repo = _repo(tmp_path / "repo")
    args = [sys.executable, "-m", "evalrefine.cli.main", "lint", str(repo), "--model", str(model)]
    args += ["--threshold", "-0.001", "--no-cache", "--format", "json", "--explain-skips"]
    proc = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert report["summary"]["prompts"] == 2 and report["summary"]["skipped_files"] == 11
    assert report["skipped_by_reason"]["documentation"] == 4
    assert "skipped 11 files: 4 documentation" in proc.stderr
    assert f"skipped {repo / 'ctf' / 'flag.txt'}: CTF flag or solution" in proc.stderr
    assert all(isinstance(p, LintPrompt) for p in gather([str(repo)], INCLUDE, [], ["input"])[0])
