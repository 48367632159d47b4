"""``evalrefine reference build|list|remove``: the deployment traffic scores are placed against."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from evalrefine.cli.common import (
    build_settings,
    err_console,
    load_model,
    monitor_for,
    score_with_progress,
)
from evalrefine.cli.options import MODEL_FLAGS, Flags, shared_flags
from evalrefine.core.io.prompt_sets import PromptRecord, read_prompt_set
from evalrefine.core.session import reference_store
from evalrefine.errors import InputError
from evalrefine.redact import redact

app = typer.Typer(help="Build, list and remove reference sets of deployment (and eval) traffic.", no_args_is_help=True)


def _records(path: Path | None, hf: str | None, hf_split: str, limit: int | None) -> list[PromptRecord]:
    if hf:
        from evalrefine.backends.hf_datasets import records_from_hub

        return records_from_hub(hf, hf_split, limit)
    assert path is not None
    records = read_prompt_set(path)
    return records[:limit] if limit else records


@app.command()
@shared_flags(omit=("reference", "system"))
def build(
    deploy: Annotated[Path | None, typer.Option("--deploy", help="Deployment prompts (JSONL/JSON/CSV/TXT).")] = None,
    eval_file: Annotated[
        Path | None, typer.Option("--eval", help="Eval prompts, to fit and check the joint monitor.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Name to store it under (default: the deploy file's stem).")
    ] = None,
    from_hf: Annotated[
        str | None,
        typer.Option("--from-hf", help="Build the deployment set from a hub dataset (e.g. allenai/WildChat-1M)."),
    ] = None,
    hf_split: Annotated[str, typer.Option("--hf-split")] = "train",
    limit: Annotated[int | None, typer.Option("--limit", help="Use only the first N prompts of each set.")] = None,
    *,
    flags: Flags,
) -> None:
    """Score a set of prompts and store their scores (no prompt text) for percentiles."""
    from evalrefine.core.calibration.reference_build import build_reference

    if (deploy is None) == (from_hf is None):
        raise InputError("give exactly one of --deploy FILE or --from-hf DATASET")
    settings = build_settings(flags)
    name = name or (deploy.stem if deploy else from_hf.rsplit("/", 1)[-1])  # type: ignore[union-attr]
    store = reference_store(settings)
    target = store.path_for(name)
    deploy_records = _records(deploy, from_hf, hf_split, limit)
    eval_records = read_prompt_set(eval_file)[:limit] if eval_file else []
    backend = load_model(settings, quiet=flags.as_json)
    monitor = monitor_for(backend, settings, settings.monitor.joint_sentences)
    scored_deploy = score_with_progress(monitor, deploy_records, settings, "deployment prompts", flags.as_json)
    scored_eval = (
        score_with_progress(monitor, eval_records, settings, "eval prompts", flags.as_json) if eval_records else []
    )
    provenance = {
        "deploy_source": redact(str(deploy or f"hf:{from_hf}:{hf_split}")),
        "eval_source": redact(str(eval_file or "")),
        "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": backend.name,
        "identity": monitor.identity,
    }
    ref, report = build_reference(
        name,
        backend.name,
        monitor.model_fingerprint,
        scored_deploy,
        scored_eval,
        settings.monitor.sentences,
        settings.monitor.joint_sentences,
        provenance,
        settings.calibration.folds,
    )
    ref.save(target)
    summary = {
        "name": name,
        "path": str(target),
        "n_deploy": len(scored_deploy),
        "n_eval": len(scored_eval),
        "joint": ref.joint_method(),
        "validation": report.as_dict() if report else None,
    }
    if flags.as_json:
        typer.echo(json.dumps(summary))
        return
    Console().print(
        f"stored reference [bold]{name}[/]: {len(scored_deploy)} deployment and {len(scored_eval)} "
        f"eval prompts, joint monitor '{ref.joint_method()}' → {target}"
    )
    if report:
        Console().print(report.recommendation())


@app.command("list")
@shared_flags(omit=MODEL_FLAGS)
def list_references(*, flags: Flags) -> None:
    """The stored and shipped references, with the model each was built for."""
    settings = build_settings()
    refs = reference_store(settings).all()
    rows = [
        {
            "name": r.name,
            "model": r.model,
            "n_deploy": len(r.labelled("deploy")),
            "n_eval": len(r.labelled("eval")),
            "joint": r.joint_method(),
            "sentences": list(r.sentences),
            "path": str(r.path),
        }
        for r in refs
    ]
    if flags.as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("name", "model", "deploy", "eval", "joint", "path")
    for r in rows:
        table.add_row(*(Text(str(r[k])) for k in ("name", "model", "n_deploy", "n_eval", "joint", "path")))
    Console().print(table)


@app.command()
def remove(name: Annotated[str, typer.Argument(help="The reference to delete.")]) -> None:
    """Delete a stored reference (shipped ones cannot be removed)."""
    path = reference_store(build_settings()).remove(name)
    err_console.print(f"removed {path}")
