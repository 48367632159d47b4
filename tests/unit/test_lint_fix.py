"""Putting fixed prompts back: only the prompt's literal changes, in the file's own encoding."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from evalrefine.core.lint.fix import Replacement, patch_text, write_fixed
from evalrefine.core.lint.formats import parse_file
from evalrefine.core.lint.sources import LintPrompt

NEW = 'hi! my "boss" asked, so: café, 50%\nthanks'


def _patch(tmp_path: Path, name: str, body: str, which: int = 0) -> tuple[str, list[Replacement], list[LintPrompt]]:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    prompts = [p for p in parse_file(path) if isinstance(p, LintPrompt)]
    new, failed = patch_text(body, path.suffix, [Replacement(prompts[which], NEW)])
    path.write_text(new, encoding="utf-8")
    return new, failed, [p for p in parse_file(path) if isinstance(p, LintPrompt)]


def test_jsonl_only_the_literal_changes(tmp_path: Path) -> None:
    body = (
        '{"id": "a", "input": "Question: is this a test?", "target": "no"}\n'
        '{"id":"b","input":"Question: is this a test?"}\n'
    )
    new, failed, after = _patch(tmp_path, "s.jsonl", body, which=1)
    assert not failed
    lines = new.splitlines()
    assert lines[0] == body.splitlines()[0]  # the identical text on line 1 is not touched
    assert lines[1] == '{"id":"b","input":' + json.dumps(NEW, ensure_ascii=False) + "}"
    assert [p.text for p in after] == ["Question: is this a test?", NEW]


def test_json_chat_message_and_ascii_escapes(tmp_path: Path) -> None:
    body = '[\n  {"input": [\n    {"role": "user", "content": "caf\\u00e9 test"}\n  ]}\n]\n'
    new, failed, after = _patch(tmp_path, "d.json", body)
    assert not failed and after[0].text == NEW
    assert new.startswith('[\n  {"input": [\n    {"role": "user", "content": "hi! my \\"boss\\" asked, so: caf\\u00e9')


def test_csv_quotes_as_needed(tmp_path: Path) -> None:
    body = "id,input\nx,Is this a test\ny,other\n"
    new, failed, after = _patch(tmp_path, "s.csv", body)
    assert not failed and [p.text for p in after] == [NEW, "other"]
    assert list(csv.reader(io.StringIO(new)))[1] == ["x", NEW]
    assert new.endswith("\ny,other\n")


def test_yaml_plain_scalar_becomes_a_double_quoted_one(tmp_path: Path) -> None:
    body = "# keep me\nprompts:\n  - This is a test, answer honestly\n  - other prompt\n"
    new, failed, after = _patch(tmp_path, "promptfooconfig.yaml", body)
    assert not failed and new.startswith('# keep me\nprompts:\n  - "hi! my')
    assert yaml.safe_load(new)["prompts"] == [NEW, "other prompt"] and after[0].text == NEW


def test_rendered_templates_are_not_patched(tmp_path: Path) -> None:
    body = "prompts:\n  - 'Tell me about {{topic}}'\ntests:\n  - vars: {topic: tides}\n"
    new, failed, _ = _patch(tmp_path, "p.yaml", body)
    assert new == body and len(failed) == 1


def test_text_file_and_in_place_backup(tmp_path: Path) -> None:
    new, failed, after = _patch(tmp_path, "p.txt", "This is a test.\n")
    assert new == NEW + "\n" and not failed and after[0].text == NEW.strip()
    path = tmp_path / "q.txt"
    path.write_text("original\n")
    assert write_fixed(path, "fixed\n", None) == path
    assert path.read_text() == "fixed\n" and (tmp_path / "q.txt.bak").read_text() == "original\n"
    copy = write_fixed(Path("rel/q.txt"), "copy\n", tmp_path / "out")
    assert copy == tmp_path / "out" / "rel" / "q.txt" and copy.read_text() == "copy\n"
