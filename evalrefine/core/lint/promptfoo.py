"""promptfoo configs: every prompt × every test case, rendered the way promptfoo renders it.

What the model sees is the rendered text, so that is what is scored. Prompts come inline, as
``{raw: …}``, or from ``file://`` files (text files split on ``---`` lines, chat-format JSON/YAML,
JSONL, ``.j2``); tests come inline, from ``file://`` CSV/JSONL/JSON/YAML files, with ``defaultTest``
(inline or a file) under each, ``file://`` var values loaded, var files (``vars: file://…``)
merged, and list-valued vars expanded into one case per value, as promptfoo does.

Templates are Nunjucks; they are rendered with Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment`
(the template is untrusted input too). Differences from Nunjucks: a var no test defines renders as
its ``{{ name }}`` placeholder, not as an empty string, so the gap stays visible; ``dump`` is added as
a filter (JSON), other Nunjucks-only filters and syntax are not, and a template Jinja2 cannot render
falls back to plain ``{{ var }}`` substitution; ``{% include %}`` reads no files.

A prompt with no slots keeps its place in the config (``field = ("prompts", i)``) and can be patched
by ``--write``; a rendered one cannot (the fix belongs in the template or the vars).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalrefine.core.io.conversation import Conversation, messages_from_json
from evalrefine.core.io.conversation import validate_conversation as _validate
from evalrefine.core.lint import promptfoo_files as pf
from evalrefine.core.lint.safeyaml import item_lines, key_line, load_yaml
from evalrefine.core.lint.skips import CODE
from evalrefine.core.lint.sources import FieldPath, LintPrompt, Location, Parsed, ParseProblem
from evalrefine.errors import EvalRefineError

_SLOT = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
MAX_COMBINATIONS = 64
MAX_RENDERED = 200_000
RENDERED: FieldPath = ("rendered",)
"""The field of a prompt that exists only after rendering: ``--write`` must not patch it."""


@dataclass(frozen=True)
class _Prompt:
    loc: Location
    template: str
    patchable: FieldPath | None


@dataclass(frozen=True)
class _Test:
    loc: Location
    variables: dict[str, Any]
    from_file: bool


def _env() -> Any:
    from jinja2 import ChainableUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class KeepPlaceholder(ChainableUndefined):
        def __str__(self) -> str:
            return "{{ " + str(self._undefined_name) + " }}"

    env = SandboxedEnvironment(undefined=KeepPlaceholder, autoescape=False, keep_trailing_newline=True)
    env.filters["dump"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    return env


_ENV: list[Any] = []


def render(template: str, variables: dict[str, Any]) -> str:
    """``template`` with ``variables`` filled in (sandboxed Jinja2, else plain slot substitution)."""
    if "{{" not in template and "{%" not in template and "{#" not in template:
        return template
    if not _ENV:
        _ENV.append(_env())
    try:
        return str(_ENV[0].from_string(template).render(**variables))
    except Exception:  # any template or sandbox error: a syntax Jinja2 lacks must not stop the lint
        return _SLOT.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


def _render_leaves(data: Any, variables: dict[str, Any]) -> Any:
    if isinstance(data, str):
        return render(data, variables)
    if isinstance(data, list):
        return [_render_leaves(d, variables) for d in data]
    if isinstance(data, dict):
        return {k: _render_leaves(v, variables) for k, v in data.items()}
    return data


def _chat(data: Any, where: str) -> Conversation | None:
    if isinstance(data, list) or (isinstance(data, dict) and "messages" in data):
        try:
            return Conversation(messages_from_json(data, where))
        except EvalRefineError:
            return None
    return None


def to_conversation(template: str, variables: dict[str, Any], where: str) -> Conversation:
    """promptfoo chat prompts are JSON message lists (rendered string by string, so a var holding
    quotes cannot break the JSON); a Nunjucks loop that builds the JSON is rendered first; anything
    else is one user turn."""
    stripped = template.lstrip()
    if stripped[:1] in ("[", "{"):
        try:
            conv = _chat(_render_leaves(json.loads(template), variables), where)
        except (ValueError, RecursionError):
            conv = None
        if conv is None:
            try:
                conv = _chat(json.loads(render(template, variables)), where)
            except (ValueError, RecursionError):
                conv = None
        if conv is not None:
            return conv
    text = render(template, variables)
    if len(text) > MAX_RENDERED:
        raise EvalRefineError(f"{where}: the rendered prompt is over {MAX_RENDERED} characters")
    return Conversation.from_user_text(text)


def _prompts(ctx: pf.Context, config: dict[str, Any], root: Any, path: Path) -> list[_Prompt]:
    raw = config.get("prompts")
    lines = item_lines(root, "prompts")
    head = key_line(root, "prompts")
    entries: list[Any] = list(raw) if isinstance(raw, dict) else raw if isinstance(raw, list) else [raw]
    out: list[_Prompt] = []
    for i, entry in enumerate(entries):
        loc = Location(path, lines[i] if i < len(lines) else head)
        text = entry.get("raw", entry.get("id")) if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and "function" in entry:
            ctx.skip(loc, CODE, "prompt function")
        elif not isinstance(text, str) or not text.strip():
            ctx.problem(loc, "prompt must be a string, {raw: ...} or file://PATH")
        elif pf.is_ref(text) or text.startswith("exec:") or _bare_path(text, path.parent):
            for file in pf.resolve(ctx, text, path.parent, loc):
                for floc, template, whole in pf.prompt_file(ctx, file, loc):
                    out.append(_Prompt(floc, template, () if whole else None))
        else:
            out.append(_Prompt(loc, text, ("prompts", i) if isinstance(entry, str) else None))
    return out


def _bare_path(text: str, base: Path) -> bool:
    """promptfoo also reads ``prompts: [prompts.txt]`` as a file when such a file exists."""
    return "\n" not in text and " " not in text and "{" not in text and "." in text and (base / text).is_file()


def _vars(ctx: pf.Context, test: dict[str, Any], loc: Location, base: Path) -> dict[str, Any] | None:
    """A test's vars with ``file://`` values and var files loaded; ``None`` if it cannot be rendered."""
    raw = test.get("vars")
    if raw is None:
        return {}
    if isinstance(raw, str) or (isinstance(raw, list) and all(isinstance(r, str) for r in raw)):
        merged: dict[str, Any] = {}
        for ref in [raw] if isinstance(raw, str) else raw:
            for _, data in pf.mapping_file(ctx, ref if pf.is_ref(ref) else "file://" + ref, base, loc, "vars"):
                merged.update(data)
        raw = merged
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        ctx.problem(loc, f"vars must be a mapping or file:// paths, not {kind}", "write vars: {name: value}")
        return None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if pf.is_ref(value):
            value = pf.var_value(ctx, value, base, loc)
            if value is None:
                return None
        out[str(key)] = value
    return out


def _tests(ctx: pf.Context, config: dict[str, Any], root: Any, path: Path) -> list[_Test]:
    raw = config.get("tests")
    lines = item_lines(root, "tests")
    head = key_line(root, "tests")
    entries = raw if isinstance(raw, list) else [] if raw is None else [raw]
    out: list[_Test] = []
    for i, entry in enumerate(entries):
        loc = Location(path, lines[i] if i < len(lines) else head)
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and "vars" not in entry:
            entry = entry["path"]
        if isinstance(entry, str):
            ref = entry if pf.is_ref(entry) or ":" in entry.split("/")[0] else "file://" + entry
            for file in pf.resolve(ctx, ref, path.parent, loc):
                for tloc, test in pf.test_file(ctx, file, loc):
                    out.extend(_one_test(ctx, test, tloc, file.parent, True))
        else:
            out.extend(_one_test(ctx, entry, loc, path.parent, False))
    return out


def _one_test(ctx: pf.Context, test: Any, loc: Location, base: Path, from_file: bool) -> list[_Test]:
    if not isinstance(test, dict):
        ctx.problem(loc, f"a test must be a mapping or file://PATH, not {type(test).__name__}")
        return []
    variables = _vars(ctx, test, loc, base)
    return [] if variables is None else [_Test(loc, variables, from_file)]


def _default_vars(ctx: pf.Context, config: dict[str, Any], root: Any, path: Path) -> dict[str, Any]:
    raw = config.get("defaultTest")
    loc = Location(path, key_line(root, "defaultTest"))
    if raw is None:
        return {}
    if isinstance(raw, str):
        ref = raw if pf.is_ref(raw) else "file://" + raw
        found = pf.mapping_file(ctx, ref, path.parent, loc, "defaultTest")
        if not found:
            return {}
        file, raw = found[0]
        return _vars(ctx, raw, Location(file, 1), file.parent) or {}
    if not isinstance(raw, dict):
        ctx.problem(loc, f"defaultTest must be a mapping or file://PATH, not {type(raw).__name__}")
        return {}
    return _vars(ctx, raw, loc, path.parent) or {}


def _expand(ctx: pf.Context, test: _Test) -> Iterator[dict[str, Any]]:
    """promptfoo runs a test once per value of each list-valued var (lists of scalars)."""
    keys = [k for k, v in test.variables.items() if isinstance(v, list) and v and all(_scalar(x) for x in v)]
    if not keys:
        yield test.variables
        return
    combos = itertools.product(*(test.variables[k] for k in keys))
    for n, values in enumerate(combos):
        if n == MAX_COMBINATIONS:
            ctx.skip(test.loc, "var combinations over the limit", f"only the first {MAX_COMBINATIONS} are linted")
            return
        yield {**test.variables, **dict(zip(keys, values, strict=True))}


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def read_promptfoo(text: str, path: Path, root: Path | None = None) -> list[Parsed]:
    """The prompts of a promptfoo config; ``[]`` when the YAML is not one (no ``prompts``)."""
    from evalrefine.core.lint.discovery import lint_root

    loaded = load_yaml(text, path)
    if isinstance(loaded, ParseProblem):
        return [loaded]
    node, config = loaded
    if not isinstance(config, dict) or "prompts" not in config:
        return []
    ctx = pf.Context((root or lint_root(path)).resolve())
    prompts = _prompts(ctx, config, node, path)
    default = _default_vars(ctx, config, node, path)
    tests = _tests(ctx, config, node, path)
    out: list[Parsed] = []
    for i, prompt in enumerate(prompts):
        slotted = any(s in prompt.template for s in ("{{", "{%", "{#"))
        runs: list[tuple[str, dict[str, Any]]] = [("", {})]
        if slotted:
            runs = [
                (f", test {j + 1}" + (f" ({t.loc.path.name}:{t.loc.line})" if t.from_file else ""), {**default, **v})
                for j, t in enumerate(tests)
                for v in _expand(ctx, t)
            ] or [("", default)]
        for suffix, variables in runs:
            try:
                conv = _validate(to_conversation(prompt.template, variables, str(prompt.loc)), str(prompt.loc))
            except EvalRefineError as exc:
                out.append(ParseProblem(prompt.loc, exc.message.removeprefix(f"{prompt.loc}: "), exc.hint))
                continue
            field = prompt.patchable if prompt.patchable is not None and not slotted else None
            if field is None or len(conv.messages) > 1:
                field = RENDERED
            out.append(LintPrompt(prompt.loc, "promptfoo", f"prompt {i + 1}{suffix}", conv, field))
    return [*out, *ctx.out]
