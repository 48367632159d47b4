"""The rollout flags shared by ``score``, ``validate``, ``lint`` and ``verify``, and what they build:
a seeded sampler for the loaded backend (local generation or the ``--server``) and the
verbalization judge. Unset flags fall back to the ``[rollouts]`` settings."""

from __future__ import annotations

from typing import Annotated

import typer

RolloutsOpt = Annotated[
    int | None, typer.Option("--rollouts", min=0, help="Chains of thought to sample per prompt (0: start of CoT only).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed (same seed, same rollouts).")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-new-tokens", min=1, help="Length of each sampled rollout.")]
JudgeOpt = Annotated[
    str | None,
    typer.Option(
        "--judge",
        help="Verbalization judge: patterns (offline) or an LLM spec (openai:MODEL, anthropic:MODEL, "
        "openai-compatible:MODEL@URL) reading prompts/verbalization.md.",
    ),
]


def rollout_flags(
    rollouts: int | None, seed: int | None, max_new_tokens: int | None, judge: str | None = None
) -> dict[str, object]:
    """The flags as a ``[rollouts]`` settings override (for :func:`build_settings`)."""
    return {"count": rollouts, "seed": seed, "max_new_tokens": max_new_tokens, "judge": judge}
