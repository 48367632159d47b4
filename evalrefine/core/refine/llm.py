"""An LLM as rewriter and judge, whatever the provider: the provider only completes a prompt.

The backends (OpenAI, Anthropic, OpenAI-compatible servers) implement :class:`ChatClient`, one
method; this class renders the templates in ``prompts/``, parses the answers and accounts usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evalrefine.core.refine.guard import JudgeVerdict
from evalrefine.core.refine.llm_prompts import parse_judgement, parse_rewrites, render_template, rewriter_prompt
from evalrefine.core.refine.rewriting import Candidate, RewriteRequest, Usage


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage


class ChatClient(Protocol):
    """One chat completion: a user message in, the assistant's text and its usage out."""

    def complete(self, prompt: str, max_tokens: int) -> Completion:
        """Raises EvalRefineError (never with a key in its message) when the provider fails."""
        ...


class LLMRewriter:
    def __init__(self, name: str, client: ChatClient, prompts_dir: Path, max_tokens: int = 2048) -> None:
        self._name, self.client, self.prompts_dir, self.max_tokens = name, client, prompts_dir, max_tokens

    @property
    def name(self) -> str:
        return self._name

    def rewrite(self, request: RewriteRequest) -> list[Candidate]:
        reply = self.client.complete(rewriter_prompt(self.prompts_dir, request), self.max_tokens)
        pairs = [(t, r) for t, r in parse_rewrites(reply.text, request.k) if t.strip() != request.text.strip()]
        # The call's usage is booked on the first candidate, so totals add up exactly once.
        return [
            Candidate(text, self.name, rationale, reply.usage if i == 0 else Usage())
            for i, (text, rationale) in enumerate(pairs)
        ]

    def judge(self, original: str, candidate: str) -> JudgeVerdict:
        prompt = render_template(self.prompts_dir, "judge", original=original, candidate=candidate)
        reply = self.client.complete(prompt, 256)
        keeps, reason = parse_judgement(reply.text)
        return JudgeVerdict(keeps, reason, reply.usage)
