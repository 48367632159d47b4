"""Writing a prompt back keeps everything else the file held (issue 17: nothing lost)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalrefine.core.io.conversation import Conversation, Message, load_conversation, normalize_text
from evalrefine.core.io.prompt_writer import render_prompt_file, write_prompt
from evalrefine.errors import InputError

TEXTS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40).filter(
    lambda t: bool(normalize_text(t))
)


@given(system=TEXTS, first=TEXTS, answer=TEXTS, last=TEXTS, suffix=st.sampled_from([".json", ".jsonl"]))
@settings(max_examples=100, deadline=None)
def test_chat_files_round_trip(system: str, first: str, answer: str, last: str, suffix: str) -> None:
    conv = Conversation(
        (Message("system", system), Message("user", first), Message("assistant", answer), Message("user", last))
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"p{suffix}"
        write_prompt(path, conv)
        assert load_conversation(path) == conv


def test_json_record_keeps_id_metadata_system_field_and_message_keys(tmp_path: Path) -> None:
    record = {
        "id": "case-7",
        "metadata": {"split": "test", "difficulty": 3},
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "first", "name": "alice"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "This is a test. Answer (A) or (B)."},
        ],
    }
    path = tmp_path / "case.json"
    path.write_text(json.dumps(record))
    conv = load_conversation(path)
    edited = Conversation((*conv.messages[:-1], Message("user", "Answer (A) or (B).")))
    write_prompt(path, edited)
    again = json.loads(path.read_text())
    assert again["id"] == "case-7" and again["metadata"] == record["metadata"] and again["system"] == "You are terse."
    assert again["messages"][0] == {"role": "user", "content": "first", "name": "alice"}
    assert again["messages"][2]["content"] == "Answer (A) or (B)."
    assert load_conversation(path) == edited


def test_crlf_and_bom_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"\xef\xbb\xbfline one\r\nline two\r\n")
    write_prompt(path, Conversation((Message("user", "line one\nline 2"),)))
    assert path.read_bytes() == b"\xef\xbb\xbfline one\r\nline 2\r\n"


def test_a_text_file_cannot_hold_a_system_prompt_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("original\n")
    with pytest.raises(InputError, match=r"holds one user turn.*save it as \.json"):
        write_prompt(path, Conversation((Message("system", "S"), Message("user", "new"))))
    assert path.read_text() == "original\n"


def test_string_input_record(tmp_path: Path) -> None:
    text = render_prompt_file(
        Conversation((Message("user", "new text"),)), ".json", json.dumps({"id": 1, "input": "old", "target": "A"})
    )
    assert json.loads(text) == {"id": 1, "input": "new text", "target": "A"}
