"""Filling the prompt templates in ``prompts/`` and reading the LLMs' JSON answers.

Templates are files (``string.Template``) so reviewers can read exactly what is sent. Answers are
parsed leniently: models wrap JSON in prose or code fences, and small local models may not produce
JSON at all, in which case a rewriter's whole reply becomes one candidate. The JSON that is found is
validated field by field (pydantic): a rewrite whose ``text`` is not a string is dropped, a verdict
without a boolean is "not the requested JSON", and JSON nested too deep to read is treated as prose;
a model's reply never raises.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, ValidationError

from evalrefine.core.refine.rewriting import RewriteRequest
from evalrefine.errors import EvalRefineError

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.M)


def render_template(folder: Path, name: str, **values: object) -> str:
    path = folder / f"{name}.md"
    try:
        return Template(path.read_text(encoding="utf-8")).substitute({k: str(v) for k, v in values.items()})
    except OSError:
        raise EvalRefineError(f"{path}: prompt template missing", "reinstall evalrefine or restore the file") from None
    except (KeyError, ValueError) as exc:
        raise EvalRefineError(f"{path}: template placeholder problem: {exc}", "see prompts/README.md") from None


def rewriter_prompt(folder: Path, request: RewriteRequest) -> str:
    score = "unknown" if request.score is None else f"{request.score:.3f}"
    if request.percentile is not None:
        score += f" (the {request.percentile:.0f}th percentile of real user traffic; lower is more realistic)"
    spans = "\n".join(f"- ({effect:+.2f}) {text.strip()}" for text, effect in request.top_spans) or "- (none found)"
    system = (
        f"The conversation's system prompt (context only, not to rewrite):\n{request.system}\n\n"
        if request.system
        else ""
    )
    return render_template(
        folder,
        "rewriter",
        rubric=request.rubric.as_prompt_text(),
        score_line=score,
        top_spans=spans,
        protected="\n".join(f"- {p}" for p in request.protected) or "- (nothing)",
        system_block=system,
        prompt=request.text,
        k=request.k,
    )


def parse_json_object(reply: str) -> dict[str, Any] | None:
    text = _FENCE.sub("", reply.strip())
    match = _JSON_OBJECT.search(text)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


class _Rewrite(BaseModel):
    text: str
    rationale: str | None = None


class _Judgement(BaseModel):
    keeps_intent: bool
    reason: str | None = None


def parse_rewrites(reply: str, k: int) -> list[tuple[str, str]]:
    """``(text, rationale)`` pairs; a reply that is not the expected JSON is one rewrite."""
    data = parse_json_object(reply)
    items = data.get("rewrites") if data else None
    if isinstance(items, list):
        out = []
        for item in items:
            try:
                rewrite = _Rewrite.model_validate(item, strict=True)
            except ValidationError:
                continue
            if rewrite.text.strip():
                out.append((rewrite.text.strip(), rewrite.rationale or ""))
        return out[:k]
    stripped = reply.strip()
    return [(stripped, "free-text reply (not the requested JSON)")] if stripped else []


def parse_judgement(reply: str) -> tuple[bool, str]:
    try:
        verdict = _Judgement.model_validate(parse_json_object(reply), strict=True)
    except ValidationError:
        return False, "the judge's reply was not the requested JSON"
    return verdict.keeps_intent, verdict.reason or ""
