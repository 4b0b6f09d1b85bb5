"""From predicted probabilities to hard 0/1 rewards of a GRPO group.

``threshold``: reward 1 where ``p >= threshold`` (the reference's rule).

``expected_cag``: choose, per group, the hard reward vector that minimises the EXPECTED
Corrective Advantage Gap under the predicted probabilities. Candidates are "the top-j rollouts by
probability get 1" for j = 0..n. Possible truths are sampled with rollouts of one answer cluster
sharing one draw (same final answer, same correctness) at the cluster's mean probability. GRPO
only sees advantages, so a group the predictor is unsure about is better given equal rewards (zero
advantage) than a coin-flip ranking: this rule does that automatically.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hard_rewards", "group_expected_cag_choice", "HARD_RULES"]

HARD_RULES = ("threshold", "expected_cag")


def _advantages(r: np.ndarray) -> np.ndarray:
    """Row-wise GRPO advantages of ``[m, n]`` reward vectors (as ``metrics.grpo_advantages``)."""
    mean = r.mean(1, keepdims=True)
    std = r.std(1, keepdims=True)
    return (r - mean) / (std + 1e-6)


def group_expected_cag_choice(prob: np.ndarray, clusters: np.ndarray, samples: int, rng: np.random.Generator):
    """Hard rewards ``[n]`` of one group minimising expected CAG (see module docstring)."""
    n = len(prob)
    if n < 2:
        return (prob >= 0.5).astype(np.int64)
    order = np.argsort(-prob, kind="stable")
    cands = np.zeros((n + 1, n))
    for j in range(1, n + 1):
        cands[j, order[:j]] = 1.0
    uniq, inv = np.unique(clusters, return_inverse=True)
    p_c = np.bincount(inv, weights=prob, minlength=len(uniq)) / np.bincount(inv, minlength=len(uniq))
    draws = (rng.random((samples, len(uniq))) < p_c).astype(np.float64)[:, inv]  # [S, n]
    a_true = _advantages(draws)  # [S, n]
    a_cand = _advantages(cands)  # [n+1, n]
    gaps = np.linalg.norm(a_cand[:, None, :] - a_true[None, :, :], axis=2).mean(1)  # [n+1]
    # All-0 and all-1 give the same (zero) advantages; break such ties by expected label error.
    hamming = np.abs(cands[:, None, :] - draws[None, :, :]).mean((1, 2))  # [n+1]
    return cands[int(np.argmin(gaps + 1e-3 * hamming))].astype(np.int64)


def hard_rewards(
    prob: np.ndarray,
    rollout_group: np.ndarray,
    clusters: np.ndarray | None = None,
    rule: str = "expected_cag",
    threshold: float = 0.5,
    samples: int = 512,
    seed: int = 0,
) -> np.ndarray:
    """Hard 0/1 rewards ``[R]`` for rollouts grouped by ``rollout_group``.

    Args:
        prob: ``[R]`` predicted probabilities of correctness.
        rollout_group: ``[R]`` group id per rollout.
        clusters: ``[R]`` answer-cluster id per rollout (unique within a group); default: every
            rollout its own cluster.
        rule: ``"threshold"`` or ``"expected_cag"``.
        threshold: for ``"threshold"``.
        samples: Monte-Carlo draws per group for ``"expected_cag"``.
        seed: makes ``"expected_cag"`` deterministic.
    """
    prob = np.asarray(prob, dtype=np.float64)
    if rule == "threshold":
        return (prob >= threshold).astype(np.int64)
    if rule != "expected_cag":
        raise ValueError(f"'rule' must be one of {HARD_RULES} (got {rule!r})")
    clusters = np.arange(len(prob)) if clusters is None else np.asarray(clusters)
    out = np.zeros(len(prob), dtype=np.int64)
    rng = np.random.default_rng(seed)
    for g in np.unique(rollout_group):
        m = np.flatnonzero(rollout_group == g)
        out[m] = group_expected_cag_choice(prob[m], clusters[m], samples, rng)
    return out
