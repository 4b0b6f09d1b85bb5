"""Expected Corrective Advantage Gap of a group's pseudo rewards under a belief about the truth.

A belief is a probability per answer CLUSTER of being right: rollouts that reach the same final
answer are right or wrong together. In single-answer domains (math, multiple choice) at most one
cluster is right, so the K + 1 outcomes ("cluster c is right", "none is") are enumerated exactly;
elsewhere (code) clusters are independent and the expectation is a seeded Monte-Carlo mean.

Both the ``uncertainty`` strategy (belief = the reward predictor's own probabilities) and ``care``
(belief = online probes) reduce to this one function, so they differ only in the belief.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ZERO_CAG", "GroupBelief", "advantages", "expected_cag", "group_cag", "cluster_index"]

_EPS = 1e-6
# Two advantage vectors closer than this are "the same gradient" (CAG counted as zero).
ZERO_CAG = 1e-3


def advantages(rewards: np.ndarray) -> np.ndarray:
    """Row-wise GRPO advantages ``(r - mean) / (std + eps)`` of ``[..., n]`` rewards (as metrics.py)."""
    r = np.asarray(rewards, dtype=np.float64)
    return (r - r.mean(-1, keepdims=True)) / (r.std(-1, keepdims=True) + _EPS)


def group_cag(pseudo: np.ndarray, true: np.ndarray) -> float:
    """CAG of one group: L2 distance of the advantages of ``pseudo`` and ``true`` rewards."""
    pseudo, true = np.asarray(pseudo, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if pseudo.size < 2:
        return 0.0
    return float(np.linalg.norm(advantages(pseudo) - advantages(true)))


def cluster_index(clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(inverse [n], sizes [K])``: dense cluster index per rollout, clusters in first-seen order."""
    clusters = np.asarray(clusters)
    _, first, inv = np.unique(clusters, return_index=True, return_inverse=True)
    order = np.argsort(first)  # first-seen order makes the result independent of id values
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    inv = rank[inv.reshape(-1)]
    return inv, np.bincount(inv, minlength=len(order))


@dataclass(frozen=True)
class GroupBelief:
    """Expected CAG of the pseudo rewards and the probability that they are exactly right."""

    expected_cag: float
    p_reliable: float  # P(CAG == 0): the group's pseudo rewards already give the true advantages


def expected_cag(
    pseudo: np.ndarray,
    inv: np.ndarray,
    cluster_p: np.ndarray,
    exclusive: bool,
    samples: int = 256,
    rng: np.random.Generator | None = None,
) -> GroupBelief:
    """Expected CAG of ``pseudo`` when cluster ``c`` is right with probability ``cluster_p[c]``.

    Args:
        pseudo: ``[n]`` hard rewards the group gets if its label is not bought.
        inv: ``[n]`` dense cluster index per rollout (see :func:`cluster_index`).
        cluster_p: ``[K]`` probability that each cluster is right.
        exclusive: at most one cluster is right (probabilities are renormalised when they sum > 1).
        samples: Monte-Carlo draws for non-exclusive groups.
        rng: generator for those draws (default: seeded 0, so equal inputs give equal outputs).
    """
    pseudo = np.asarray(pseudo, dtype=np.float64)
    n = pseudo.size
    if n < 2:
        return GroupBelief(0.0, 1.0)
    p = np.clip(np.asarray(cluster_p, dtype=np.float64), 0.0, 1.0)
    k = len(p)
    a_pseudo = advantages(pseudo)
    if exclusive:
        total = p.sum()
        if total > 1.0:
            p = p / total
        weights = np.append(p, max(0.0, 1.0 - p.sum()))  # last outcome: no cluster is right
        truths = np.zeros((k + 1, n))
        truths[:k] = (np.arange(k)[:, None] == inv[None, :]).astype(np.float64)
    else:
        rng = rng if rng is not None else np.random.default_rng(0)
        draws = (rng.random((samples, k)) < p).astype(np.float64)
        truths = draws[:, inv]
        weights = np.full(samples, 1.0 / samples)
    gaps = np.linalg.norm(advantages(truths) - a_pseudo[None, :], axis=1)
    return GroupBelief(float(weights @ gaps), float(weights[gaps < ZERO_CAG].sum()))
