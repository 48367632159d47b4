"""Turning scored prompt sets into a :class:`Reference`, with the joint monitor decided on held-out folds.

Scoring is the front end's job (it shows progress and resumes from the cache); this module only
decides: with eval prompts present, the logistic joint monitor is kept when its out-of-fold AUROC
beats every single sentence and the ``any`` combination, and is then refitted on all prompts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evalrefine.core.batch import PromptScored
from evalrefine.core.joint import LogisticJoint
from evalrefine.core.reference import Label, Reference, ReferenceEntry, build_feature_matrix
from evalrefine.core.validation import Scored, ValidationReport, validate


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
) -> tuple[Reference, ValidationReport | None]:
    sentences = tuple(dict.fromkeys([*eval_sentences, *joint_sentences]))
    entries = _entries(deploy, "deploy", sentences) + _entries(evals, "eval", sentences)
    ref = Reference(name, model, model_fingerprint, sentences, tuple(eval_sentences), tuple(entries), dict(provenance))
    if not evals:
        return ref, None
    prompts = [Scored(p.logprobs, p.prompt_tokens, False, p.record.dataset) for p in deploy] + [
        Scored(p.logprobs, p.prompt_tokens, True, p.record.dataset) for p in evals
    ]
    report = validate(prompts, eval_sentences, joint_sentences, folds=folds)
    if not report.logistic_is_better:
        return ref, report
    x, y = build_feature_matrix(ref, report.joint_features)
    joint = LogisticJoint.fit(x, y, report.joint_features)
    held_out = {"logistic_auroc_out_of_fold": report.logistic.auroc, "folds": folds}
    return (
        Reference(
            ref.name,
            ref.model,
            ref.model_fingerprint,
            ref.sentences,
            ref.eval_sentences,
            ref.entries,
            {**ref.provenance, **held_out},
            joint,
        ),
        report,
    )
