"""Chat clients for the LLM rewriter: the official OpenAI and Anthropic SDKs.

Keys come from the settings (``refine.openai_api_key`` / ``refine.anthropic_api_key``, secret
strings) or the SDKs' usual environment variables; each client registers its key with
:mod:`evalrefine.redact`, so no error or output can show it. The SDKs retry transient faults (429, 5xx,
timeouts, dropped connections) themselves, ``max_retries`` times, each try bounded by ``timeout``
(both ``[refine]`` settings). Replies are read raw and validated with small pydantic models of the
fields used: a proxy's HTML error page, an empty ``choices`` list, invalid JSON or a reply with no
text is one line naming the provider (:class:`EvalRefineError`), never an ``AttributeError`` from
deep inside the SDK's lenient parsing.
"""

from __future__ import annotations

import json
import os
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from evalrefine.core.refine.llm import Completion
from evalrefine.core.refine.rewriting import Usage
from evalrefine.errors import EvalRefineError
from evalrefine.redact import register_secret

DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 2
ANTHROPIC_KEY_HINT = "set ANTHROPIC_API_KEY or [refine] anthropic_api_key"
_M = TypeVar("_M", bound=BaseModel)

# USD per million input / output tokens, for the cost column of the history (unknown models: 0).
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4-5": (3.00, 15.00),
}


def cost(model: str, input_tokens: int, output_tokens: int) -> float:
    price_in, price_out = PRICES.get(model, (0.0, 0.0))
    return (input_tokens * price_in + output_tokens * price_out) / 1e6


class _OpenAIMessage(BaseModel):
    content: str | None = None
    refusal: str | None = None


class _OpenAIChoice(BaseModel):
    message: _OpenAIMessage


class _OpenAIUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _OpenAIReply(BaseModel):
    choices: list[_OpenAIChoice] = Field(min_length=1)
    usage: _OpenAIUsage | None = None


class _AnthropicBlock(BaseModel):
    type: str
    text: str | None = None


class _AnthropicUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class _AnthropicReply(BaseModel):
    content: list[_AnthropicBlock]
    usage: _AnthropicUsage | None = None


def _validated(model: type[_M], raw: Any, where: str, hint: str) -> _M:
    """The raw HTTP reply's body as ``model``, or one line saying what was wrong with it."""
    response = raw.http_response
    body = response.text
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        snippet = " ".join(body[:80].split())
        raise EvalRefineError(f"{where}: the reply is not JSON ({kind}: {snippet!r})", hint) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "the reply"
        raise EvalRefineError(f"{where}: malformed reply: {field}: {first['msg']}", hint) from None


def _failure(exc: Exception, where: str, timeout: float, retries: int, hint: str) -> EvalRefineError:
    """One line for an SDK error, after the SDK's own retries gave up."""
    name = type(exc).__name__
    if name == "APITimeoutError":
        return EvalRefineError(
            f"{where}: no reply within {timeout:g} s (tried {retries + 1} times)",
            "raise [refine] timeout or max_retries, or check the server",
        )
    if name == "APIConnectionError":
        return EvalRefineError(f"{where}: cannot connect ({exc})", "check the network and URL")
    return EvalRefineError(f"{where}: {exc}", hint)  # EvalRefineError redacts the key


class OpenAIChatClient:
    """OpenAI, or any OpenAI-compatible server when ``base_url`` is given (vLLM, Ollama, llama.cpp…)."""

    def __init__(
        self,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: Any = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_RETRIES,
    ) -> None:
        import openai

        register_secret(api_key)
        self.model, self.base_url = model, base_url
        self._timeout, self._retries = timeout, max_retries
        self.where = f"OpenAI-compatible server {base_url}" if base_url else "OpenAI"
        if api_key is None and base_url is not None:
            api_key = "not-needed"  # local servers usually ignore the key, but the SDK insists on one
        try:
            self._client = openai.OpenAI(
                api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries, http_client=http_client
            )
        except openai.OpenAIError:
            raise EvalRefineError("OpenAI: no API key", "set OPENAI_API_KEY or [refine] openai_api_key") from None

    def complete(self, prompt: str, max_tokens: int) -> Completion:
        import openai

        hint = "check the model name, key and server"
        try:
            raw = self._client.chat.completions.with_raw_response.create(
                model=self.model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                temperature=0.8,
            )
        except openai.APIError as exc:
            raise _failure(exc, self.where, self._timeout, self._retries, hint) from None
        reply = _validated(_OpenAIReply, raw, self.where, hint)
        text = reply.choices[0].message.content or ""  # a refusal has no content: no candidates
        u = reply.usage or _OpenAIUsage()
        tokens_in, tokens_out = u.prompt_tokens, u.completion_tokens
        return Completion(text, Usage(tokens_in, tokens_out, cost(self.model, tokens_in, tokens_out)))


class AnthropicChatClient:
    def __init__(
        self,
        model: str,
        api_key: str | None = None,
        http_client: Any = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_RETRIES,
        base_url: str | None = None,
    ) -> None:
        import anthropic

        api_key = api_key or os.environ.get("ANTHROPIC_API_KEY") or None
        if api_key is None and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
            # The SDK would only fail at the first request, with a TypeError about "authentication methods".
            raise EvalRefineError("Anthropic: no API key", ANTHROPIC_KEY_HINT)
        register_secret(api_key)
        self.model = model
        self._timeout, self._retries = timeout, max_retries
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries, http_client=http_client
        )

    def complete(self, prompt: str, max_tokens: int) -> Completion:
        import anthropic

        hint = "check the model name and key"
        try:
            raw = self._client.messages.with_raw_response.create(
                model=self.model, max_tokens=max_tokens, messages=[{"role": "user", "content": prompt}]
            )
        except anthropic.AuthenticationError:
            raise EvalRefineError("Anthropic rejected the API key", ANTHROPIC_KEY_HINT) from None
        except anthropic.APIError as exc:
            raise _failure(exc, "Anthropic", self._timeout, self._retries, hint) from None
        reply = _validated(_AnthropicReply, raw, "Anthropic", hint)
        texts = [b.text for b in reply.content if b.type == "text" and b.text is not None]
        if not texts:
            raise EvalRefineError("Anthropic: malformed reply: no text block", hint)
        u = reply.usage or _AnthropicUsage()
        return Completion(
            "".join(texts), Usage(u.input_tokens, u.output_tokens, cost(self.model, u.input_tokens, u.output_tokens))
        )
