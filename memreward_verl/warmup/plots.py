"""The warm-up artifact's picture: what the GNN predicts for the memory, and how it was chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

__all__ = ["plot_warmup"]


def plot_warmup(
    path: str | Path,
    metrics: dict[str, Any],
    prob: np.ndarray,
    labelled: np.ndarray,
    truth: np.ndarray | None = None,
    share: np.ndarray | None = None,
) -> Path:
    """Three panels: held-out AUC per cross-validation fold; predicted probabilities of the unlabelled
    rollouts (split by hidden truth when known); ROC of the GNN and the vote against that truth.

    Args:
        prob: ``[R]`` GNN probabilities for every memory rollout.
        labelled: ``[R]`` bool, the rollout belongs to a labelled prompt.
        truth: ``[R]`` hidden 0/1 truth of unlabelled rollouts, -1 where unknown (``--hidden-eval``).
        share: ``[R]`` majority-vote share, drawn beside the GNN on the ROC panel.
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    folds = metrics["fit"].get("per_fold", [])
    aucs = [np.nan if f["val_auc"] is None else float(f["val_auc"]) for f in folds]
    axes[0].bar([str(f["fold"]) for f in folds], np.nan_to_num(aucs), color="tab:blue")
    for i, a in enumerate(aucs):  # NaN: the validation prompts' rollouts were all one class
        axes[0].text(i, 0.02 if np.isnan(a) else a + 0.02, "n/a" if np.isnan(a) else f"{a:.3f}", ha="center")
    fit = metrics["fit"]
    members = int(fit.get("members", 1))  # every fold's model (ensemble.py)
    kept = f"{fit.get('anchor')}" + (" + GNN" if fit.get("residual_kept") else "")
    kept = "calibrated vote" if fit.get("fallback_to_vote") else kept
    kept += f" x{members}" if members > 1 else ""
    axes[0].set(title=f"held-out AUC per fold (served: {kept})", xlabel="fold", ylim=(0, 1))
    unl = ~labelled
    known = unl & (truth >= 0) if truth is not None else np.zeros_like(unl)
    bins = np.linspace(0, 1, 21)
    if known.any():
        axes[1].hist(prob[known & (truth == 1)], bins=bins, alpha=0.6, label="hidden truth: correct")
        axes[1].hist(prob[known & (truth == 0)], bins=bins, alpha=0.6, label="hidden truth: wrong")
        axes[1].legend(fontsize=8)
    else:
        axes[1].hist(prob[unl], bins=bins, color="tab:blue")
    axes[1].set(title="GNN probability, unlabelled rollouts", xlabel="predicted P(correct)", ylabel="rollouts")
    if known.any() and len(np.unique(truth[known])) == 2:
        for name, p in (("MemReward GNN", prob), ("majority vote", share)):
            if p is not None:
                fpr, tpr, _ = roc_curve(truth[known], p[known])
                axes[2].plot(fpr, tpr, label=name)
        axes[2].plot([0, 1], [0, 1], "k:", lw=0.8)
        axes[2].legend(loc="lower right", fontsize=8)
        axes[2].set(title="unlabelled rollouts vs hidden truth", xlabel="false positive rate", ylabel="true pos. rate")
    else:
        axes[2].axis("off")
        axes[2].text(0.5, 0.5, "no hidden truth\n(run with --hidden-eval)", ha="center", va="center")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
