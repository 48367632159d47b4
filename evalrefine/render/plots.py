"""ROC curves and AUROC against rollouts: in the terminal (plotext) and as a PNG (matplotlib, optional)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.text import Text

from evalrefine.core.calibration.validation import AurocResult, ValidationReport
from evalrefine.core.rollouts.monitor import RolloutScore
from evalrefine.core.rollouts.validation import KPoint
from evalrefine.errors import InputError


def _curves(report: ValidationReport) -> list[AurocResult]:
    """Curves exist for pooled (random-fold) reports; held-out datasets are tabulated instead."""
    wanted = [*report.sentence_results, report.get("headline"), report.length_only]
    return [r for r in wanted if r.fpr]


def roc_terminal(report: ValidationReport, width: int = 72, height: int = 22) -> Text:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    for r in _curves(report):
        plt.plot(list(r.fpr), list(r.tpr), label=f"{r.name[:28]} {r.auroc:.2f}", marker="braille")
    plt.plot([0, 1], [0, 1], marker="·")
    plt.xlim(0, 1)
    plt.ylim(0, 1)
    plt.xlabel("false-positive rate (deployment)")
    plt.ylabel("true-positive rate (eval)")
    plt.title("ROC")
    return Text.from_ansi(plt.build())


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--png needs matplotlib", "pip install matplotlib") from None
    return plt


def roc_png(report: ValidationReport, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    for r in _curves(report):
        ax.plot(r.fpr, r.tpr, label=f"{r.name} (AUROC {r.auroc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set_xlabel("false-positive rate (deployment prompts)")
    ax.set_ylabel("true-positive rate (eval prompts)")
    ax.set_title(f"{report.n_eval} eval vs {report.n_deploy} deployment prompts")
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def rollout_positions_terminal(score: RolloutScore, width: int = 72, height: int = 16) -> Text:
    """The monitor along each rollout: its value after every sentence (x: tokens into the CoT)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    for i, r in enumerate(score.rollouts, 1):
        plt.plot(list(r.boundaries), list(r.values), label=f"rollout {i}", marker="braille")
    plt.hline(score.start)
    plt.xlabel("tokens into the CoT (a point per sentence)")
    plt.ylabel("log P")
    plt.title("log P along each rollout (line: start of CoT)")
    return Text.from_ansi(plt.build())


def auroc_by_k_terminal(points: Sequence[KPoint], width: int = 72, height: int = 18) -> Text:
    """AUROC against K for both monitors (the seed study's Figure 2), in the terminal."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    ks = [p.k for p in points]
    plt.plot(ks, [p.monitor.auroc for p in points], label="rollout monitor (logit)", marker="braille")
    verbal = [(p.k, p.verbalization.auroc) for p in points if p.verbalization is not None]
    if verbal:
        plt.plot([k for k, _ in verbal], [a for _, a in verbal], label="verbalization")
    plt.hline(0.5)
    plt.ylim(0.4, 1.0)
    plt.xticks(ks)
    plt.xlabel("rollouts per prompt (K)")
    plt.ylabel("AUROC")
    plt.title("eval vs deployment separation by number of rollouts")
    return Text.from_ansi(plt.build())


def auroc_by_k_png(points: Sequence[KPoint], path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, seps, ks in (
        ("rollout monitor (logit)", [p.monitor for p in points], [p.k for p in points]),
        (
            "verbalization",
            [p.verbalization for p in points if p.verbalization],
            [p.k for p in points if p.verbalization],
        ),
    ):
        if not seps:
            continue
        ax.plot(ks, [s.auroc for s in seps], marker="o", label=name)
        ax.fill_between(ks, [s.ci[0] for s in seps], [s.ci[1] for s in seps], alpha=0.15)
    ax.axhline(0.5, color="grey", linestyle=":")
    ax.set_xscale("symlog", base=2, linthresh=1)
    ax.set_xticks([p.k for p in points], [str(p.k) for p in points])
    ax.set_xlabel("rollouts per prompt (K)")
    ax.set_ylabel("AUROC (95% bootstrap CI)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
