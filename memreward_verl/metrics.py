"""Quality metrics of a reward predictor, including the Corrective Advantage Gap (CAG).

CAG of a group = L2 distance between the GRPO advantages computed from predicted rewards and from
true rewards. GRPO normalises rewards within the group: ``(r - mean) / (std + eps)`` with the
population std; an all-equal reward vector has zero advantages. So CAG is 0 when the predicted
rewards rank the group like the truth, ``sqrt(n)`` when the truth is all-equal but the prediction
is not, and up to ``2 sqrt(n)`` when the prediction inverts a split group. It measures what matters
for GRPO: how far the predictor moves the policy-gradient signal.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score

__all__ = ["grpo_advantages", "cag", "group_cags", "within_group_auc", "binary_metrics"]

EPS = 1e-6


def grpo_advantages(rewards: np.ndarray) -> np.ndarray:
    """GRPO outcome advantages of one group: ``(r - mean) / (std + eps)``, population std."""
    r = np.asarray(rewards, dtype=np.float64)
    if r.size < 2:
        return np.zeros_like(r)
    return (r - r.mean()) / (r.std() + EPS)


def group_cags(pred_rewards: np.ndarray, true_rewards: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """CAG of each group, in ``np.unique(groups)`` order.

    Args:
        pred_rewards: ``[R]`` predicted rewards (hard 0/1 or soft).
        true_rewards: ``[R]`` true 0/1 rewards.
        groups: ``[R]`` group id of each rollout.
    """
    pred_rewards, true_rewards, groups = map(np.asarray, (pred_rewards, true_rewards, groups))
    gaps = []
    for g in np.unique(groups):
        m = groups == g
        gaps.append(float(np.linalg.norm(grpo_advantages(pred_rewards[m]) - grpo_advantages(true_rewards[m]))))
    return np.asarray(gaps, dtype=np.float64)


def cag(pred_rewards: np.ndarray, true_rewards: np.ndarray, groups: np.ndarray) -> float:
    """Mean CAG over groups (:func:`group_cags`); NaN without groups."""
    gaps = group_cags(pred_rewards, true_rewards, groups)
    return float(gaps.mean()) if len(gaps) else math.nan


def within_group_auc(prob: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[float, int]:
    """Mean AUC over groups that hold both right and wrong rollouts, and how many such groups.

    GRPO only compares rollouts of one group, so this is the ranking it feels; pooled AUC also
    rewards telling easy prompts from hard ones, which changes no advantage.
    """
    prob, y = np.asarray(prob, dtype=np.float64), np.asarray(y)
    groups = np.unique(np.asarray(groups), return_inverse=True)[1]  # any id type (verl uids are strings)
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    aucs = []
    for idx in np.split(order, bounds):
        yg = y[idx]
        if 0 < yg.sum() < len(yg):
            aucs.append(roc_auc_score(yg, prob[idx]))
    return (float(np.mean(aucs)) if aucs else math.nan), len(aucs)


def binary_metrics(
    prob: np.ndarray, y: np.ndarray, groups: np.ndarray, hard: np.ndarray | None = None
) -> dict[str, float]:
    """AUC, accuracy, F1, Brier score and CAG (of hard rewards) of one predictor.

    Args:
        prob: ``[R]`` predicted probability of correctness.
        y: ``[R]`` true 0/1 labels.
        groups: ``[R]`` group ids (for CAG).
        hard: ``[R]`` hard 0/1 predictions (default: ``prob >= 0.5``).

    Returns:
        ``{"auc", "auc_within", "mixed_groups", "accuracy", "f1", "brier", "cag", "cag_soft", "n",
        "positive_rate"}``; AUC is NaN when ``y`` has a single class, ``auc_within`` (see
        :func:`within_group_auc`) when no group is mixed.
    """
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    hard = (prob >= 0.5).astype(np.int64) if hard is None else np.asarray(hard, dtype=np.int64)
    auc = float(roc_auc_score(y, prob)) if len(np.unique(y)) == 2 else math.nan
    tp = int(((hard == 1) & (y == 1)).sum())
    fp = int(((hard == 1) & (y == 0)).sum())
    fn = int(((hard == 0) & (y == 1)).sum())
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    auc_within, mixed = within_group_auc(prob, y, groups)
    return {
        "auc": auc,
        "auc_within": auc_within,
        "mixed_groups": mixed,
        "accuracy": float((hard == y).mean()) if len(y) else math.nan,
        "f1": float(f1),
        "brier": float(np.mean((prob - y) ** 2)) if len(y) else math.nan,
        "cag": cag(hard, y, groups),
        "cag_soft": cag(prob, y, groups),
        "n": int(len(y)),
        "positive_rate": float(y.mean()) if len(y) else math.nan,
    }
