"""Reference sets: monitor scores of known deployment (and eval) prompts, stored without their text.

A raw probability means little to an author; a percentile of real traffic does. A reference holds,
for each prompt, the log P of every sentence it was built with and the prompt's token count,
keyed by the monitor's model fingerprint (weights, dtype, attention kernel, chat template and its
pinned date, opener, BOS). A reference whose fingerprint differs from the current monitor's is never
used silently: lookups by name raise, saying which part of the identity differs (the identity is
stored in the reference's provenance), and automatic lookups skip it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from evalrefine.core.calibration.joint import MonotoneJoint, logsumexp
from evalrefine.errors import EvalRefineError, InputError

Label = Literal["deploy", "eval"]
FORMAT_VERSION = 2
MATCH_TOLERANCE = 1e-4
"""Log P difference under which a scored prompt is taken to be a reference entry (stored to 6 decimals)."""


class ReferenceError(EvalRefineError):
    title = "reference problem"


@dataclass(frozen=True)
class ReferenceEntry:
    id: str
    dataset: str
    label: Label
    prompt_tokens: int
    logprobs: tuple[float, ...]
    """Aligned with :attr:`Reference.sentences`."""


@dataclass(frozen=True)
class Reference:
    name: str
    model: str
    model_fingerprint: str
    sentences: tuple[str, ...]
    """Every sentence scored for each entry (eval-aware sentences and the joint monitor's extra ones)."""
    eval_sentences: tuple[str, ...]
    """The eval-aware ones: what the ``any`` combination sums over."""
    entries: tuple[ReferenceEntry, ...]
    provenance: Mapping[str, object] = field(default_factory=dict)
    joint: MonotoneJoint | None = None
    """The headline when it is not ``any``: one eval-aware sentence, or the constrained combination,
    whichever won leave-one-dataset-out (``reference_build``)."""
    path: Path | None = None
    crossfit: tuple[MonotoneJoint, ...] = ()
    """The headline refitted without each fold of the entries: an entry is placed by the fold model
    that never saw it, so the reference's own percentiles are not in-sample."""
    fold_of: tuple[int, ...] = ()
    """Each entry's fold (aligned with :attr:`entries`)."""

    @property
    def identity(self) -> Mapping[str, str] | None:
        """The monitor identity it was built under (see ``StartOfCotMonitor.identity``), if recorded."""
        stored = self.provenance.get("identity")
        return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, Mapping) else None

    # -- views -------------------------------------------------------------------------------
    def labelled(self, label: Label) -> list[ReferenceEntry]:
        return [e for e in self.entries if e.label == label]

    def logprob_map(self, entry: ReferenceEntry) -> dict[str, float]:
        return dict(zip(self.sentences, entry.logprobs, strict=True))

    def sentence_scores(self, sentence: str, label: Label = "deploy") -> np.ndarray:
        i = self.sentences.index(sentence)
        return np.array([e.logprobs[i] for e in self.labelled(label)])

    def joint_method(self) -> str:
        return self.joint.method if self.joint is not None else "any"

    def joint_score(self, logprobs: Mapping[str, float], prompt_tokens: int = 0) -> float:
        """The headline of a prompt (the model fitted on every entry; length never enters it)."""
        if self.joint is not None:
            return self.joint.score(logprobs)
        return logsumexp([logprobs[s] for s in self.eval_sentences])

    def entry_index(self, logprobs: Mapping[str, float], prompt_tokens: int) -> int | None:
        """The entry these scores are (same length, every stored log P within rounding), if any: the
        reference keeps no text, so its own prompts are recognised by their scores."""
        if not set(self.sentences) <= set(logprobs):
            return None
        row = np.array([logprobs[s] for s in self.sentences])
        same_length = np.flatnonzero(self._tokens == prompt_tokens)  # few: compare their scores only
        close = np.abs(self._matrix[same_length] - row).max(axis=1, initial=0.0) < MATCH_TOLERANCE
        hits = same_length[close]
        return int(hits[0]) if len(hits) else None

    def held_out_score(self, index: int) -> float:
        """Entry ``index``'s headline from the fold model that did not see it."""
        return self._held_out[index]

    def joint_scores(self, label: Label = "deploy") -> np.ndarray:
        """The cross-fitted headline of every entry with ``label`` (computed once per reference:
        placing a prompt needs them, and refine and lint place hundreds); read-only."""
        return self._joint_by_label[label]

    @cached_property
    def _joint_by_label(self) -> dict[str, np.ndarray]:
        labels, held = np.array([e.label for e in self.entries]), np.asarray(self._held_out, dtype=np.float64)
        found = {}
        for label in ("deploy", "eval"):
            scores = held[labels == label]
            scores.flags.writeable = False
            found[label] = scores
        return found

    @cached_property
    def _matrix(self) -> np.ndarray:
        return np.array([e.logprobs for e in self.entries], dtype=np.float64).reshape(len(self.entries), -1)

    @cached_property
    def _tokens(self) -> np.ndarray:
        return np.array([e.prompt_tokens for e in self.entries])

    @cached_property
    def _held_out(self) -> list[float]:
        rows = [self.logprob_map(e) for e in self.entries]
        if not self.crossfit:
            return [self.joint_score(r) for r in rows]
        return [float(self.crossfit[k].score(r)) for r, k in zip(rows, self.fold_of, strict=True)]

    def required_sentences(self) -> tuple[str, ...]:
        """The sentences a monitor must score for this reference's headline."""
        needed = list(self.eval_sentences)
        if self.joint is not None:
            needed += [f for f in self.joint.sentences if f not in needed]
        return tuple(needed)

    # -- storage -----------------------------------------------------------------------------
    def as_dict(self) -> dict[str, object]:
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "model": self.model,
            "model_fingerprint": self.model_fingerprint,
            "sentences": list(self.sentences),
            "eval_sentences": list(self.eval_sentences),
            "provenance": dict(self.provenance),
            "joint": self.joint.as_dict() if self.joint else None,
            "crossfit": {"fold_of": list(self.fold_of), "models": [m.as_dict() for m in self.crossfit]}
            if self.crossfit
            else None,
            "entries": [
                {
                    "id": e.id,
                    "dataset": e.dataset,
                    "label": e.label,
                    "prompt_tokens": e.prompt_tokens,
                    "logprobs": [round(x, 6) for x in e.logprobs],
                }
                for e in self.entries
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path | None = None) -> Reference:
        try:
            entries = tuple(
                ReferenceEntry(
                    str(e["id"]),
                    str(e["dataset"]),
                    e["label"],
                    int(e["prompt_tokens"]),
                    tuple(float(x) for x in e["logprobs"]),
                )
                for e in data["entries"]
            )
            joint = data.get("joint")
            provenance = dict(data.get("provenance") or {})
            if isinstance(joint, dict) and "terms" not in joint:
                # format 1's free-signed logistic (a style and length detector): not a headline
                provenance["dropped"] = "a free-signed joint monitor; the headline is 'any' until rebuilt"
                joint = None
            crossfit = data.get("crossfit") or {}
            return cls(
                str(data["name"]),
                str(data["model"]),
                str(data["model_fingerprint"]),
                tuple(data["sentences"]),
                tuple(data["eval_sentences"]),
                entries,
                provenance,
                MonotoneJoint.from_dict(joint) if isinstance(joint, dict) else None,
                path,
                tuple(MonotoneJoint.from_dict(m) for m in crossfit.get("models", [])),
                tuple(int(k) for k in crossfit.get("fold_of", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            where = path or "reference"
            raise ReferenceError(f"{where}: not a valid reference file ({exc})", "rebuild it") from None

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":")))
        os.replace(tmp, path)  # atomic: a crash never leaves half a reference
        return path


def load_reference(path: Path) -> Reference:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReferenceError(f"{path}: cannot read reference: {exc}", "rebuild it") from None
    return Reference.from_dict(data, path)


class ReferenceStore:
    """Named references in the user's data directory, plus the read-only ones shipped with evalrefine."""

    def __init__(self, directory: Path, shipped: Sequence[Path] = ()) -> None:
        self.directory = directory
        self.shipped = tuple(shipped)

    def path_for(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise InputError(f"invalid reference name {name!r}", "use letters, digits, '-' and '_'")
        return self.directory / f"{name}.json"

    def all(self) -> list[Reference]:
        paths = sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []
        return [load_reference(p) for p in [*paths, *self.shipped]]

    def get(self, name: str) -> Reference:
        for ref in self.all():
            if ref.name == name:
                return ref
        raise ReferenceError(f"no reference named {name!r}", "see `evalrefine reference list`")

    def remove(self, name: str) -> Path:
        path = self.path_for(name)
        if not path.is_file():
            if any(r.name == name for r in self.all()):
                raise ReferenceError(f"{name!r} ships with evalrefine and cannot be removed")
            raise ReferenceError(f"no reference named {name!r}", "see `evalrefine reference list`")
        path.unlink()
        return path

    def for_fingerprint(
        self, fingerprint: str, name: str | None = None, identity: Mapping[str, str] | None = None
    ) -> Reference | None:
        """The named reference (which must match), or the first one that matches. ``identity`` (the
        current monitor's) lets the refusal say what differs."""
        if name:
            ref = self.get(name)
            if ref.model_fingerprint != fingerprint:
                raise ReferenceError(
                    f"reference {name!r} was built for {ref.model} under another identity: "
                    f"{identity_difference(ref.identity, identity)}",
                    "rebuild it with `evalrefine reference build`, or pick another with --reference",
                )
            return ref
        return next((r for r in self.all() if r.model_fingerprint == fingerprint), None)

    def near_misses(self, fingerprint: str, identity: Mapping[str, str]) -> list[tuple[Reference, str]]:
        """References built on the same weights whose identity differs elsewhere (a template date, an
        opener): each with what differs, so a front end can say why none is used."""
        return [
            (r, identity_difference(r.identity, identity))
            for r in self.all()
            if r.model_fingerprint != fingerprint
            and r.identity
            and r.identity.get("weights") == identity.get("weights")
        ]


_IDENTITY_NAMES = {
    "weights": "model weights, dtype or attention kernel",
    "template": "chat template",
    "template_date": "template date",
    "opener": "reasoning opener",
    "bos": "BOS token handling",
    "probe": "rendered prompt",
}


def identity_difference(stored: Mapping[str, str] | None, current: Mapping[str, str] | None) -> str:
    """What differs between two monitor identities, in words (dates are shown, hashes are not)."""
    if stored is None or current is None:
        return "model, dtype, attention kernel, chat template or opener (the reference predates recorded identities)"
    parts = []
    for key, label in _IDENTITY_NAMES.items():
        if stored.get(key) != current.get(key):
            short = key in ("template_date", "bos")
            parts.append(f"{label} ({stored.get(key)} vs now {current.get(key)})" if short else label)
    return "differs in " + ", ".join(parts) if parts else "differs in the identity's format"
