"""Per-step reading of a verl run: where rewards came from, how right they were, validation accuracy.

Computed from verl's own records (the rollouts it dumped and the metrics it logged), not from
anything memreward reports about itself: each dumped rollout is matched to its prompt, graded by
the verifier, and compared with the reward verl trained on. A labelled prompt whose reward differs
from its verifier score is an error; so is a reward source we cannot name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memreward_verl.metrics import binary_metrics
from memreward_verl.verify import verify

__all__ = ["PromptInfo", "step_stats", "reward_log_stats", "validation_curve", "plot_learning_curves", "gain_share"]


@dataclass(frozen=True)
class PromptInfo:
    """A training prompt as the report needs it: its question text, query id, data source and answer."""

    question: str
    query_id: str
    data_source: str
    ground_truth: str


class _PromptMatcher:
    """Finds the training prompt inside verl's decoded prompt (chat template around the question)."""

    def __init__(self, prompts: Iterable[PromptInfo]) -> None:
        # longest first: a question that is a prefix of another must not steal its rollouts
        self.prompts = sorted(prompts, key=lambda p: -len(p.question))
        self._cache: dict[str, PromptInfo] = {}

    def __call__(self, decoded: str) -> PromptInfo:
        hit = self._cache.get(decoded)
        if hit is None:
            hit = next((p for p in self.prompts if p.question in decoded), None)
            if hit is None:
                raise KeyError(f"a rollout's prompt matches no training prompt: {decoded[-200:]!r}")
            self._cache[decoded] = hit
        return hit


def step_stats(
    rollouts: Mapping[int, list[dict[str, Any]]], prompts: Iterable[PromptInfo], labelled: set[str] | None
) -> list[dict[str, Any]]:
    """One record per training step.

    Args:
        rollouts: verl's dumps by step (:func:`memreward_verl.train.launch.read_rollouts`).
        prompts: every training prompt (to name each rollout's prompt and grade it).
        labelled: query ids whose rewards must be the verifier's; None: every prompt (oracle).

    Returns:
        ``step``, ``rollouts``, ``policy_accuracy`` (verifier, all rollouts), ``reward_mean``,
        ``sources`` (rollouts of labelled prompts / of the others), and for the others' rewards
        ``predicted_vs_truth`` (accuracy, F1, CAG against the hidden truth; AUC of the hard rewards).
        With online acquisition the others include bought groups (verl's dump does not say which);
        :func:`reward_log_stats` separates them.

    Raises:
        ValueError: a labelled prompt's reward is not its verifier score.
    """
    match = _PromptMatcher(prompts)
    out = []
    for step in sorted(rollouts):
        rows = rollouts[step]
        info = [match(r["input"]) for r in rows]
        truth = np.array([verify(p.data_source, r["output"], p.ground_truth) for p, r in zip(info, rows)])
        reward = np.array([float(r["score"]) for r in rows])
        group = np.array([str(r.get("uid", i)).rsplit("_", 2)[0] for i, r in enumerate(rows)])
        is_gt = np.array([labelled is None or p.query_id in labelled for p in info])
        bad = np.flatnonzero(is_gt & (reward != truth))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"step {step}: labelled prompt {info[i].query_id!r} got reward {reward[i]} but its verifier "
                f"says {truth[i]} ({bad.size} such rollouts)"
            )
        rec: dict[str, Any] = {
            "step": step,
            "rollouts": len(rows),
            "policy_accuracy": float(truth.mean()),
            "reward_mean": float(reward.mean()),
            "sources": {"ground_truth": int(is_gt.sum()), "predicted": int((~is_gt).sum())},
        }
        pred = ~is_gt
        if pred.any():
            m = binary_metrics(reward[pred], truth[pred], group[pred], hard=(reward[pred] >= 0.5).astype(int))
            rec["predicted_vs_truth"] = {k: m[k] for k in ("auc", "accuracy", "f1", "cag", "positive_rate")}
        out.append(rec)
    return out


def reward_log_stats(path: str | Path) -> dict[int, dict[str, Any]]:
    """Per training step, from ``MemRewardManager``'s ``reward_log``: reward sources, and the predicted
    rewards against the hidden truth (AUC of the GNN's probabilities, accuracy/F1/CAG of the rewards).

    Also checks, per predicted rollout under ``reward_mode=hard`` with the rule the log records (``auto`` logs
    the rule the warm-up fit chose), that its reward follows from the GNN's probability alone: ``threshold``
    gives ``p >= threshold``, ``constant`` gives 0; i.e. that no unlabelled prompt was rewarded with its ground
    truth. The answer-cluster rules (plurality, expected CAG) and votes decide per group, so their rows are
    not checked this way.

    Raises:
        ValueError: a predicted reward that does not follow from its probability.
    """
    rows = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
    by_step: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if not r["validation"] and r["step"] is not None:
            by_step.setdefault(int(r["step"]), []).append(r)
    out = {}
    for step, recs in sorted(by_step.items()):
        sources: dict[str, int] = {}
        for r in recs:
            sources[r["reward_source"]] = sources.get(r["reward_source"], 0) + 1
        rec: dict[str, Any] = {"sources": dict(sorted(sources.items()))}
        pred = [r for r in recs if r["reward_source"] == "predicted"]
        for r in pred:
            if r["reward_mode"] != "hard" or r["pred_prob"] is None:
                continue
            expected = {"threshold": float(r["pred_prob"] >= r["threshold"]), "constant": 0.0}.get(r["hard_rule"])
            if expected is not None and r["reward"] != expected:
                raise ValueError(
                    f"step {step}: {r['query_id']!r} got reward {r['reward']} from probability "
                    f"{r['pred_prob']} (hard_rule {r['hard_rule']}, threshold {r['threshold']})"
                )
        scored = [r for r in pred if r["hidden_gt"] is not None and r["pred_prob"] is not None]
        if scored:
            m = binary_metrics(
                np.array([r["pred_prob"] for r in scored]),
                np.array([r["hidden_gt"] for r in scored]),
                np.array([r["uid"] for r in scored]),
                hard=np.array([r["reward"] >= 0.5 for r in scored], dtype=int),
            )
            rec["gnn_vs_hidden_truth"] = {k: m[k] for k in ("auc", "accuracy", "f1", "cag", "positive_rate", "n")}
        out[step] = rec
    return out


def validation_curve(metrics: list[dict[str, Any]]) -> dict[int, float]:
    """``{step: validation accuracy}`` from verl's logged ``val-core/<source>/acc/mean@k`` (mean over sources)."""
    curve = {}
    for rec in metrics:
        vals = [v for k, v in rec.get("data", {}).items() if k.startswith("val-core/") and "/acc/" in k]
        if vals:
            curve[int(rec["step"])] = float(np.mean(vals))
    return curve


def gain_share(curve: Mapping[int, float], oracle: Mapping[int, float]) -> float:
    """An arm's gain over step 0 as a share of the oracle's gain (final validated step of each)."""
    if not curve or not oracle:
        return math.nan
    first, last = curve[min(curve)], curve[max(curve)]
    o_first, o_last = oracle[min(oracle)], oracle[max(oracle)]
    gain = o_last - o_first
    return (last - first) / gain if gain > 0 else math.nan


def plot_learning_curves(
    curves: Mapping[str, Mapping[int, float]], path: str | Path, title: str, extra: Mapping[str, Any] | None = None
) -> None:
    """Validation accuracy per step, one line per run (``extra``: optional second panel of per-step series)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if extra else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    for name, curve in curves.items():
        steps = sorted(curve)
        ax.plot(steps, [curve[s] for s in steps], marker="o", label=name)
    ax.set(title=title, xlabel="GRPO step", ylabel="validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if extra:
        ax2 = axes[0][1]
        for name, series in extra.items():
            steps = sorted(series)
            ax2.plot(steps, [series[s] for s in steps], marker=".", label=name)
        ax2.set(title="training rollouts", xlabel="GRPO step")
        ax2.grid(alpha=0.3)
        ax2.legend(loc="best", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
