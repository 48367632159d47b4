"""Reading prompts from files and stdin, and every way that can fail (one line, file:line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalrefine.core.io.conversation import (
    Conversation,
    Message,
    conversation_from_stdin,
    load_conversation,
)
from evalrefine.errors import InputError


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def test_text_file_is_the_user_turn(tmp_path: Path) -> None:
    text = "Line one\n\n```python\nprint('x')\n```\nÜnïcödé 🙂\n"
    conv = load_conversation(write(tmp_path, "p.md", text))
    assert conv == Conversation((Message("user", text),))


def test_system_flag(tmp_path: Path) -> None:
    conv = load_conversation(write(tmp_path, "p.txt", "hi"), system="Be brief.")
    assert conv.messages == (Message("system", "Be brief."), Message("user", "hi"))


def test_json_list_and_object(tmp_path: Path) -> None:
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert load_conversation(write(tmp_path, "a.json", json.dumps(msgs))).as_dicts() == msgs
    obj = {"system": "S", "messages": [{"role": "user", "content": "U"}]}
    assert load_conversation(write(tmp_path, "b.json", json.dumps(obj))).as_dicts() == msgs


def test_jsonl_messages(tmp_path: Path) -> None:
    lines = (
        '{"role": "user", "content": "a"}\n\n{"role": "assistant", "content": "b"}\n{"role": "user", "content": "c"}\n'
    )
    conv = load_conversation(write(tmp_path, "c.jsonl", lines))
    assert [m.role for m in conv.messages] == ["user", "assistant", "user"]


def test_stdin_sniffs_json_or_text() -> None:
    assert conversation_from_stdin("just text").messages == (Message("user", "just text"),)
    assert conversation_from_stdin('[{"role": "user", "content": "x"}]').messages == (Message("user", "x"),)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("empty.txt", "  \n", "the prompt is empty"),
        (
            "bad.jsonl",
            '{"role": "user", "content": "a"}\n{"role": "user", "content": \n',
            "bad.jsonl:2: malformed JSON",
        ),
        ("bad.json", '[\n {"role": "user",\n  "content": "x"\n', "bad.json:4: malformed JSON"),
        ("latin1.txt", b"caf\xe9\nna\xefve", "latin1.txt:1: not valid UTF-8"),
        ("bin.txt", b"\x00\x01\x02", "looks like a binary file"),
        ("role.json", '[{"role": "robot", "content": "x"}]', "role must be one of"),
        (
            "last.json",
            '[{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]',
            "not 'user'",
        ),
        ("shape.json", '{"foo": 1}', "expected a list of chat messages"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, name: str, data: str | bytes, expected: str) -> None:
    with pytest.raises(InputError) as err:
        load_conversation(write(tmp_path, name, data))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_conversation(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a directory"):
        load_conversation(tmp_path)


def test_system_twice_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, "s.json", '[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]')
    with pytest.raises(InputError, match="already has a system message"):
        load_conversation(p, system="other")


def test_files_are_not_modified(tmp_path: Path) -> None:
    p = write(tmp_path, "p.txt", "keep me")
    before = p.read_bytes(), p.stat().st_mtime_ns
    load_conversation(p)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before
