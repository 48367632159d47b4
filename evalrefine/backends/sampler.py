"""Sampling chains of thought from a local transformers model, seeded and reproducible.

A rollout ends at EOS or at the end of the reasoning (the ``stop`` token sequences, e.g.
``</think>``): the answer after it is not part of the chain of thought, so it is neither sampled
(a row that has closed stops early) nor returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from evalrefine.core.rollouts.monitor import reasoning_only


class _StopAtSequences(StoppingCriteria):  # type: ignore[misc]
    """Marks a row done once it has produced any stop sequence after the prompt."""

    def __init__(self, stops: Sequence[Sequence[int]], prompt_len: int) -> None:
        self.stops = [list(s) for s in stops if s]
        self.prompt_len = prompt_len

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        rows = input_ids[:, self.prompt_len :].tolist()
        done = [any(len(reasoning_only(row, [s])) < len(row) for s in self.stops) for row in rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class HFSampler:
    def __init__(self, backend: Any, temperature: float = 1.0, top_p: float = 1.0) -> None:
        self.backend, self.temperature, self.top_p = backend, temperature, top_p

    def sample(
        self, prompt_ids: Sequence[int], k: int, max_new_tokens: int, seed: int, stop: Sequence[Sequence[int]] = ()
    ) -> list[list[int]]:
        model, tok = self.backend.model, self.backend.tokenizer
        criteria = StoppingCriteriaList([_StopAtSequences(stop, len(prompt_ids))] if any(stop) else [])
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(seed)  # same seed, same rollouts (on the same device and torch build)
        try:
            with torch.inference_mode():
                out = model.generate(
                    torch.tensor([list(prompt_ids)], device=model.device),
                    attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long, device=model.device),
                    do_sample=True,
                    temperature=self.temperature,
                    top_p=self.top_p,
                    top_k=0,
                    max_new_tokens=max_new_tokens,
                    num_return_sequences=k,
                    pad_token_id=tok.eos_token_id if tok.eos_token_id is not None else 0,
                    stopping_criteria=criteria,
                )
        finally:
            torch.random.set_rng_state(generator_state)
        configured = getattr(model.generation_config, "eos_token_id", None)
        configured = configured if isinstance(configured, list) else [configured]
        stops = {tok.eos_token_id, *configured} - {None}
        rollouts = []
        for row in out[:, len(prompt_ids) :].tolist():
            cut = next((i for i, t in enumerate(row) if t in stops), len(row))
            rollouts.append(reasoning_only(row[:cut], stop))
        return rollouts
