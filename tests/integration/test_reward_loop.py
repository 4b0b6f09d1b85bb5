"""verl's real RewardLoopManager (2 reward workers, local Ray) driving MemRewardManager end to end."""

from __future__ import annotations

import numpy as np
import pytest
import ray

from memreward_verl.artifact import load_artifact
from memreward_verl.groups import encode_groups
from memreward_verl.integration.testing import compose_verl_config, make_batch, queries_to_specs
from memreward_verl.reward import EXTRA_KEYS
from memreward_verl.testing import arithmetic_rollouts
from memreward_verl.verify import verify

WORKER = "mw_loop"
LABELLED = 20  # as in conftest.py


@pytest.fixture(scope="module")
def loop_manager(ray_cluster, artifact_dir, tokenizer_dir):
    from verl.experimental.reward_loop import RewardLoopManager

    kwargs = {"artifact_dir": artifact_dir, "worker_name": WORKER, "reward_mode": "hard", "hard_rule": "threshold",
              "val_data_sources": ["gsm8k_val"]}  # fmt: skip
    cfg = compose_verl_config(tokenizer_dir, kwargs, ["actor_rollout_ref.rollout.n=8", "reward.num_workers=2"])
    manager = RewardLoopManager(cfg)
    yield manager
    for w in manager.reward_loop_workers:
        ray.kill(w)


@pytest.fixture(scope="module")
def scored(loop_manager, tokenizer, arith_queries, online_queries):
    labelled = list(arith_queries[:2])
    validation = arithmetic_rollouts(n_queries=1, n_rollouts=8, seed=12)
    specs = (
        queries_to_specs(labelled)
        + queries_to_specs(online_queries)
        + queries_to_specs(validation, data_source="gsm8k_val")
    )
    order = np.random.default_rng(0).permutation(len(specs))
    specs = [specs[i] for i in order]
    out = loop_manager.compute_rm_score(make_batch(specs, tokenizer))
    return specs, out


def _rewards(out):
    return out.batch["rm_scores"].sum(-1).numpy()


def test_one_worker_serves_all_reward_workers(scored):
    """Exactly one named memory worker exists, and uids split over both reward workers were scored together."""
    specs, _ = scored
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)]
    assert names.count(WORKER) == 1
    half = len(specs) // 2  # RewardLoopManager gives each worker one contiguous chunk
    split_uids = {s["uid"] for s in specs[:half]} & {s["uid"] for s in specs[half:]}
    assert split_uids, "the test batch should spread some uid over both workers"
    stats = ray.get(ray.get_actor(WORKER).stats.remote())
    assert stats["predict_groups_complete"] == 3 and stats.get("predict_groups_timed_out", 0) == 0


def test_labelled_and_validation_get_verifier(scored):
    """Labelled prompts and validation samples get exactly the verifier's score."""
    specs, out = scored
    src = out.non_tensor_batch["reward_source"]
    rewards = _rewards(out)
    for i, s in enumerate(specs):
        if s["data_source"] == "gsm8k_val":
            assert src[i] == "validation"
        elif int(s["extra_info"]["query_id"].split("-")[-1]) < LABELLED and s["extra_info"]["query_id"].startswith(
            "arith-0"
        ):
            assert src[i] == "ground_truth"
        else:
            continue
        assert rewards[i] == verify("openai/gsm8k", s["response"], s["ground_truth"])


def test_unlabelled_match_offline_predictor(scored, artifact_dir, embedder, online_queries):
    """Unlabelled prompts get the offline predictor's probabilities, thresholded; never their ground truth."""
    specs, out = scored
    art = load_artifact(artifact_dir)
    offline = art.predictor().predict_groups(encode_groups(list(online_queries), embedder, art.cfg))
    pairs = [(q.query_id, r.text) for q in online_queries for r in q.rollouts]
    expected = dict(zip(pairs, offline))
    src, prob, rewards = out.non_tensor_batch["reward_source"], out.non_tensor_batch["pred_prob"], _rewards(out)
    n = 0
    for i, s in enumerate(specs):
        if s["extra_info"]["query_id"].startswith("arith-11"):
            n += 1
            assert src[i] == "predicted"
            assert prob[i] == pytest.approx(expected[(s["extra_info"]["query_id"], s["response"])], abs=1e-5)
            assert rewards[i] == float(prob[i] >= 0.5)
            hidden = verify("openai/gsm8k", s["response"], s["ground_truth"])
            assert out.non_tensor_batch["hidden_gt"][i] == hidden  # logged only
    assert n == 24


def test_extra_info_keys(scored):
    """Every sample carries the same reward_extra_info keys (verl stacks them per key)."""
    _, out = scored
    assert set(EXTRA_KEYS) <= set(out.meta_info["reward_extra_keys"])
    assert np.isnan(out.non_tensor_batch["pred_prob"][out.non_tensor_batch["reward_source"] != "predicted"]).all()


def test_real_rollouts_from_shared_data(loop_manager, tokenizer, artifact_dir, embedder, shared_data):
    """Real GSM8K rollouts (Faithful-CoT, 8 models/prompts per question) through the loop match offline."""
    from memreward_verl.convert import convert
    from memreward_verl.rollouts import Query

    raw = convert("faithful_cot", shared_data / "rollouts" / "faithful_cot" / "GSM8K")[:2]
    queries = [Query(q.query_id, q.domain, "openai/gsm8k", q.question, q.ground_truth, q.rollouts[:8]) for q in raw]
    specs = queries_to_specs(queries)
    specs = [specs[i] for i in np.random.default_rng(1).permutation(len(specs))]
    out = loop_manager.compute_rm_score(make_batch(specs, tokenizer))
    art = load_artifact(artifact_dir)
    offline = art.predictor().predict_groups(encode_groups(queries, embedder, art.cfg))
    expected = dict(zip([(q.query_id, r.text) for q in queries for r in q.rollouts], offline))
    got = out.non_tensor_batch["pred_prob"]
    assert list(out.non_tensor_batch["reward_source"]) == ["predicted"] * 16
    for i, s in enumerate(specs):
        assert got[i] == pytest.approx(expected[(s["extra_info"]["query_id"], s["response"])], abs=1e-5)
