"""``evalrefine`` commands. Each one loads settings, drives core functions and renders the result.

Every :class:`~evalrefine.errors.EvalRefineError` becomes one line on stderr and exit status 2;
usage errors are typer's (also status 2); Ctrl-C exits 130.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from evalrefine.config import Settings, load_settings
from evalrefine.core.conversation import Conversation, conversation_from_stdin, load_conversation
from evalrefine.core.protocols import ScoringBackend
from evalrefine.errors import EvalRefineError

app = typer.Typer(
    name="evalrefine",
    help="Score, explain and refine eval prompts so models can't tell them from real traffic.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="'embedded', a model directory, a .gguf file or a hub id.")
]
SentenceOpt = Annotated[
    list[str] | None, typer.Option("--sentence", "-s", help="Eval-aware sentence to force (repeatable).")
]
OpenerOpt = Annotated[
    str | None,
    typer.Option("--cot-opener", help="Text that opens the reasoning (default: detected from the chat template)."),
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda or mps.")]


def _unescape(text: str) -> str:
    """Shells pass ``<think>\\n`` literally; accept ``\\n`` and ``\\t`` escapes in --cot-opener."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def _settings(model: str | None, sentences: list[str] | None, opener: str | None, device: str | None) -> Settings:
    """Settings with the command-line flags on top (sources are deep-merged by pydantic-settings)."""
    overrides: dict[str, dict[str, object]] = {}
    model_flags: dict[str, object] = {k: v for k, v in {"name": model, "device": device}.items() if v is not None}
    if model_flags:
        overrides["model"] = model_flags
    monitor_flags: dict[str, object] = {}
    if sentences:
        monitor_flags["sentences"] = list(sentences)
    if opener is not None:
        monitor_flags["cot_opener"] = _unescape(opener)
    if monitor_flags:
        overrides["monitor"] = monitor_flags
    return load_settings(**overrides)


def _load(settings: Settings, quiet: bool) -> ScoringBackend:
    from evalrefine.backends.registry import load_backend

    err = Console(stderr=True)
    with err.status(f"Loading {settings.model.name} model…") as status:
        return load_backend(settings.model, settings.cache_dir, on_status=None if quiet else lambda m: status.update(m))


def _read_input(file: str, system: str | None) -> Conversation:
    if file == "-":
        return conversation_from_stdin(sys.stdin.read(), system)
    return load_conversation(Path(file), system)


@app.command()
def score(
    file: Annotated[
        str,
        typer.Argument(help="Prompt file (.txt/.md = the user turn; .json/.jsonl = chat messages) or - for stdin."),
    ],
    system: Annotated[
        str | None, typer.Option("--system", help="System prompt to put before the conversation.")
    ] = None,
    sentence: SentenceOpt = None,
    model: ModelOpt = None,
    cot_opener: OpenerOpt = None,
    device: DeviceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for machines.")] = False,
    tokens: Annotated[bool, typer.Option("--tokens", help="Show the per-token breakdown.")] = False,
) -> None:
    """Probability that the model starts its reasoning with each eval-aware sentence."""
    from evalrefine.core.monitor import StartOfCotMonitor

    settings = _settings(model, sentence, cot_opener, device)
    conversation = _read_input(file, system)
    backend = _load(settings, quiet=as_json)
    monitor = StartOfCotMonitor(backend, settings.monitor.sentences, settings.monitor.cot_opener)
    result = monitor.score(conversation)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
        return
    from evalrefine.cli.render import score_table

    Console().print(score_table(result, show_tokens=tokens))


@app.callback()
def _root() -> None:
    """Score, explain and refine eval prompts so models can't tell them from real traffic."""


def main() -> None:
    """Console entry point: known errors become one line on stderr and exit status 2."""
    try:
        app()
    except EvalRefineError as exc:
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}", markup=False, soft_wrap=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
