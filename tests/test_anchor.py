"""The anchor's candidate choice: richer anchors are served only where out-of-fold evidence asks for them."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from memreward_verl.anchor import ANCHORS, fit_anchor
from memreward_verl.fit import _majority_kind
from memreward_verl.gnn import NUM_NEIGHBOUR_FEATURES

N_FEATS = 6  # group features (column 0: the vote score), then the neighbour-label inputs


def _data(nbr_signal: float, seed: int = 0, queries: int = 80, per_query: int = 12):
    """Rollouts whose correctness follows one label-free feature (column 2) and, by ``nbr_signal``, a
    query-level difficulty the neighbour-label inputs see."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(queries), per_query)
    n = len(groups)
    x = rng.normal(size=(n, N_FEATS + NUM_NEIGHBOUR_FEATURES))
    difficulty = rng.normal(size=queries)
    x[:, N_FEATS] = difficulty[groups] + 0.3 * rng.normal(size=queries)[groups]
    x[:, 0] = 0.3 * x[:, 2] + rng.normal(size=n)  # the vote score: weakly informative
    logit = 2.0 * x[:, 2] + nbr_signal * difficulty[groups]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return x, y, groups


def test_full_is_served_over_its_parts_only_when_it_ranks_significantly_better():
    """Label-free features carry the ranking and the neighbour inputs are noise: ``full`` may look as
    good as ``features`` out of fold, but the nested comparison serves ``features``. Where the
    neighbour labels carry a real query-level signal too, ``full`` is served."""
    for seed in (0, 1):
        x, y, groups = _data(nbr_signal=0.0, seed=seed)
        info = fit_anchor(x, y, groups, nn.Linear(x.shape[1], 1))
        assert info["anchor"].removesuffix("_flat") == "features", info
        x, y, groups = _data(nbr_signal=3.0, seed=seed)
        info = fit_anchor(x, y, groups, nn.Linear(x.shape[1], 1))
        assert info["anchor"].removesuffix("_flat") == "full", info
        over = [gain for name, gain in info["cv_gain"].items() if name.startswith("full_over_")]
        assert len(over) == 1 and over[0][0] > 2 * over[0][1]  # judged against its better part


class _Run:
    def __init__(self, kind: str) -> None:
        self.anchor = {"anchor": kind}


def test_majority_kind_ties_go_to_the_simpler_anchor():
    assert ANCHORS == ("vote", "vote_nbr", "features", "full")
    assert _majority_kind([_Run("full"), _Run("features_flat"), _Run("full"), _Run("features")]) == "features"
    assert _majority_kind([_Run("full"), _Run("full"), _Run("features"), _Run("constant")]) == "full"
    assert _majority_kind([_Run("constant"), _Run("vote_nbr")]) == "vote"


def test_one_class_keeps_the_vote_ranking_at_the_base_rate():
    """No label can calibrate the vote score, none says it ranks wrongly: a flattened vote at the base rate."""
    x, _, groups = _data(nbr_signal=0.0)
    layer = nn.Linear(x.shape[1], 1)
    for label, rate in ((1, 0.98), (0, 0.02)):  # the base rate, clipped as every anchor's is
        info = fit_anchor(x, np.full(len(x), label), groups, layer)
        assert info["anchor"] == "vote_flat"
        with torch.no_grad():
            prob = torch.sigmoid(layer(torch.as_tensor(x, dtype=torch.float32))).numpy()[:, 0]
        assert np.all(np.diff(prob[np.argsort(x[:, 0])]) >= 0) and np.ptp(prob) > 0  # the vote's order
        assert abs(prob.mean() - rate) < 1e-3 and not layer.weight.requires_grad
    # Labelled groups all unanimous and right (Qwen MATH at 10% labels, seed 1): their vote scores are all
    # equal, yet new groups' are not, and they are ranked as the vote ranks them.
    unanimous = x.copy()
    unanimous[:, 0] = 1.0
    assert fit_anchor(unanimous, np.ones(len(x)), groups, layer)["anchor"] == "vote_flat"
    with torch.no_grad():
        prob = torch.sigmoid(layer(torch.as_tensor(x, dtype=torch.float32))).numpy()[:, 0]
    assert np.all(np.diff(prob[np.argsort(x[:, 0])]) >= 0) and np.ptp(prob) > 0
