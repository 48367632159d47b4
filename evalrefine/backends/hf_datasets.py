"""Deployment prompts from a Hugging Face dataset (e.g. WildChat), for ``reference build --from-hf``.

Only used when the user names a dataset; it needs the optional ``datasets`` package and the hub.
The first user turn of each conversation becomes a prompt.
"""

from __future__ import annotations

import os
from typing import Any

from evalrefine.core.io.conversation import Conversation
from evalrefine.core.io.prompt_sets import PromptRecord
from evalrefine.errors import InputError


def _first_user_turn(row: dict[str, Any]) -> str | None:
    for key in ("conversation", "messages", "conversations"):
        turns = row.get(key)
        if isinstance(turns, list):
            for turn in turns:
                if isinstance(turn, dict) and turn.get("role") in ("user", "human") and turn.get("content"):
                    return str(turn["content"])
    for key in ("text", "prompt", "input"):
        if isinstance(row.get(key), str):
            return str(row[key])
    return None


def records_from_hub(dataset: str, split: str = "train", limit: int | None = None) -> list[PromptRecord]:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise InputError(f"--from-hf {dataset}: HF_HUB_OFFLINE=1 is set", "unset it, or export the prompts to JSONL")
    try:
        import datasets
    except ImportError:
        raise InputError("--from-hf needs the 'datasets' package", "pip install datasets") from None
    try:
        stream = datasets.load_dataset(dataset, split=split, streaming=True)
    except Exception as exc:
        raise InputError(f"--from-hf {dataset}: cannot load it: {exc}") from None
    records: list[PromptRecord] = []
    for i, row in enumerate(stream):
        if limit is not None and len(records) >= limit:
            break
        text = _first_user_turn(row)
        if text and text.strip():
            records.append(PromptRecord(f"{dataset}:{i}", Conversation.from_user_text(text), dataset, f"{dataset}:{i}"))
    return records
