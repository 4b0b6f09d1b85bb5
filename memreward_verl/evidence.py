"""Out-of-sample evidence that a learned part earns its place: query folds and bootstrapped AUC gains.

Rollouts of one query are strongly correlated, so every split and every resample is over whole
queries; a gain counts only when it is positive by ``z`` bootstrap standard deviations.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MIN_QUERIES", "query_folds", "query_bootstrap_gain", "significant"]


def query_folds(queries: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Seeded split of query indices into ``min(folds, len(queries))`` folds of near-equal size."""
    order = np.random.default_rng(seed).permutation(np.asarray(queries))
    k = max(1, min(folds, len(order)))
    return [np.sort(order[i::k]) for i in range(k)]


# Fewer held-out queries than this are no evidence for a learned part, whatever their rollouts say.
MIN_QUERIES = 5


def _tie_groups(score: np.ndarray) -> np.ndarray:
    """Rank of each score among the distinct scores (equal scores share a rank)."""
    return np.unique(score, return_inverse=True)[1]


def _weighted_auc(tg: np.ndarray, n_groups: int, y: np.ndarray, w: np.ndarray) -> float:
    """AUC of scores with tie ranks ``tg`` where rollout i counts ``w[i]`` times (ties count half)."""
    wp = np.bincount(tg, weights=w * y, minlength=n_groups)
    wn = np.bincount(tg, weights=w * (1 - y), minlength=n_groups)
    below = np.cumsum(wn) - wn
    return float((wp * (below + 0.5 * wn)).sum() / (wp.sum() * wn.sum()))


def query_bootstrap_gain(
    p_new: np.ndarray,
    p_old: np.ndarray,
    y: np.ndarray,
    q: np.ndarray,
    n: int = 200,
    seed: int = 0,
    strata: np.ndarray | None = None,
) -> tuple[float, float]:
    """Mean and std of AUC(p_new) - AUC(p_old) over bootstrap resamples of whole queries.

    Rollouts of one query are strongly correlated, so resampling QUERIES (not rollouts) gives an
    honest spread. A resample is a weight per rollout (how often its query was drawn), so each AUC
    is one pass over scores ranked once. With ``strata`` (e.g. the cross-validation fold of each
    rollout) queries are resampled within each stratum and the gain is the rollout-weighted mean of
    the per-stratum gains: predictions of different fold models are never ranked against each other
    (their calibrations differ, which would penalise any fitted predictor against a fixed one).
    Fewer than ``MIN_QUERIES`` queries, or fewer than 20 usable resamples (too few classes), give
    ``(0, inf)``: no evidence of a gain.
    """
    y = np.asarray(y, dtype=np.float64)
    p_new, p_old, q = np.asarray(p_new), np.asarray(p_old), np.asarray(q)
    strata = np.zeros(len(y), dtype=np.int64) if strata is None else np.asarray(strata)
    if len(np.unique(q)) < MIN_QUERIES:
        return 0.0, math.inf
    parts = []  # per stratum: (query index of each rollout, #queries, y, tie ranks new/old, sizes)
    for s in np.unique(strata):
        m = strata == s
        uniq, inv = np.unique(q[m], return_inverse=True)
        tn, to = _tie_groups(p_new[m]), _tie_groups(p_old[m])
        parts.append((inv, len(uniq), y[m], tn, int(tn.max()) + 1, to, int(to.max()) + 1))
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(n):
        total, weight = 0.0, 0.0
        for inv, nq, ys, tn, n_new, to, n_old in parts:
            w = np.bincount(rng.integers(0, nq, nq), minlength=nq)[inv].astype(np.float64)
            pos = (w * ys).sum()
            if 0 < pos < w.sum():
                total += w.sum() * (_weighted_auc(tn, n_new, ys, w) - _weighted_auc(to, n_old, ys, w))
                weight += w.sum()
        if weight > 0:
            gains.append(total / weight)
    return (float(np.mean(gains)), float(np.std(gains))) if len(gains) >= 20 else (0.0, math.inf)


def significant(gain: tuple[float, float], z: float) -> bool:
    """A bootstrapped gain ``(mean, std)`` is positive by ``z`` standard deviations."""
    return gain[0] - z * gain[1] > 0
