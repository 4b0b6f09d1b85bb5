"""The anchor of the GNN: a logistic regression on group features, chosen by query-grouped cross-validation.

The anchor is the model's calibrated vote (column 0 of its inputs: the vote score,
:func:`memreward_verl.features.vote_score`); a richer candidate replaces it only where
out-of-fold evidence (:mod:`memreward_verl.evidence`) says it ranks better.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch import nn

from memreward_verl.evidence import query_bootstrap_gain, query_folds, significant
from memreward_verl.gnn import NUM_NEIGHBOUR_FEATURES

__all__ = ["fit_anchor", "ANCHORS", "RICH_ANCHORS"]

# Anchor candidates: the vote score alone (a monotone calibration of the vote: its ranking and ties), plus
# the neighbour-label inputs, every label-free group feature (no neighbour labels: where one feature such as
# code's execution score carries the ranking, how hard similar queries were only adds noise), or every input.
ANCHORS = ("vote", "vote_nbr", "features", "full")
RICH_ANCHORS = ANCHORS[1:]
# The standardised vote score's weight where no fit may set it (a non-positive fit, one class): it only breaks ties.
FLAT_WEIGHT = 1e-3


def _logit_rate(y: np.ndarray) -> float:
    rate = float(np.clip(y.mean() if len(y) else 0.5, 0.02, 0.98))
    return math.log(rate / (1 - rate))


def _fit_candidate(xs: np.ndarray, y: np.ndarray, cols: list[int]) -> tuple[np.ndarray, float, bool]:
    """Logistic regression on standardised ``xs[:, cols]``: ``(weights [F], intercept, flattened)``.

    Agreeing with more of the group is never taken as evidence of being wrong: a fit that gives
    the vote score (column 0) a weight <= 0 is refitted without it, and the vote keeps a tiny
    positive weight that only breaks ties (``flattened``). With one class only no label can set a
    weight, and none says the vote ranks wrongly: the vote's tie-breaking weight at the base rate
    (a constant would rank every rollout alike, below the vote).
    """
    w = np.zeros(xs.shape[1])
    if len(np.unique(y)) < 2:
        w[0] = FLAT_WEIGHT
        return w, _logit_rate(y), True
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(xs[:, cols], y)
    w[cols], intercept = lr.coef_[0], float(lr.intercept_[0])
    if 0 not in cols or w[0] > 0:
        return w, intercept, False
    rest = [c for c in cols if c != 0]
    w[:], intercept = 0.0, _logit_rate(y)
    if rest:
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(xs[:, rest], y)
        w[rest], intercept = lr.coef_[0], float(lr.intercept_[0])
    w[0] = FLAT_WEIGHT
    return w, intercept, True


def _cv_folds(groups: np.ndarray, folds: int = 5) -> np.ndarray:
    """Fold id of every row, folds made of whole queries (``groups``)."""
    fold_of = np.zeros(len(groups), dtype=np.int64)
    for k, test_q in enumerate(query_folds(np.unique(groups), folds, seed=0)):
        fold_of[np.isin(groups, test_q)] = k
    return fold_of


def _oof_decisions(xs: np.ndarray, y: np.ndarray, fold_of: np.ndarray, cols: list[int]) -> np.ndarray:
    """Out-of-fold decision values of one candidate; NaN where a fold could not fit (one class)."""
    out = np.full(len(y), np.nan)
    for k in np.unique(fold_of):
        te = fold_of == k
        if len(np.unique(y[~te])) < 2:
            continue
        w, b, _ = _fit_candidate(xs[~te], y[~te], cols)
        out[te] = xs[te] @ w + b
    return out


def fit_anchor(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    layer: nn.Linear,
    min_gain_z: float = 1.0,
    candidates: tuple[str, ...] = ANCHORS,
) -> dict[str, Any]:
    """Fit the anchor logistic regression into ``layer`` and freeze it.

    Candidates: ``vote`` (the vote score alone: a monotone calibration of majority voting, or of
    execution agreement for programs that ran, same ranking), ``vote_nbr`` (plus the
    neighbour-label inputs: how hard similar labelled queries were), ``features`` (every label-free
    group feature) and ``full`` (every anchor input, standardised). Each is scored by query-grouped
    5-fold OOF decisions; a candidate replaces ``vote`` only if its OOF AUC gain over ``vote``,
    bootstrapped over queries, is positive by ``min_gain_z`` standard deviations (the largest such
    lower bound wins), and ``full`` replaces the better of ``features`` / ``vote_nbr`` only if it
    also beats that one so (nested parts pay for themselves). So few or skewed labels give the
    calibrated vote, more labels buy structure. With one class only, the anchor is the base rate
    with the vote score's tie-breaking weight (``vote_flat``: the vote's ranking, no slope).

    Returns:
        ``{"anchor": name (+"_flat" if the vote score's weight was flattened), "cv_auc": {name: OOF
        AUC}, "cv_gain": {name: [mean, std] of the gain over vote}}``.
    """
    info: dict[str, Any] = {"anchor": "vote", "cv_auc": {}, "cv_gain": {}}
    one_class = len(np.unique(y)) < 2
    with torch.no_grad():
        # Where the labelled vote scores are all equal (unanimous groups, all right) a weight is on the raw score.
        mean, std = (x.mean(0), x.std(0)) if len(x) else (np.zeros(x.shape[1]), np.ones(x.shape[1]))
        std = np.where(std > 1e-8, std, 1.0)
        xs = (x - mean) / std
        nbr = list(range(x.shape[1] - NUM_NEIGHBOUR_FEATURES, x.shape[1]))
        feats = [c for c in range(x.shape[1]) if c not in nbr]
        all_cols = {"vote": [0], "vote_nbr": [0, *nbr], "features": feats, "full": list(range(x.shape[1]))}
        cols_of = {n: all_cols[n] for n in candidates}
        name = "vote" if "vote" in cols_of or one_class else candidates[0]
        if len(cols_of) > 1 and not one_class:
            # The vote is the raw vote score (no fitting): an OOF fit of a near-constant anchor would rank by
            # each fold's base rate, which is anti-correlated with the held-out fold's own rate.
            fold_of = _cv_folds(groups)
            oof = {n: _oof_decisions(xs, y, fold_of, cols) for n, cols in cols_of.items() if n != "vote"}
            oof["vote"] = xs[:, 0]
            ok = ~np.isnan(np.stack(list(oof.values()))).any(0)
            both = ok.any() and 0 < y[ok].sum() < ok.sum()
            info["cv_auc"] = {n: float(roc_auc_score(y[ok], d[ok])) if both else None for n, d in oof.items()}
            best_bound = 0.0
            for n in cols_of:
                if n == "vote" or not both:
                    continue
                gain = query_bootstrap_gain(oof[n][ok], oof["vote"][ok], y[ok], groups[ok], strata=fold_of[ok])
                info["cv_gain"][n] = list(gain)
                if significant(gain, min_gain_z) and gain[0] - min_gain_z * gain[1] > best_bound:
                    name, best_bound = n, gain[0] - min_gain_z * gain[1]
            # Each part must pay for itself: ``full`` holds ``features`` and ``vote_nbr``, so it is served
            # over the one of them that won only if it ranks significantly better than that one too.
            if name == "full":
                inner = max(
                    (n for n in ("features", "vote_nbr") if n in info["cv_gain"]),
                    key=lambda n: info["cv_gain"][n][0] - min_gain_z * info["cv_gain"][n][1],
                    default=None,
                )
                if inner is not None and significant(info["cv_gain"][inner], min_gain_z):
                    gain = query_bootstrap_gain(oof["full"][ok], oof[inner][ok], y[ok], groups[ok], strata=fold_of[ok])
                    info["cv_gain"][f"full_over_{inner}"] = list(gain)
                    if not significant(gain, min_gain_z):
                        name = inner
        w, intercept, flat = _fit_candidate(xs, y, all_cols[name])
        info["anchor"] = f"{name}_flat" if flat else name
        # Fold the standardisation into the layer: w'x + b' == w((x - mean) / std) + b.
        layer.weight.copy_(torch.as_tensor(w / std, dtype=torch.float32)[None])
        layer.bias.fill_(float(intercept - (w * mean / std).sum()))
    layer.requires_grad_(False)
    return info
