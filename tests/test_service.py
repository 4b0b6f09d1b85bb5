"""service.py without Ray: grouping by uid, offline-identical probabilities, timeouts, memory growth."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from memreward_verl.artifact import ArtifactError, load_artifact
from memreward_verl.groups import encode_groups
from memreward_verl.integration.testing import build_small_artifact
from memreward_verl.reward import RewardRule, RewardSample
from memreward_verl.service import GroupTimeoutError, MemoryService, ServiceConfig, load_service
from memreward_verl.testing import arithmetic_rollouts


@pytest.fixture(scope="module")
def artifact_dir(arith_queries, arith_groups, tmp_path_factory):
    labelled = [q.query_id for q in arith_queries[:20]]
    return build_small_artifact(arith_groups, labelled, tmp_path_factory.mktemp("svc") / "artifact")


@pytest.fixture(scope="module")
def new_queries():
    return arithmetic_rollouts(n_queries=3, n_rollouts=4, seed=7)


def _samples(q, uid):
    return [
        RewardSample(uid=uid, query_id=q.query_id, data_source="openai/gsm8k", question=q.question, response=r.text,
                     domain="math", ground_truth=q.ground_truth)
        for r in q.rollouts
    ]  # fmt: skip


def _service(artifact_dir, embedder, **cfg):
    return MemoryService(load_artifact(artifact_dir), embedder, RewardRule("soft"), ServiceConfig(**cfg))


def test_interleaved_groups_match_offline(artifact_dir, embedder, new_queries):
    """Rollouts of three uids arriving interleaved get the offline predictor's probabilities."""
    svc = _service(artifact_dir, embedder)
    groups = [_samples(q, f"u{i}") for i, q in enumerate(new_queries)]
    order = [s for k in range(4) for g in groups for s in [g[k]]]

    async def run():
        return await asyncio.gather(*(svc.predict(s, 4) for s in order))

    out = asyncio.run(run())
    art = load_artifact(artifact_dir)
    offline = art.predictor().predict_groups(encode_groups(list(new_queries), embedder, art.cfg))
    got = np.array([o.prob for o in out]).reshape(4, 3).T.reshape(-1)
    assert np.allclose(got, offline, atol=1e-5)
    assert svc.stats()["predict_groups_complete"] == 3 and svc.stats()["open_groups"] == 0


@pytest.mark.parametrize("policy", ["partial", "neutral", "error"])
def test_timeout_policies(artifact_dir, embedder, new_queries, policy):
    """A group missing rollouts closes after group_timeout_s as on_timeout says, and is counted."""
    svc = _service(artifact_dir, embedder, group_timeout_s=0.5, on_timeout=policy)
    arrived = _samples(new_queries[0], "late")[:2]

    async def run():
        return await asyncio.gather(*(svc.predict(s, 4) for s in arrived), return_exceptions=True)

    out = asyncio.run(run())
    assert svc.stats()["predict_groups_timed_out"] == 1
    if policy == "error":
        assert all(isinstance(o, GroupTimeoutError) and "2/4" in str(o) for o in out)
    elif policy == "neutral":
        assert all(o.neutral and o.score == 0.0 and o.timed_out for o in out)
    else:
        assert all(o.timed_out and 0.0 <= o.prob <= 1.0 for o in out)


def test_straggler_after_timeout(artifact_dir, embedder, new_queries):
    """A rollout arriving after its group closed is scored alone (partial) and counted."""
    svc = _service(artifact_dir, embedder, group_timeout_s=0.3)
    s = _samples(new_queries[1], "u")

    async def run():
        first = await svc.predict(s[0], 2)
        late = await svc.predict(s[1], 2)
        return first, late

    first, late = asyncio.run(run())
    assert first.timed_out and late.timed_out and svc.stats()["predict_stragglers"] == 1


def test_missing_uid_is_an_error(artifact_dir, embedder, new_queries):
    """Unlabelled rollouts without uid cannot be grouped: a clear error, no reward."""
    svc = _service(artifact_dir, embedder)
    s = _samples(new_queries[0], None)[0]
    with pytest.raises(ValueError, match="uid"):
        asyncio.run(svc.predict(s, 4))


def test_embedder_mismatch(artifact_dir, embedder):
    """An artifact embedded with another model is refused, naming both ids."""
    art = load_artifact(artifact_dir)
    art.memory.groups.model_id = "other/model@256"
    with pytest.raises(ArtifactError, match="other/model"):
        MemoryService(art, embedder)


def test_grow_memory_refit_and_resume(artifact_dir, embedder, arith_queries, tmp_path):
    """Verified labelled groups join the memory, the GNN is refitted, and a restart resumes the state."""
    state = tmp_path / "state"
    cfg = ServiceConfig(grow_memory=True, refit_every=2, state_dir=str(state))
    svc = MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), cfg)
    before = svc.predictor.memory.num_queries
    labelled = arith_queries[:2]

    async def run():
        for i, q in enumerate(labelled):
            labels = [float(r.label) for r in q.rollouts]
            await asyncio.gather(*(svc.observe(s, y, 8) for s, y in zip(_samples(q, f"g{i}"), labels)))

    asyncio.run(run())
    svc._refit_executor.shutdown(wait=True)
    stats = svc.stats()
    assert stats["grown_groups"] == 2 and stats["refits"] == 1 and stats["memory_queries"] == before + 2
    grown = svc.predictor.memory
    assert f"{labelled[0].query_id}#grow1" in grown.labelled_ids
    assert (grown.labels[-8:] == np.array([r.label for r in labelled[1].rollouts])).all()
    resumed = load_service(artifact_dir, RewardRule(), cfg)
    assert resumed.predictor.memory.num_queries == before + 2
    assert json.loads((state / "labelled_ids.json").read_text()) == grown.labelled_ids
