"""Scoring through an OpenAI-compatible server that returns prompt log-probabilities.

Serving engines (vLLM, SGLang, llama.cpp's server) answer ``/v1/completions`` with ``echo: true``
and ``logprobs`` by returning log P of every *prompt* token. We render the chat template locally
with the model's own tokenizer and send **token ids**, not text, so the server scores exactly the
sequence the local backend would: no re-tokenization, and the forced sentence's tokens are simply
the last ``len(sentence)`` entries. A server that does not return prompt log-probs is refused with
a message saying so, never silently mis-scored.

Requests run concurrently (``model.concurrency`` in flight, asyncio), and the official ``openai``
SDK retries 429/5xx/timeouts with exponential backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from evalrefine.backends.hf_tokenizer import HFChatTokenizer
from evalrefine.errors import ModelError

NOT_SUPPORTED = (
    "use a server that returns prompt log-probabilities for completions with echo=true "
    "(vLLM, SGLang, llama.cpp's server); see the README section on servers"
)


class RemoteBackend(HFChatTokenizer):
    def __init__(
        self,
        base_url: str,
        model: str,
        tokenizer: Any,
        tokenizer_identity: str,
        concurrency: int = 8,
        timeout: float = 120.0,
        api_key: str | None = None,
        max_retries: int = 5,
    ) -> None:
        self.base_url, self.model, self.tokenizer = base_url.rstrip("/"), model, tokenizer
        self._name = f"{model} @ {self.base_url}"
        self.concurrency, self.timeout, self.max_retries = concurrency, timeout, max_retries
        self._api_key = api_key or "EMPTY"  # local servers accept any key; never logged
        self._identity = hashlib.sha256(f"{self.base_url}|{model}|{tokenizer_identity}".encode()).hexdigest()
        self.requests = 0

    @property
    def fingerprint(self) -> str:
        """The server, the served name and the tokenizer: a remote model's weights are not visible
        to us (and are often quantised), so its references are its own."""
        return self._identity

    @property
    def context_length(self) -> int:
        n = int(getattr(self.tokenizer, "model_max_length", 0) or 0)
        return n if 0 < n < 10**7 else 32768

    # -- ContinuationScorer ----------------------------------------------------------------------
    def score_continuations(self, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
        return self.score_variants([prefix], [continuations])[0]

    def score_variants(
        self, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]]
    ) -> list[list[list[float]]]:
        jobs = [
            (i, j, [*p, *c])
            for i, (p, cs) in enumerate(zip(prompts, continuations, strict=True))
            for j, c in enumerate(cs)
        ]
        lps = asyncio.run(self._run([ids for _, _, ids in jobs]))
        out: list[list[list[float]]] = [[[] for _ in cs] for cs in continuations]
        for (i, j, _), values in zip(jobs, lps, strict=True):
            n = len(continuations[i][j])
            out[i][j] = values[len(values) - n :]
        return out

    def async_client(self) -> Any:
        """An ``openai.AsyncOpenAI`` for this server (scoring here, sampling in ``remote_sampler``)."""
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            base_url=self.base_url, api_key=self._api_key, max_retries=self.max_retries, timeout=self.timeout
        )

    async def _run(self, sequences: list[list[int]]) -> list[list[float]]:
        client = self.async_client()
        limit = asyncio.Semaphore(self.concurrency)

        async def one(ids: list[int]) -> list[float]:
            async with limit:
                return await self._prompt_logprobs(client, ids)

        try:
            return list(await asyncio.gather(*(one(ids) for ids in sequences)))
        finally:
            await client.close()

    async def _prompt_logprobs(self, client: Any, ids: list[int]) -> list[float]:
        """log P of every token after the first (the first has no context)."""
        import openai

        try:
            response = await client.completions.create(
                model=self.model, prompt=ids, max_tokens=1, echo=True, logprobs=1, temperature=0.0
            )
        except openai.APIConnectionError:
            raise ModelError(
                f"cannot reach the server at {self.base_url}", "check --server and that it is running"
            ) from None
        except openai.APIStatusError as exc:
            raise ModelError(
                f"the server at {self.base_url} refused the request ({exc.status_code})",
                "check --model (the served name)",
            ) from None
        self.requests += 1
        choice = response.choices[0] if response.choices else None
        values = getattr(getattr(choice, "logprobs", None), "token_logprobs", None)
        if not values or len(values) < len(ids):
            raise ModelError(f"the server at {self.base_url} returned no prompt log-probabilities", NOT_SUPPORTED)
        prompt = values[: len(ids)]
        if any(v is None for v in prompt[1:]):
            raise ModelError(
                f"the server at {self.base_url} returned incomplete prompt log-probabilities", NOT_SUPPORTED
            )
        return [float(v) for v in prompt[1:]]
