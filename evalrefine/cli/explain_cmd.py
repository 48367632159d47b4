"""``evalrefine explain``: the prompt painted by which wording drives the eval-awareness score."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from evalrefine.cli.common import (
    build_settings,
    open_cli_session,
    read_prompt,
)
from evalrefine.cli.options import Flags, shared_flags
from evalrefine.core.attribution.base import Attribution
from evalrefine.core.io.conversation import Conversation


@shared_flags()
def explain_command(
    file: Annotated[str, typer.Argument(help="Prompt file (as for score) or - for stdin.")],
    method: Annotated[
        str, typer.Option("--method", help="loo (exact), ablation (many spans) or gradient (fast).")
    ] = "loo",
    granularity: Annotated[str, typer.Option("--granularity", help="sentence, clause or word.")] = "sentence",
    top: Annotated[int, typer.Option("--top", help="How many spans to list.")] = 5,
    no_check: Annotated[bool, typer.Option("--no-check", help="Skip the deletion-curve faithfulness check.")] = False,
    *,
    flags: Flags,
) -> None:
    """Which spans raise the probability that the model calls this a test (a heatmap, top spans and a
    faithfulness check). With one --sentence, that sentence's log P; with none, the joint score."""
    from evalrefine.core.attribution.explain import METHODS
    from evalrefine.core.attribution.spans import GRANULARITIES
    from evalrefine.errors import InputError

    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}", f"use one of {', '.join(METHODS)}")
    if granularity not in GRANULARITIES:
        raise InputError(f"unknown --granularity {granularity!r}", f"use one of {', '.join(GRANULARITIES)}")
    settings = build_settings(flags)
    conversation = read_prompt(file, flags.system)
    session = open_cli_session(settings, quiet=flags.as_json)
    with Console(stderr=True).status(f"Attributing with {method}…"):
        result = session.explain(conversation, method, granularity, check=not no_check)
    if flags.as_json:
        typer.echo(json.dumps(attribution_dict(result, conversation, granularity)))
        return
    from evalrefine.render.explain import explanation

    Console().print(explanation(result, conversation, top))


def attribution_dict(result: Attribution, conversation: Conversation, granularity: str) -> dict[str, object]:
    """The ``--json`` shape (a contract: add keys freely, never remove these)."""
    curve = result.faithfulness
    return {
        "method": result.method,
        "granularity": granularity,
        "target": result.target,
        "units": result.units,
        "logprob": result.value,
        "spans": [
            {
                "message": e.span.message,
                "role": conversation.messages[e.span.message].role,
                "start": e.span.start,
                "end": e.span.end,
                "text": e.span.text,
                "effect": e.effect,
            }
            for e in result.spans
        ],
        "faithfulness": None
        if curve is None
        else {
            "k": list(curve.ks),
            "top_deleted": list(curve.top),
            "random_deleted": list(curve.random),
            "trustworthy": curve.trustworthy,
        },
    }
