"""ROC curves: in the terminal (plotext) and as a PNG (matplotlib, optional)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from evalrefine.core.validation import AurocResult, ValidationReport
from evalrefine.errors import InputError


def _curves(report: ValidationReport) -> list[AurocResult]:
    return [*report.sentences, report.joint, report.length_only]


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


def roc_png(report: ValidationReport, path: Path) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--png needs matplotlib", "pip install matplotlib") from None
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
