"""Is the monitor worth trusting for this model? AUROC of each sentence and of the joint monitor.

A monitor separates eval prompts from deployment prompts or it does not; this module says how well,
with bootstrap confidence intervals, and never reports an AUROC on data a combination was fitted
on: the logistic joint monitor is scored out-of-fold (k-fold cross-validation). Prompt length alone
is reported too, as the baseline any monitor must beat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evalrefine.core.joint import LOG_TOKENS, cross_val_decision, feature_row, logsumexp
from evalrefine.core.metrics import auroc, bootstrap_auroc_ci, roc_curve


@dataclass(frozen=True)
class Scored:
    """One prompt's monitor output, with its label."""

    logprobs: Mapping[str, float]
    prompt_tokens: int
    is_eval: bool
    dataset: str = ""


@dataclass(frozen=True)
class AurocResult:
    name: str
    auroc: float
    ci: tuple[float, float]
    fpr: tuple[float, ...] = ()
    tpr: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"auroc": self.auroc, "ci": list(self.ci)}


@dataclass(frozen=True)
class ValidationReport:
    n_eval: int
    n_deploy: int
    sentences: tuple[AurocResult, ...]
    any_sentence: AurocResult
    logistic: AurocResult
    length_only: AurocResult
    joint_features: tuple[str, ...]
    per_dataset: Mapping[str, Mapping[str, float]]
    """For each eval dataset (vs all deployment prompts): AUROC of each sentence, ``any``, ``logistic``."""
    folds: int

    @property
    def best_sentence(self) -> AurocResult:
        return max(self.sentences, key=lambda r: r.auroc)

    @property
    def joint(self) -> AurocResult:
        """The recommended joint monitor: logistic if it beats ``any`` on held-out folds."""
        return self.logistic if self.logistic.auroc > self.any_sentence.auroc else self.any_sentence

    @property
    def logistic_is_better(self) -> bool:
        """Whether the fitted combination beats every single sentence and ``any`` out-of-fold."""
        return self.logistic.auroc > max(self.best_sentence.auroc, self.any_sentence.auroc)

    def recommendation(self) -> str:
        best = self.best_sentence
        if self.logistic_is_better:
            return (
                f"use the joint monitor (logistic over {len(self.joint_features)} features): held-out AUROC "
                f"{self.logistic.auroc:.3f} vs {best.auroc:.3f} for the best single sentence {best.name!r}"
            )
        return f"use the single sentence {best.name!r} (AUROC {best.auroc:.3f}); the joint monitor did not beat it"

    def as_dict(self) -> dict[str, object]:
        joint = self.logistic if self.logistic_is_better else self.any_sentence
        return {
            "n_eval": self.n_eval,
            "n_deploy": self.n_deploy,
            "sentences": [{"sentence": r.name, **r.as_dict()} for r in self.sentences],
            "joint": {
                "method": joint.name,
                "features": list(self.joint_features) if joint is self.logistic else [],
                "folds": self.folds,
                **joint.as_dict(),
            },
            "any": self.any_sentence.as_dict(),
            "logistic": {"features": list(self.joint_features), "folds": self.folds, **self.logistic.as_dict()},
            "length_only": self.length_only.as_dict(),
            "per_dataset": {k: dict(v) for k, v in self.per_dataset.items()},
            "recommendation": self.recommendation(),
        }


def _result(name: str, scores: np.ndarray, y: np.ndarray, n_boot: int, seed: int) -> AurocResult:
    pos, neg = scores[y == 1], scores[y == 0]
    fpr, tpr = roc_curve(pos, neg)
    return AurocResult(
        name, auroc(pos, neg), bootstrap_auroc_ci(pos, neg, n_boot, seed), tuple(fpr.tolist()), tuple(tpr.tolist())
    )


def validate(
    prompts: Sequence[Scored],
    eval_sentences: Sequence[str],
    joint_sentences: Sequence[str] = (),
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> ValidationReport:
    """Each sentence's raw log P as the score, plus ``any``, the cross-validated logistic, and length."""
    y = np.array([1 if p.is_eval else 0 for p in prompts])
    if y.sum() < folds or (1 - y).sum() < folds:
        raise ValueError(f"validation needs at least {folds} eval and {folds} deployment prompts")
    singles = tuple(_result(s, np.array([p.logprobs[s] for p in prompts]), y, n_boot, seed) for s in eval_sentences)
    any_scores = np.array([logsumexp([p.logprobs[s] for s in eval_sentences]) for p in prompts])
    features = (*eval_sentences, *[a for a in joint_sentences if a not in eval_sentences], LOG_TOKENS)
    x = np.array([feature_row(p.logprobs, p.prompt_tokens, features) for p in prompts])
    oof = cross_val_decision(x, y, folds, seed)
    length = np.array([math.log(p.prompt_tokens) for p in prompts])
    datasets = sorted({p.dataset for p in prompts if p.is_eval})
    per_dataset: dict[str, dict[str, float]] = {}
    for name in datasets:
        keep = np.array([(not p.is_eval) or p.dataset == name for p in prompts])
        yy = y[keep]
        row = {
            s.name: auroc(
                np.array([p.logprobs[s.name] for p in prompts])[keep][yy == 1],
                np.array([p.logprobs[s.name] for p in prompts])[keep][yy == 0],
            )
            for s in singles
        }
        row["any"] = auroc(any_scores[keep][yy == 1], any_scores[keep][yy == 0])
        row["logistic"] = auroc(oof[keep][yy == 1], oof[keep][yy == 0])
        row["length_only"] = auroc(length[keep][yy == 1], length[keep][yy == 0])
        row["n_eval"] = float(yy.sum())
        per_dataset[name] = row
    return ValidationReport(
        n_eval=int(y.sum()),
        n_deploy=int((1 - y).sum()),
        sentences=singles,
        any_sentence=_result("any", any_scores, y, n_boot, seed),
        logistic=_result("logistic", oof, y, n_boot, seed),
        length_only=_result("length_only", length, y, n_boot, seed),
        joint_features=features,
        per_dataset=per_dataset,
        folds=folds,
    )
