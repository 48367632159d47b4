"""The flags every command shares, declared once.

Each scoring command takes the same "which model, what to force, which reference, which system
prompt, which output format" flags. Rather than repeat that parameter block in every signature
(where the copies drift: a flag missing here, another name there), :func:`shared_flags` adds it to a
command's signature and hands the values over as one :class:`Flags` object.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypeVar

import typer

from evalrefine.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Flags:
    """The shared flags as the user gave them (``None``: not given, the settings decide)."""

    model: str | None = None
    sentence: list[str] | None = None
    cot_opener: str | None = None
    device: str | None = None
    server: str | None = None
    tokenizer: str | None = None
    reference: str | None = None
    system: str | None = None
    format: str = "table"
    """How the result is printed: ``table`` for people, ``json`` for machines (others per command)."""
    rollouts: int | None = None
    seed: int | None = None
    max_new_tokens: int | None = None
    judge: str | None = None

    @property
    def rollout_settings(self) -> dict[str, object]:
        """The rollout flags as a ``[rollouts]`` settings override (unset ones left to the settings)."""
        given = {"count": self.rollouts, "seed": self.seed, "max_new_tokens": self.max_new_tokens, "judge": self.judge}
        return {k: v for k, v in given.items() if v is not None}

    @property
    def as_json(self) -> bool:
        return self.format == "json"


_HELP = {
    "model": (("--model", "-m"), "'embedded', a model directory, a .gguf file or a hub id."),
    "sentence": (("--sentence", "-s"), "Eval-aware sentence to force (repeatable); it becomes the headline."),
    "cot_opener": (("--cot-opener",), "Text that opens the reasoning (default: detected from the chat template)."),
    "device": (("--device",), "auto, cpu, cuda or mps."),
    "server": (("--server",), "Score through this OpenAI-compatible server (base URL); --model is the served name."),
    "tokenizer": (("--tokenizer",), "With --server: local tokenizer (dir, .gguf, embedded)."),
    "reference": (("--reference",), "Reference set to place scores in (default: the matching one)."),
    "system": (("--system",), "System prompt to put first (a file that has its own is an error)."),
}
_TYPES: dict[str, Any] = {"sentence": list[str] | None}
JudgeOpt = Annotated[
    str | None,
    typer.Option(
        "--judge",
        help="Verbalization judge: patterns (offline) or an LLM spec (openai:MODEL, anthropic:MODEL, "
        "openai-compatible:MODEL@URL) reading prompts/verbalization.md.",
    ),
]
_ROLLOUT_FLAGS: dict[str, Any] = {
    "rollouts": Annotated[
        int | None,
        typer.Option("--rollouts", min=0, help="Chains of thought to sample per prompt (0: start of CoT only)."),
    ],
    "seed": Annotated[int | None, typer.Option("--seed", help="Sampling seed (same seed, same rollouts).")],
    "max_new_tokens": Annotated[
        int | None, typer.Option("--max-new-tokens", min=1, help="Length of each sampled rollout.")
    ],
    "judge": JudgeOpt,
}
MODEL_FLAGS: tuple[str, ...] = tuple(_HELP)
"""Every shared flag but the output format (for commands that load no model)."""


def _param(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def shared_flags(
    *, omit: Sequence[str] = (), formats: Sequence[str] | None = ("table", "json"), rollouts: bool = False
) -> Callable[[F], F]:
    """Add the shared flags (all but ``omit``), ``--format``/``--json`` (unless ``formats`` is
    ``None``) and with ``rollouts`` the sampling flags (``--rollouts --seed --max-new-tokens --judge``)
    to a command whose signature ends in ``flags: Flags``, and pass them as that object."""

    def decorate(command: F) -> F:
        params: list[inspect.Parameter] = []
        annotations: dict[str, Any] = {}
        for name, (names, help_text) in _HELP.items():
            if name in omit:
                continue
            annotation: Any = Annotated[_TYPES.get(name, str | None), typer.Option(*names, help=help_text)]
            params.append(_param(name, annotation, None))
            annotations[name] = annotation
        for name, annotation in _ROLLOUT_FLAGS.items() if rollouts else ():
            params.append(_param(name, annotation, None))
            annotations[name] = annotation
        if formats is not None:
            choices = ", ".join(formats)
            fmt = Annotated[str, typer.Option("--format", "-f", help=f"Output: {choices}.")]
            as_json = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
            params += [_param("format", fmt, formats[0]), _param("as_json", as_json, False)]
            annotations |= {"format": fmt, "as_json": as_json}
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "flags"]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {f.name: kwargs.pop(f.name) for f in fields(Flags) if f.name in kwargs}
            if kwargs.pop("as_json", False):
                given["format"] = "json"
            if formats is not None and given.get("format") not in formats:
                raise InputError(f"unknown --format {given.get('format')!r}", f"use one of {', '.join(formats)}")
            return command(*args, flags=Flags(**given), **kwargs)

        wrapper.__signature__ = inspect.Signature([*own, *params])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own} | annotations
        return wrapper  # type: ignore[return-value]

    return decorate
