"""Shared fixtures: the real packaged embedder and small real inputs, built once per session."""

from __future__ import annotations

import pytest
import torch

from memreward_verl.config import MemRewardConfig
from memreward_verl.testing import arithmetic_rollouts, shared_data_dir

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def embedder():
    from memreward_verl.embed import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def arith_queries():
    return arithmetic_rollouts(n_queries=60, n_rollouts=8, seed=0)


@pytest.fixture(scope="session")
def arith_groups(arith_queries, embedder):
    from memreward_verl.groups import encode_groups

    return encode_groups(arith_queries, embedder, MemRewardConfig())


@pytest.fixture()
def fast_cfg():
    """Training settings small enough for tests, same code paths."""
    cfg = MemRewardConfig()
    cfg.fit.epochs = 40
    cfg.fit.patience = 10
    cfg.fit.seeds = (0,)
    return cfg


@pytest.fixture(scope="session")
def shared_data():
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent")
    return path
