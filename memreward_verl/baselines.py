"""Baseline reward predictors the offline evaluation compares MemReward against.

Each takes the memory (labels of labelled queries only) and returns ``(prob [R], hard [R])`` for
every rollout; none ever reads the true labels of unlabelled queries.

- ``majority_vote``: a rollout is right when it agrees with its group's most common parsed
  answer; its probability is its answer cluster's share (TTRL-style pseudo-label, no training).
- ``mlp``: the same node features (query/think/answer embeddings + group features), no graph.
- ``knn``: label propagation over a cosine kNN graph of rollout embeddings.
- ``reference_style``: the GNN wired like the reference code: query edges only from new queries
  into labelled ones, no label inputs, no vote anchor.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from memreward_verl.config import MemRewardConfig
from memreward_verl.features import GROUP_FEATURES
from memreward_verl.fit import fit_gnn, predict_memory, probabilities, split_labelled, train_loop
from memreward_verl.memory import ExperienceMemory, QueryIndex

__all__ = ["majority_vote", "mlp_baseline", "knn_propagation", "reference_style", "BASELINES"]

_SHARE = GROUP_FEATURES.index("share")
_PLURALITY = GROUP_FEATURES.index("is_plurality")


def majority_vote(memory: ExperienceMemory, cfg: MemRewardConfig) -> tuple[np.ndarray, np.ndarray]:
    """Agreement with the group's most common parsed answer (no labels used)."""
    feats = memory.groups.feats
    return feats[:, _SHARE].astype(np.float64), feats[:, _PLURALITY].astype(np.int64)


class _RolloutMLP(nn.Module):
    def __init__(self, in_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


def mlp_baseline(memory: ExperienceMemory, cfg: MemRewardConfig) -> tuple[np.ndarray, np.ndarray]:
    """MLP over [query emb | think emb | answer emb | group features], best of the fit seeds."""
    g = memory.groups
    x = torch.from_numpy(np.concatenate([g.query_emb[g.rollout_query], g.think_emb, g.answer_emb, g.feats], axis=1))
    known = memory.labels >= 0
    has_label = np.zeros(g.num_queries, dtype=bool)
    has_label[g.rollout_query[known]] = True
    train_q, val_q = split_labelled(memory.query_labelled & has_label, cfg.fit.val_fraction, cfg.fit.seed)
    # Rollouts are independent in an MLP: training and validation forward only their own rows
    # (dropout over every rollout each epoch was 70% of this baseline's time on 9,000 rollouts).
    train_rows = np.flatnonzero(np.isin(g.rollout_query, train_q) & known)
    val_rows = np.flatnonzero(np.isin(g.rollout_query, val_q) & known)
    rows = np.concatenate([train_rows, val_rows])
    x_rows = x[torch.as_tensor(rows)]
    y = torch.as_tensor(memory.labels[rows], dtype=torch.float32)
    train_ids = torch.arange(len(train_rows))
    val_ids = torch.arange(len(train_rows), len(rows))
    best = None
    for seed in cfg.fit.seeds:
        torch.manual_seed(seed)
        model = _RolloutMLP(x.shape[1], cfg.gnn.hidden, cfg.gnn.dropout)
        auc, _, _ = train_loop(
            model, lambda m, _li: m(x_rows), y, lambda rng: (None, train_ids), val_ids,
            cfg.fit.epochs, cfg.fit.lr, cfg.fit.weight_decay, cfg.fit.patience, seed,
        )  # fmt: skip
        if best is None or auc > best[0]:
            best = (auc, model)
    with torch.no_grad():
        prob = probabilities(best[1](x))
    return prob, (prob >= 0.5).astype(np.int64)


def knn_propagation(
    memory: ExperienceMemory, cfg: MemRewardConfig, k: int = 10, alpha: float = 0.9, iters: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Zhou et al. label spreading over a symmetric cosine kNN graph of rollout embeddings."""
    g = memory.groups
    emb = g.think_emb + g.answer_emb
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    n = len(emb)
    sims, ids = QueryIndex(emb, memory.cfg).search(emb, min(k + 1, n))
    rows = np.repeat(np.arange(n), ids.shape[1])
    keep = (ids.reshape(-1) >= 0) & (ids.reshape(-1) != rows)
    w = sp.csr_matrix((np.clip(sims.reshape(-1)[keep], 0, None), (rows[keep], ids.reshape(-1)[keep])), shape=(n, n))
    w = w.maximum(w.T)
    deg = np.asarray(w.sum(1)).reshape(-1)
    d = sp.diags(1.0 / np.sqrt(np.maximum(deg, 1e-12)))
    s = d @ w @ d
    known = memory.labels >= 0
    y0 = np.zeros((n, 2))
    y0[known, 1] = memory.labels[known] == 1
    y0[known, 0] = memory.labels[known] == 0
    f = y0.copy()
    for _ in range(iters):
        f = alpha * (s @ f) + (1 - alpha) * y0
    mass = f.sum(1)
    prior = float(memory.labels[known].mean()) if known.any() else 0.5
    prob = np.where(mass > 1e-12, f[:, 1] / np.maximum(mass, 1e-12), prior)
    return prob, (prob >= 0.5).astype(np.int64)


def reference_style(memory: ExperienceMemory, cfg: MemRewardConfig) -> tuple[np.ndarray, np.ndarray]:
    """The same GNN with the reference's wiring: new -> memory query edges, no label inputs, no anchor."""
    ref = dataclasses.replace(
        cfg,
        graph=dataclasses.replace(cfg.graph, query_edges="to_memory"),
        gnn=dataclasses.replace(cfg.gnn, label_inputs=False, vote_anchor=False),
    )
    result = fit_gnn(memory, ref)
    prob = predict_memory(result.model, memory, ref, result.graph).astype(np.float64)
    return prob, (prob >= 0.5).astype(np.int64)


BASELINES = {
    "majority_vote": majority_vote,
    "mlp": mlp_baseline,
    "knn": knn_propagation,
    "reference_style": reference_style,
}
