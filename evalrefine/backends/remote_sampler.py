"""Sampling chains of thought through an OpenAI-compatible server (the ``--server`` backend).

The prompt goes as token ids (rendered locally, exactly as scored); each rollout is one
``/v1/completions`` request with its own ``seed`` (``seed + i`` for rollout i), which vLLM, SGLang
and llama.cpp's server honour, so a rerun gets the same rollouts. Servers return text, which is
re-encoded with the model's tokenizer: a valid tokenization of what was sampled (the boundary
scores then force the sentence after exactly that text).

A rollout ends at the end of the reasoning as well as at EOS: the closers go to the server as
``stop`` strings (which servers leave out of the returned text), and the re-encoded ids are cut at
the first closer too, for servers that ignore ``stop``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from evalrefine.core.rollouts.monitor import reasoning_only
from evalrefine.errors import ModelError


class RemoteSampler:
    def __init__(self, backend: Any, temperature: float = 1.0, top_p: float = 1.0) -> None:
        self.backend, self.temperature, self.top_p = backend, temperature, top_p

    def sample(
        self, prompt_ids: Sequence[int], k: int, max_new_tokens: int, seed: int, stop: Sequence[Sequence[int]] = ()
    ) -> list[list[int]]:
        stop_texts = [self.backend.tokenizer.decode(list(s)) for s in stop if s]
        texts = asyncio.run(self._run(list(prompt_ids), k, max_new_tokens, seed, stop_texts))
        return [reasoning_only(self.backend.encode(t), stop) for t in texts]

    async def _run(self, ids: list[int], k: int, max_new_tokens: int, seed: int, stop: list[str]) -> list[str]:
        import openai

        b = self.backend
        client = b.async_client()
        limit = asyncio.Semaphore(b.concurrency)

        async def one(i: int) -> str:
            async with limit:
                try:
                    response = await client.completions.create(
                        model=b.model,
                        prompt=ids,
                        max_tokens=max_new_tokens,
                        temperature=self.temperature,
                        top_p=self.top_p,
                        seed=seed + i,
                        **({"stop": stop} if stop else {}),
                    )
                except openai.APIConnectionError:
                    raise ModelError(f"cannot reach the server at {b.base_url}", "check --server") from None
                except openai.APIStatusError as exc:
                    raise ModelError(
                        f"the server at {b.base_url} refused a sampling request ({exc.status_code})",
                        "check --model (the served name)",
                    ) from None
            return response.choices[0].text if response.choices else ""

        try:
            return list(await asyncio.gather(*(one(i) for i in range(k))))
        finally:
            await client.close()
