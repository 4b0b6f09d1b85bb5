"""PNG plots of an offline evaluation: ROC curves, calibration, and the label-ratio curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

__all__ = ["plot_roc", "plot_calibration", "plot_label_curve"]


def plot_roc(report: dict[str, Any], path: str | Path) -> Path:
    """ROC curve of every method on the test rollouts of one evaluation."""
    pred = report["_predictions"]
    test, true = pred["test"], pred["true"]
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, prob in pred["prob"].items():
        y = true[test]
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, prob[test])
        m = report["methods"][name]
        within = "n/a" if m["auc_within"] is None or np.isnan(m["auc_within"]) else f"{m['auc_within']:.3f}"
        ax.plot(fpr, tpr, label=f"{name} (AUC {m['auc']:.3f}, within-group {within})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {report['label_ratio']:.0%} labels")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_calibration(report: dict[str, Any], path: str | Path, bins: int = 10) -> Path:
    """Reliability diagram: mean predicted probability vs observed accuracy per bin."""
    pred = report["_predictions"]
    test, true = pred["test"], pred["true"]
    fig, ax = plt.subplots(figsize=(5, 5))
    edges = np.linspace(0, 1, bins + 1)
    for name, prob in pred["prob"].items():
        p, y = prob[test], true[test]
        idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
        xs, ys = [], []
        for b in range(bins):
            m = idx == b
            if m.sum() >= 5:
                xs.append(p[m].mean())
                ys.append(y[m].mean())
        ax.plot(xs, ys, "o-", ms=3, label=f"{name} (Brier {report['methods'][name]['brier']:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="predicted probability", ylabel="observed accuracy", title="calibration")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_label_curve(curve: dict[str, Any], path: str | Path) -> Path:
    """AUC, within-group AUC and CAG of each method against the label ratio."""
    ratios = curve["ratios"]
    runs = [curve["runs"][str(r)] for r in ratios]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name in runs[0]["methods"]:
        for ax, metric in zip(axes, ("auc", "auc_within", "cag")):
            vals = [run["methods"][name][metric] for run in runs]
            ax.plot(ratios, [np.nan if v is None else v for v in vals], "o-", label=name)
    axes[0].set(xlabel="label ratio", ylabel="AUC (higher is better)")
    axes[1].set(xlabel="label ratio", ylabel="within-group AUC (what GRPO ranks)")
    axes[2].set(xlabel="label ratio", ylabel="mean CAG (lower is better)")
    axes[0].legend(fontsize=8)
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
