"""Memory -> PyG ``HeteroData`` (query / think / answer nodes, see schema.py).

Query-query kNN edges go BOTH ways by default: labelled queries send their label summaries to
unlabelled ones, which is what makes propagation possible (the reference code only had edges from
new queries into the memory, so nothing ever flowed back: its predictions ignored memory labels).
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from memreward_verl import schema as S
from memreward_verl.config import GraphConfig
from memreward_verl.features import answer_clusters
from memreward_verl.groups import EncodedGroups
from memreward_verl.memory import QueryIndex

__all__ = ["build_graph", "query_label_inputs", "structural_edges", "agreement_edges", "query_knn_edges"]


def query_label_inputs(labels: np.ndarray, rollout_query: np.ndarray, num_queries: int) -> np.ndarray:
    """Per query ``[known, mean label]`` from rollout labels (-1 unknown): ``float32 [Q, 2]``."""
    known = labels >= 0
    count = np.bincount(rollout_query[known], minlength=num_queries).astype(np.float32)
    pos = np.bincount(rollout_query[known], weights=labels[known].astype(np.float64), minlength=num_queries)
    has = count > 0
    mean = np.where(has, pos / np.maximum(count, 1), 0.0)
    return np.stack([has.astype(np.float32), mean.astype(np.float32)], axis=1)


def structural_edges(rollout_query: np.ndarray) -> dict[S.EdgeType, torch.Tensor]:
    """query<->think<->answer and query<->answer edges; rollout i is think i and answer i."""
    r = torch.arange(len(rollout_query), dtype=torch.long)
    q = torch.as_tensor(rollout_query, dtype=torch.long)
    return {
        S.Q_THINK: torch.stack([q, r]),
        S.THINK_Q: torch.stack([r, q]),
        S.THINK_A: torch.stack([r, r]),
        S.A_THINK: torch.stack([r, r]),
        S.Q_A: torch.stack([q, r]),
        S.A_Q: torch.stack([r, q]),
    }


def agreement_edges(groups: EncodedGroups, cfg: GraphConfig, offset: int = 0) -> torch.Tensor:
    """Edges between rollouts of one group with the same answer cluster (both directions)."""
    src, dst = [], []
    for qi, sl in enumerate(groups.group_slices()):
        keys = groups.answer_keys[sl]
        clusters = answer_clusters(keys, groups.answer_emb[sl], cfg.agreement_cosine, groups.domains[qi])
        for c in np.unique(clusters):
            members = np.flatnonzero(clusters == c) + sl.start + offset
            if len(members) < 2:
                continue
            for i, m in enumerate(members):
                others = np.concatenate([members[i + 1 :], members[:i]])[: cfg.max_agreement_edges]
                src.extend(others.tolist())
                dst.extend([int(m)] * len(others))
    return torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)


def query_knn_edges(
    query_emb: np.ndarray, k: int, mode: str = "both", labelled: np.ndarray | None = None
) -> torch.Tensor:
    """Cosine kNN edges between queries (self excluded).

    Args:
        query_emb: ``[Q, d]`` unit-norm query embeddings.
        k: neighbours per query.
        mode: ``"both"`` (symmetric kNN graph) or ``"to_memory"`` (reference style: neighbours are
            searched among labelled queries only; labelled<->labelled edges both ways and
            unlabelled -> labelled edges only, so nothing reaches an unlabelled query).
        labelled: ``bool [Q]``, required for ``"to_memory"``.
    """
    n = len(query_emb)
    if k == 0 or n < 2:
        return torch.zeros((2, 0), dtype=torch.long)
    if mode == "both":
        _, ids = QueryIndex(query_emb).search(query_emb, k + 1)
        src = ids.reshape(-1)
        dst = np.repeat(np.arange(n), ids.shape[1])
        keep = (src >= 0) & (src != dst)
        src, dst = src[keep], dst[keep]
        key = np.unique(np.concatenate([src * n + dst, dst * n + src]))  # symmetric, sorted, unique
        return torch.as_tensor(np.stack([key // n, key % n]), dtype=torch.long)
    if labelled is None:
        raise ValueError("query_knn_edges(mode='to_memory') needs the labelled mask")
    mem = np.flatnonzero(labelled)
    if len(mem) == 0:
        return torch.zeros((2, 0), dtype=torch.long)
    _, ids = QueryIndex(query_emb[mem]).search(query_emb, k + 1)
    pairs = set()
    for i in range(n):
        for j in mem[ids[i][ids[i] >= 0]]:
            if j == i:
                continue
            pairs.add((i, int(j)))  # new/any query -> labelled neighbour
            if labelled[i]:
                pairs.add((int(j), i))
    edges = sorted(pairs)
    return torch.tensor(edges, dtype=torch.long).t().reshape(2, -1)


def build_graph(
    groups: EncodedGroups,
    labels: np.ndarray,
    cfg: GraphConfig | None = None,
) -> HeteroData:
    """Build the memory graph.

    Args:
        groups: encoded groups (embeddings, features, answer keys).
        labels: ``[R]`` labels the graph may use as inputs (-1 unknown); pass the MEMORY's labels,
            never the true labels of unlabelled queries.
        cfg: edge settings.

    Returns:
        ``HeteroData`` with ``x`` per node type, ``query.label_in [Q, 2]`` (known, mean label),
        ``answer.feats [R, F]`` and every relation of schema.py; validated.
    """
    cfg = cfg or GraphConfig()
    data = HeteroData()
    data[S.QUERY].x = torch.from_numpy(np.asarray(groups.query_emb, dtype=np.float32))
    label_in = query_label_inputs(labels, groups.rollout_query, groups.num_queries)
    data[S.QUERY].label_in = torch.from_numpy(label_in)
    data[S.THINK].x = torch.from_numpy(np.asarray(groups.think_emb, dtype=np.float32))
    data[S.ANSWER].x = torch.from_numpy(np.asarray(groups.answer_emb, dtype=np.float32))
    data[S.ANSWER].feats = torch.from_numpy(np.asarray(groups.feats, dtype=np.float32))
    data[S.ANSWER].rollout_query = torch.from_numpy(np.asarray(groups.rollout_query, dtype=np.int64))
    for et, ei in structural_edges(groups.rollout_query).items():
        data[et].edge_index = ei
    data[S.Q_SIM].edge_index = query_knn_edges(
        groups.query_emb, cfg.query_knn, cfg.query_edges, labelled=label_in[:, 0] > 0
    )
    data[S.A_AGREE].edge_index = (
        agreement_edges(groups, cfg) if cfg.answer_agreement else torch.zeros((2, 0), dtype=torch.long)
    )
    data.validate(raise_on_error=True)
    return data
