"""Turning scored prompt sets into a :class:`Reference`, with the headline chosen out of distribution.

Scoring is the front end's job (it shows progress and resumes from the cache); this module only
decides. With eval prompts from two or more datasets, the headline is whichever candidate (each
eval-aware sentence, ``any``, the constrained combination) has the best *leave-one-dataset-out*
AUROC; random folds would reward a monitor that learned the style of the eval sets it was fitted on.
With one eval dataset the choice falls back to random folds, and the reference says so. The figures
(per held-out dataset, next to prompt length and a TF-IDF classifier) are stored in the provenance,
so ``score`` can say how far to trust the headline.

A fitted headline is also refitted without each fold of the entries (cross-fitting): a reference
prompt is placed by a model that never saw it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from evalrefine.core.calibration.heldout import random_splits
from evalrefine.core.calibration.joint import MonotoneJoint, all_terms, split_sentences
from evalrefine.core.calibration.reference import Label, Reference, ReferenceEntry
from evalrefine.core.calibration.validation import Scored, ValidationReport, validate
from evalrefine.core.scoring.batch import PromptScored


def _entries(scored: Sequence[PromptScored], label: Label, sentences: Sequence[str]) -> list[ReferenceEntry]:
    return [
        ReferenceEntry(
            p.record.id,
            p.record.dataset,
            label,
            p.prompt_tokens,
            tuple(p.logprobs[s] for s in sentences),
        )
        for p in scored
    ]


def prompt_text(p: PromptScored) -> str:
    """The text the TF-IDF baseline reads: every message, in order."""
    return "\n".join(m.content for m in p.record.conversation.messages)


def to_scored(deploy: Sequence[PromptScored], evals: Sequence[PromptScored]) -> list[Scored]:
    return [Scored(p.logprobs, p.prompt_tokens, False, p.record.dataset, prompt_text(p)) for p in deploy] + [
        Scored(p.logprobs, p.prompt_tokens, True, p.record.dataset, prompt_text(p)) for p in evals
    ]


def trust_figures(report: ValidationReport) -> dict[str, object]:
    """What ``score`` shows about the headline: its held-out AUROC (mean and worst dataset)."""
    best = report.best
    per = {h.name: round(h.results[best.name].auroc, 4) for h in report.held_out}
    figures: dict[str, object] = {
        "method": best.name,
        "selected_by": report.protocol,
        "auroc": round(best.auroc, 4),
        "candidates": {r.name: round(r.auroc, 4) for r in report.candidates},
        "length_auroc": round(report.length_only.auroc, 4),
    }
    if "tfidf" in {r.name for r in report.monitors}:
        figures["tfidf_auroc"] = round(report.get("tfidf").auroc, 4)
    if per:
        figures.update(
            per_dataset=per,
            per_dataset_length={h.name: round(h.results["length"].auroc, 4) for h in report.held_out},
            worst_dataset_auroc=min(per.values()),
        )
    return figures


def build_reference(
    name: str,
    model: str,
    model_fingerprint: str,
    deploy: Sequence[PromptScored],
    evals: Sequence[PromptScored],
    eval_sentences: Sequence[str],
    joint_sentences: Sequence[str],
    provenance: Mapping[str, object],
    folds: int = 5,
    n_boot: int = 1000,
) -> tuple[Reference, ValidationReport | None]:
    sentences = tuple(dict.fromkeys([*eval_sentences, *joint_sentences]))
    entries = _entries(deploy, "deploy", sentences) + _entries(evals, "eval", sentences)
    ref = Reference(name, model, model_fingerprint, sentences, tuple(eval_sentences), tuple(entries), dict(provenance))
    if not evals:
        return ref, None
    prompts = to_scored(deploy, evals)
    by = "dataset" if len({p.record.dataset for p in evals}) >= 2 else None
    report = validate(prompts, eval_sentences, joint_sentences, folds=folds, n_boot=n_boot, by=by, controlled=False)
    best = report.best.name
    prov = {**ref.provenance, "headline": trust_figures(report)}
    if best == "any":
        return _replace(ref, prov), report
    if best != "headline":
        return _replace(ref, prov, MonotoneJoint.single(best)), report
    aware, neutral = split_sentences(eval_sentences, joint_sentences)
    terms = all_terms(aware, neutral)
    rows = [ref.logprob_map(e) for e in ref.entries]
    y = np.array([1 if e.label == "eval" else 0 for e in ref.entries])
    fold_of = np.empty(len(y), dtype=np.int_)
    models = []
    for k, split in enumerate(random_splits(y, folds, seed=0)):
        fold_of[split.test] = k
        models.append(MonotoneJoint.fit([rows[i] for i in split.train], y[split.train], terms))
    joint = MonotoneJoint.fit(rows, y, terms)
    prov["headline"] = {**trust_figures(report), "weights": {t: round(w, 4) for t, w in joint.active()}}
    return _replace(ref, prov, joint, tuple(models), tuple(fold_of.tolist())), report


def _replace(
    ref: Reference,
    provenance: Mapping[str, object],
    joint: MonotoneJoint | None = None,
    crossfit: tuple[MonotoneJoint, ...] = (),
    fold_of: tuple[int, ...] = (),
) -> Reference:
    return Reference(
        ref.name,
        ref.model,
        ref.model_fingerprint,
        ref.sentences,
        ref.eval_sentences,
        ref.entries,
        dict(provenance),
        joint,
        ref.path,
        crossfit,
        fold_of,
    )
