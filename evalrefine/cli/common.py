"""What every command shares: settings with flags on top, model loading with a status line,
reading the prompt, and batch scoring with a progress bar that survives Ctrl-C."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from evalrefine.cli.options import Flags
from evalrefine.config import Settings, load_settings
from evalrefine.core.calibration.reference import Reference
from evalrefine.core.io.conversation import Conversation, conversation_from_stdin, load_conversation
from evalrefine.core.io.prompt_sets import PromptRecord
from evalrefine.core.scoring.batch import PromptFailed, PromptScored, score_records
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from evalrefine.core.scoring.protocols import ScoringBackend
from evalrefine.core.scoring.score_cache import ScoreCache
from evalrefine.core.session import Session, reference_store
from evalrefine.errors import InputError

err_console = Console(stderr=True, highlight=False)

TargetOpt = Annotated[
    float | None,
    typer.Option("--target", help="Pass when at or below this percentile of real traffic (default 50: the median)."),
]


def _unescape(text: str) -> str:
    """Shells pass ``<think>\\n`` literally; accept ``\\n`` and ``\\t`` escapes in --cot-opener."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def build_settings(
    flags: Flags | None = None,
    target: float | None = None,
    rollouts: Mapping[str, object] | None = None,
) -> Settings:
    """Settings with the command-line flags on top (sources are deep-merged by pydantic-settings);
    ``rollouts`` holds the ``--rollouts/--seed/--max-new-tokens/--judge`` flags (``None`` = unset)."""
    flags = flags or Flags()
    sentences, opener, reference = flags.sentence, flags.cot_opener, flags.reference
    overrides: dict[str, dict[str, object]] = {}
    given = {"name": flags.model, "device": flags.device, "server": flags.server, "tokenizer": flags.tokenizer}
    model_flags: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    if model_flags:
        overrides["model"] = model_flags
    monitor_flags: dict[str, object] = {}
    if sentences:  # the user's own sentences are the headline, on every command alike
        monitor_flags["sentences"] = list(sentences)
        monitor_flags["headline"] = "sentences"
    if opener is not None:
        monitor_flags["cot_opener"] = _unescape(opener)
    if monitor_flags:
        overrides["monitor"] = monitor_flags
    calibration: dict[str, object] = {
        k: v for k, v in {"reference": reference, "target_percentile": target}.items() if v is not None
    }
    if calibration:
        overrides["calibration"] = calibration
    rollout_flags = {**flags.rollout_settings, **{k: v for k, v in (rollouts or {}).items() if v is not None}}
    if rollout_flags:
        overrides["rollouts"] = rollout_flags
    return load_settings(**overrides)


def load_model(settings: Settings, quiet: bool = False) -> ScoringBackend:
    from evalrefine.backends.registry import load_backend

    with err_console.status(f"Loading {settings.model.name} model…") as status:
        return load_backend(settings.model, settings.cache_dir, on_status=None if quiet else status.update)


def open_cli_session(settings: Settings, quiet: bool = False) -> Session:
    """The session every command drives, with the model load shown as a status line and any
    reference that was not used (and why) as a warning."""
    from evalrefine.api import open_session

    with err_console.status(f"Loading {settings.model.name} model…") as status:
        session = open_session(settings, on_status=None if quiet else status.update)
    for note in session.reference_notes:
        err_console.print(f"warning: {note}", markup=False, highlight=False)
    return session


def read_prompt(file: str, system: str | None) -> Conversation:
    if file == "-":
        return conversation_from_stdin(sys.stdin.read(), system)
    return load_conversation(Path(file), system)


def find_reference(settings: Settings, monitor: StartOfCotMonitor) -> Reference | None:
    """The reference to place scores in; when none matches but one was built on the same weights
    under another identity (a template date, an opener), say so rather than silently showing raw scores."""
    return reference_for_identity(settings, monitor.identity, monitor.model_fingerprint)


def reference_for_identity(settings: Settings, identity: Mapping[str, str], fingerprint: str) -> Reference | None:
    """:func:`find_reference` from a monitor identity alone (e.g. one stored in the score cache)."""
    store = reference_store(settings)
    found = store.for_fingerprint(fingerprint, settings.calibration.reference, identity)
    if found is None:
        for ref, why in store.near_misses(fingerprint, identity):
            err_console.print(f"warning: reference {ref.name!r} not used: {why}", markup=False, highlight=False)
    return found


def monitor_sentences(settings: Settings, extra: Sequence[str] = ()) -> list[str]:
    """The configured sentences, then ``extra`` ones (joint sentences, a reference's needs), once each."""
    return list(dict.fromkeys([*settings.monitor.sentences, *extra]))


def monitor_for(backend: ScoringBackend, settings: Settings, extra: Sequence[str] = ()) -> StartOfCotMonitor:
    """A monitor over :func:`monitor_sentences`."""
    return StartOfCotMonitor(
        backend,
        monitor_sentences(settings, extra),
        settings.monitor.cot_opener,
        template_date=settings.monitor.template_date,
    )


def score_with_progress(
    monitor: StartOfCotMonitor, records: Sequence[PromptRecord], settings: Settings, label: str, quiet: bool = False
) -> list[PromptScored]:
    """Score ``records`` through the persistent cache; Ctrl-C keeps what was scored (exit 130)."""
    from evalrefine.cli.progress import progress

    cache = ScoreCache(settings.cache_dir / "scores.sqlite")
    shown = _cache_warnings(cache, 0)
    done: list[PromptScored] = []
    failed: list[PromptFailed] = []
    try:
        with progress(err_console, label, quiet) as report:
            for event in score_records(monitor, records, cache):
                if isinstance(event, PromptScored):
                    done.append(event)
                else:
                    failed.append(event)
                report(len(done) + len(failed), len(records))
    except KeyboardInterrupt:
        err_console.print(
            f"interrupted: {len(done)} of {len(records)} prompts scored and kept in {cache.path}; "
            "run the same command again to resume"
        )
        raise SystemExit(130) from None
    finally:
        cache.close()
        _cache_warnings(cache, shown)
    for f in failed:
        err_console.print(Text.assemble(("skipped ", "yellow"), f.message))
    return done


def _cache_warnings(cache: ScoreCache, shown: int) -> int:
    """Print the cache's warnings from ``shown`` on (a corrupt file moved aside, a read-only one),
    one line each: a broken cache slows a run down but never stops it."""
    for line in cache.warnings[shown:]:
        err_console.print(Text.assemble(("warning: ", "yellow"), line), soft_wrap=True)
    return len(cache.warnings)


def front_end(name: str) -> Callable[[Settings, Path | None, str | None], None]:
    """The launcher of another front end, found through its ``evalrefine.front_ends`` entry point.

    Going through package metadata rather than an import keeps ``cli/`` and ``tui/`` independent.
    """
    from importlib.metadata import entry_points

    found = entry_points(group="evalrefine.front_ends", name=name)
    if not found:
        raise InputError(f"the {name} front end is not registered", "reinstall evalrefine: pip install -e .")
    launcher: Callable[[Settings, Path | None, str | None], None] = next(iter(found)).load()
    return launcher
