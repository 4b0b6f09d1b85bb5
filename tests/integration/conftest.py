"""Shared fixtures of the verl integration tests: one local Ray cluster, an artifact, a local tokenizer."""

from __future__ import annotations

import pytest

from memreward_verl.integration.testing import build_small_artifact, build_tokenizer
from memreward_verl.testing import arithmetic_rollouts

ray = pytest.importorskip("ray")
pytest.importorskip("verl")

LABELLED = 20  # the first 20 warm-up queries are labelled


@pytest.fixture(scope="session")
def ray_cluster():
    ray.init(num_cpus=8, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def artifact_dir(arith_queries, arith_groups, tmp_path_factory):
    labelled = [q.query_id for q in arith_queries[:LABELLED]]
    return build_small_artifact(arith_groups, labelled, tmp_path_factory.mktemp("integ") / "artifact")


@pytest.fixture(scope="session")
def online_queries():
    """Unlabelled prompts never seen in the warm-up (ids arith-11-*)."""
    return arithmetic_rollouts(n_queries=3, n_rollouts=8, seed=11)


@pytest.fixture(scope="session")
def tokenizer_dir(arith_queries, online_queries, tmp_path_factory):
    extra = arithmetic_rollouts(n_queries=2, n_rollouts=8, seed=12)
    qs = list(arith_queries) + list(online_queries) + extra
    texts = [q.question for q in qs] + [r.text for q in qs for r in q.rollouts]
    return build_tokenizer(texts, tmp_path_factory.mktemp("tok") / "tokenizer")


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)
