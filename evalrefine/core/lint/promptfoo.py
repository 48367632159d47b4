"""promptfoo configs: every prompt rendered with every test's ``vars``, at the prompt's own line.

promptfoo fills ``{{var}}`` slots (Nunjucks) from each test case; what the model sees is the
rendered text, so that is what is scored. A prompt with no slots keeps its place in the file
(``field = ("prompts", i)``) and can be patched by ``--write``; a rendered one cannot (the fix would
belong in the template or the vars), so its fixed copy is reported instead.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from evalrefine.core.conversation import Conversation, messages_from_json, read_text_file
from evalrefine.core.lint.sources import FieldPath, LintPrompt, Location, Parsed, ParseProblem
from evalrefine.errors import EvalRefineError

_SLOT = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def _lines(root: yaml.Node | None, key: str) -> list[int]:
    """1-based start line of each item of the top-level sequence ``key``."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return []


def _conversation(text: str, where: str) -> Conversation:
    """promptfoo chat prompts are JSON message lists; anything else is one user turn."""
    if text.lstrip().startswith("["):
        try:
            return Conversation(messages_from_json(json.loads(text), where))
        except (json.JSONDecodeError, EvalRefineError):
            pass
    return Conversation.from_user_text(text)


def _prompt_texts(
    config: dict[str, Any], lines: list[int], path: Path
) -> list[tuple[Location, str, bool] | ParseProblem]:
    """``(location, template, lives in the config)`` per prompt, or a problem."""
    out: list[tuple[Location, str, bool] | ParseProblem] = []
    prompts = config.get("prompts") or []
    for i, entry in enumerate(prompts if isinstance(prompts, list) else [prompts]):
        loc = Location(path, lines[i] if i < len(lines) else 1)
        raw = entry.get("raw", entry.get("id")) if isinstance(entry, dict) else entry
        if not isinstance(raw, str) or not raw.strip():
            out.append(ParseProblem(loc, "prompt must be a string, {raw: ...} or file://PATH"))
        elif raw.startswith("file://"):
            file = Path(os.path.normpath(path.parent / raw.removeprefix("file://")))
            try:
                out.append((Location(file, 1), read_text_file(file).strip(), False))
            except EvalRefineError as exc:
                out.append(ParseProblem(loc, f"prompt {raw}: {exc.message}", exc.hint))
        else:
            out.append((loc, raw, True))
    return out


def _render(template: str, variables: dict[str, Any]) -> str:
    return _SLOT.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


def read_promptfoo(text: str, path: Path) -> list[Parsed]:
    """The prompts of a promptfoo config; ``[]`` when the YAML is not one (no ``prompts``)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [ParseProblem(Location(path, line), f"malformed YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(config, dict) or "prompts" not in config:
        return []
    raw_tests = config.get("tests")
    tests: list[Any] = raw_tests if isinstance(raw_tests, list) else []
    default_vars = (config.get("defaultTest") or {}).get("vars") or {}
    var_sets = [{**default_vars, **((t or {}).get("vars") or {})} for t in tests if isinstance(t, dict)] or [
        default_vars
    ]
    out: list[Parsed] = []
    for i, item in enumerate(_prompt_texts(config, _lines(root, "prompts"), path)):
        if isinstance(item, ParseProblem):
            out.append(item)
            continue
        loc, template, in_config = item
        slotted = bool(_SLOT.search(template))
        for j, variables in enumerate(var_sets if slotted else [{}]):
            rendered = _render(template, variables)
            record = f"prompt {i + 1}" + (f", test {j + 1}" if slotted else "")
            field: FieldPath = ("prompts", i) if in_config and not slotted else ()
            try:
                conv = _conversation(rendered, str(loc))
                out.append(LintPrompt(loc, "promptfoo", record, conv, field if len(conv.messages) == 1 else ()))
            except EvalRefineError as exc:
                out.append(ParseProblem(loc, exc.message, exc.hint))
    return out
