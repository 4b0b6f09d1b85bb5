"""reward_mode=majority_vote on verl's real RewardLoopManager and on MemRewardManager, local Ray, no mocks.

TTRL-style pseudo-labels need no artifact: the shared worker still collects each uid's rollouts,
and a rollout gets 1 when its normalised answer is the group's plurality answer. Labelled prompts
(from a labelled-ids file, or from an artifact when one is given) and validation keep the verifier.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import ray

from memreward_verl.config import MemRewardConfig
from memreward_verl.features import GROUP_FEATURES
from memreward_verl.groups import encode_groups
from memreward_verl.integration.testing import compose_verl_config, make_batch, queries_to_specs
from memreward_verl.reward import EXTRA_KEYS
from memreward_verl.testing import arithmetic_rollouts
from memreward_verl.verify import verify

WORKER = "mw_vote"


@pytest.fixture(scope="module")
def labelled_file(online_queries, tmp_path_factory):
    path = tmp_path_factory.mktemp("vote") / "labelled_ids.json"
    path.write_text(json.dumps({"ratio": 0.34, "seed": 0, "query_ids": [online_queries[0].query_id]}))
    return str(path)


@pytest.fixture(scope="module")
def vote_loop(ray_cluster, tokenizer_dir, labelled_file):
    from verl.experimental.reward_loop import RewardLoopManager

    kwargs = {"reward_mode": "majority_vote", "labelled_ids_file": labelled_file, "worker_name": WORKER,
              "val_data_sources": ["gsm8k_val"]}  # fmt: skip
    cfg = compose_verl_config(tokenizer_dir, kwargs, ["actor_rollout_ref.rollout.n=8", "reward.num_workers=2"])
    manager = RewardLoopManager(cfg)
    yield manager
    for w in manager.reward_loop_workers:
        ray.kill(w)


def test_majority_vote_through_the_reward_loop(vote_loop, tokenizer, online_queries, embedder):
    """No artifact: file-labelled prompts and validation get the verifier, the rest the group's vote.

    The vote equals the offline majority_vote baseline (the ``is_plurality`` group feature) and
    ``pred_prob`` its answer share; ``pred_correct`` says whether the pseudo-label matched the verifier.
    """
    validation = arithmetic_rollouts(n_queries=1, n_rollouts=8, seed=12)
    specs = queries_to_specs(online_queries) + queries_to_specs(validation, data_source="gsm8k_val")
    specs = [specs[i] for i in np.random.default_rng(3).permutation(len(specs))]
    out = vote_loop.compute_rm_score(make_batch(specs, tokenizer))

    voted = list(online_queries[1:])
    feats = encode_groups(voted, embedder, MemRewardConfig()).feats
    pairs = [(q.query_id, r.text) for q in voted for r in q.rollouts]
    plurality = dict(zip(pairs, feats[:, GROUP_FEATURES.index("is_plurality")]))
    share = dict(zip(pairs, feats[:, GROUP_FEATURES.index("share")]))
    nt = out.non_tensor_batch
    rewards = out.batch["rm_scores"].sum(-1).numpy()
    assert set(EXTRA_KEYS) <= set(out.meta_info["reward_extra_keys"])
    counts = {"validation": 0, "ground_truth": 0, "predicted": 0}
    for i, s in enumerate(specs):
        truth = verify("openai/gsm8k", s["response"], s["ground_truth"])
        counts[nt["reward_source"][i]] += 1
        if s["data_source"] == "gsm8k_val":
            assert nt["reward_source"][i] == "validation" and rewards[i] == truth
        elif s["extra_info"]["query_id"] == online_queries[0].query_id:
            assert nt["reward_source"][i] == "ground_truth" and rewards[i] == truth
        else:
            key = (s["extra_info"]["query_id"], s["response"])
            assert nt["reward_source"][i] == "predicted"
            assert rewards[i] == plurality[key]
            assert nt["pred_prob"][i] == pytest.approx(share[key])
            assert nt["hidden_gt"][i] == truth  # logged, never the reward
            assert nt["pred_correct"][i] == float(rewards[i] == truth)
    assert counts == {"validation": 8, "ground_truth": 8, "predicted": 16}
    stats = ray.get(ray.get_actor(WORKER).stats.remote())
    assert stats["predict_groups_complete"] == 2 and stats.get("embedded_texts", 0) == 0


def _manager(tokenizer_dir, tokenizer, name, **kwargs):
    from memreward_verl.integration.manager import MemRewardManager

    opts = {"reward_mode": "majority_vote", "worker_name": name, "group_size": 8, **kwargs}
    return MemRewardManager(config=compose_verl_config(tokenizer_dir, opts), tokenizer=tokenizer, compute_score=None)


def test_majority_vote_with_an_artifact_keeps_its_labels(ray_cluster, tokenizer_dir, tokenizer, artifact_dir,
                                                         arith_queries, online_queries):  # fmt: skip
    """With artifact_dir, the artifact's labelled prompts keep ground truth; other prompts are voted."""
    manager = _manager(tokenizer_dir, tokenizer, "mw_vote_art", artifact_dir=artifact_dir)
    specs = queries_to_specs(arith_queries[:1]) + queries_to_specs(online_queries[2:])

    async def go():
        return await asyncio.gather(*(manager.run_single(make_batch([s], tokenizer)) for s in specs))

    out = asyncio.run(go())
    sources = [o["reward_extra_info"]["reward_source"] for o in out]
    assert sources == ["ground_truth"] * 8 + ["predicted"] * 8
    for s, o in zip(specs[:8], out[:8]):
        assert o["reward_score"] == verify("openai/gsm8k", s["response"], s["ground_truth"])
    assert {o["reward_score"] for o in out[8:]} <= {0.0, 1.0}


def test_bad_labelled_ids_file_fails_at_start(ray_cluster, tokenizer_dir, tokenizer, tmp_path):
    """A labelled-ids file without "query_ids" stops every manager at start-up, naming the option and file."""
    bad = tmp_path / "ids.json"
    bad.write_text(json.dumps(["q1"]))
    with pytest.raises(RuntimeError, match=r"(?s)labelled_ids_file=.*ids\.json.*query_ids"):
        _manager(tokenizer_dir, tokenizer, "mw_vote_bad", labelled_ids_file=str(bad), worker_max_restarts=0)


def test_majority_vote_with_acquisition_on_the_manager(ray_cluster, tokenizer_dir, tokenizer, online_queries):
    """majority_vote + acquisition=uncertainty, budget_total=1: exactly one voted group is bought and gets
    the verifier's rewards (reward_source "acquired"); the other keeps its vote."""
    manager = _manager(tokenizer_dir, tokenizer, "mw_vote_acq", acquisition="uncertainty", budget_total=1)
    specs = queries_to_specs(online_queries[1:])

    async def go():
        return await asyncio.gather(*(manager.run_single(make_batch([s], tokenizer)) for s in specs))

    out = asyncio.run(go())
    sources = [o["reward_extra_info"]["reward_source"] for o in out]
    assert sorted(set(sources)) == ["acquired", "predicted"] and sources.count("acquired") == 8
    for s, o in zip(specs, out):
        info = o["reward_extra_info"]
        if info["reward_source"] == "acquired":
            assert o["reward_score"] == verify("openai/gsm8k", s["response"], s["ground_truth"])
            assert info["acq_bought"] == 1.0
        else:
            assert info["acq_bought"] == 0.0 and o["reward_score"] in (0.0, 1.0)
    state = ray.get(ray.get_actor("mw_vote_acq").acquisition_state.remote(), timeout=120)
    assert len(state["asked"]) == 1 and state["metrics"]["acquisition/total_bought"] == 1
