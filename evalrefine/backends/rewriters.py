"""Turn ``--rewriter SPEC`` into a rewriter (and, for LLMs, the intent guard's judge), and
``--judge SPEC`` into a verbalization judge: the same LLM specs, so any configured rewriter LLM can judge."""

from __future__ import annotations

import os

from evalrefine.config import RefineSettings
from evalrefine.core.refine.guard import Judge
from evalrefine.core.refine.llm import ChatClient
from evalrefine.core.refine.rewriting import Rewriter
from evalrefine.core.refine.rubric import Rubric
from evalrefine.core.rollouts.verbalization import VerbalizationJudge
from evalrefine.errors import InputError
from evalrefine.resources import data_dir

SPECS = "rules, openai:MODEL, anthropic:MODEL or openai-compatible:MODEL@BASE_URL"
DEFAULT_OPENAI = "openai:gpt-4o-mini"
DEFAULT_ANTHROPIC = "anthropic:claude-haiku-4-5"


def default_spec(settings: RefineSettings) -> str:
    """With no key configured, the offline rewriter."""
    if settings.rewriter:
        return settings.rewriter
    if settings.openai_api_key or os.environ.get("OPENAI_API_KEY"):
        return DEFAULT_OPENAI
    if settings.anthropic_api_key or os.environ.get("ANTHROPIC_API_KEY"):
        return DEFAULT_ANTHROPIC
    return "rules"


def make_client(spec: str, settings: RefineSettings) -> ChatClient:
    """The chat client an LLM spec names (``openai:…``, ``anthropic:…``, ``openai-compatible:…@URL``),
    with the ``[refine]`` timeout and retry limits; a missing key fails here, before any request."""
    kind, _, rest = spec.partition(":")
    if not rest:
        raise InputError(f"unknown LLM {spec!r}", f"use {SPECS}")
    from evalrefine.backends import llm_clients

    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    timeout, retries = settings.timeout, settings.max_retries
    if kind == "openai":
        return llm_clients.OpenAIChatClient(rest, api_key=secret, timeout=timeout, max_retries=retries)
    if kind == "openai-compatible":
        model, _, base_url = rest.rpartition("@")
        if not model or not base_url.startswith(("http://", "https://")):
            raise InputError(f"bad LLM spec {spec!r}", "write openai-compatible:MODEL@http://host:port/v1")
        return llm_clients.OpenAIChatClient(
            model, api_key=secret, base_url=base_url, timeout=timeout, max_retries=retries
        )
    if kind == "anthropic":
        key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
        return llm_clients.AnthropicChatClient(rest, api_key=key, timeout=timeout, max_retries=retries)
    raise InputError(f"unknown LLM kind {kind!r}", f"use {SPECS}")


def make_rewriter(spec: str, rubric: Rubric, settings: RefineSettings) -> tuple[Rewriter, Judge | None]:
    from evalrefine.core.refine.llm import LLMRewriter
    from evalrefine.core.refine.rules import RuleRewriter

    if spec == "rules":
        return RuleRewriter(rubric), None
    rewriter = LLMRewriter(spec, make_client(spec, settings), data_dir("prompts"))
    return rewriter, rewriter


def make_verbalization_judge(spec: str, settings: RefineSettings) -> VerbalizationJudge:
    """``patterns`` (offline) or an LLM spec reading ``prompts/verbalization.md``."""
    from evalrefine.core.rollouts.verbalization import LLMVerbalizationJudge, PatternJudge

    if spec == "patterns":
        return PatternJudge()
    return LLMVerbalizationJudge(spec, make_client(spec, settings), data_dir("prompts"))
