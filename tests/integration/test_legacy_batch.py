"""The batch reward-manager API (verl 0.5.0 - 0.7.0) through the legacy classes verl 0.9 still ships.

``verl.workers.reward_manager`` yields ``MemRewardBatchManager`` under ``memreward``; it is built with
the legacy loader's keyword arguments and called on real ``DataProto`` batches, scored by the real
memory worker (local Ray, a small real artifact). No mocks.

Validation is what the batch API's trainers mark (``meta_info["validate"]``) or a data source in
``val_data_sources`` (``gsm8k_val`` here), never a row's ``extra_info.split``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import ray

from memreward_verl.artifact import load_artifact
from memreward_verl.config import MemRewardConfig
from memreward_verl.features import GROUP_FEATURES
from memreward_verl.groups import encode_groups
from memreward_verl.integration.testing import make_batch, queries_to_specs
from memreward_verl.reward import EXTRA_KEYS
from memreward_verl.testing import arithmetic_rollouts
from memreward_verl.verify import verify

LABELLED = 20  # as in conftest.py
VAL_SOURCE = "gsm8k_val"  # a data source only validation uses
# The options of the shared "mw_legacy" worker: every manager asking for it must give the same ones.
KWARGS = {
    "worker_name": "mw_legacy",
    "group_timeout_s": 600.0,
    "hard_rule": "threshold",
    "val_data_sources": [VAL_SOURCE],
}


def _legacy_manager(tokenizer, **reward_kwargs):
    """What verl's batch-API loader does: look the name up in the registry, pass reward_kwargs as keywords."""
    from verl.utils.reward_score import default_compute_score
    from verl.workers.reward_manager import get_reward_manager_cls

    import memreward_verl.integration.legacy  # noqa: F401  (registers "memreward")

    cls = get_reward_manager_cls("memreward")
    return cls(
        tokenizer=tokenizer,
        num_examine=0,
        compute_score=default_compute_score,
        reward_fn_key="data_source",
        **reward_kwargs,
    )


def _rewards(out):
    return out["reward_tensor"].sum(-1).numpy()


@pytest.fixture(scope="module")
def legacy(ray_cluster, artifact_dir, tokenizer):
    manager = _legacy_manager(tokenizer, artifact_dir=artifact_dir, **KWARGS)
    yield manager
    ray.kill(ray.get_actor("mw_legacy"), no_restart=True)


@pytest.fixture(scope="module")
def scored(legacy, tokenizer, arith_queries, online_queries):
    labelled = list(arith_queries[:2])
    validation = arithmetic_rollouts(n_queries=1, n_rollouts=8, seed=12)
    specs = (
        queries_to_specs(labelled)
        + queries_to_specs(online_queries)
        + queries_to_specs(validation, data_source=VAL_SOURCE, split="test")
    )
    specs = [specs[i] for i in np.random.default_rng(0).permutation(len(specs))]
    batch = make_batch(specs, tokenizer)
    start = time.monotonic()
    out = legacy(batch, return_dict=True)
    return specs, batch, out, time.monotonic() - start


def test_registry_yields_the_batch_manager(legacy):
    """verl's own legacy registry resolves ``memreward`` to a subclass of its AbstractRewardManager."""
    from verl.workers.reward_manager import get_reward_manager_cls
    from verl.workers.reward_manager.abstract import AbstractRewardManager

    from memreward_verl.integration.legacy import MemRewardBatchManager

    assert get_reward_manager_cls("memreward") is MemRewardBatchManager
    assert isinstance(legacy, AbstractRewardManager)


def test_whole_groups_need_no_barrier(scored):
    """Each uid's rollouts are all in the batch: groups close at once, far inside group_timeout_s=600."""
    _, _, _, seconds = scored
    stats = ray.get(ray.get_actor("mw_legacy").stats.remote())
    assert stats["predict_groups_complete"] == 3 and stats.get("predict_groups_timed_out", 0) == 0
    assert seconds < 120


def test_verifier_for_labelled_and_validation(scored):
    """Labelled prompts and val_data_sources samples get exactly the verifier's score, at the last valid token."""
    specs, batch, out, _ = scored
    src, rewards = out["reward_extra_info"]["reward_source"], _rewards(out)
    checked = 0
    for i, s in enumerate(specs):
        qid = s["extra_info"]["query_id"]
        if s["data_source"] == VAL_SOURCE:
            assert src[i] == "validation"
        elif qid.startswith("arith-0") and int(qid.split("-")[-1]) < LABELLED:
            assert src[i] == "ground_truth"
        else:
            continue
        checked += 1
        assert rewards[i] == verify("openai/gsm8k", s["response"], s["ground_truth"])
    assert checked == 24
    last = batch.batch["attention_mask"][:, batch.batch["prompts"].shape[1] :].sum(-1) - 1
    nonzero = out["reward_tensor"].nonzero()
    assert all(int(col) == int(last[row]) for row, col in nonzero)


def test_unlabelled_match_offline_predictor(scored, artifact_dir, embedder, online_queries):
    """Unlabelled prompts get the offline predictor's probabilities, thresholded; ground truth is only logged."""
    specs, _, out, _ = scored
    art = load_artifact(artifact_dir)
    offline = art.predictor().predict_groups(encode_groups(list(online_queries), embedder, art.cfg))
    expected = dict(zip([(q.query_id, r.text) for q in online_queries for r in q.rollouts], offline))
    info, rewards = out["reward_extra_info"], _rewards(out)
    n = 0
    for i, s in enumerate(specs):
        if not s["extra_info"]["query_id"].startswith("arith-11"):
            continue
        n += 1
        assert info["reward_source"][i] == "predicted"
        assert info["pred_prob"][i] == pytest.approx(expected[(s["extra_info"]["query_id"], s["response"])], abs=1e-5)
        assert rewards[i] == float(info["pred_prob"][i] >= 0.5)
        assert info["hidden_gt"][i] == verify("openai/gsm8k", s["response"], s["ground_truth"])
    assert n == 24


def test_unlabelled_reward_ignores_ground_truth(legacy, tokenizer, online_queries):
    """Flipping an unlabelled prompt's ground truth changes hidden_gt, never the reward."""
    specs = queries_to_specs(online_queries[:1])
    wrong = [dict(s, ground_truth="-123456") for s in specs]
    for s, w in zip(specs, wrong):
        w["uid"] = s["uid"] + "-wrong"
    a = legacy(make_batch(specs, tokenizer), return_dict=True)
    b = legacy(make_batch(wrong, tokenizer), return_dict=True)
    assert np.array_equal(_rewards(a), _rewards(b))
    assert all(x == 0.0 for x in b["reward_extra_info"]["hidden_gt"])
    assert a["reward_extra_info"]["hidden_gt"] != b["reward_extra_info"]["hidden_gt"]


def test_validation_batch_gets_the_verifier(legacy, tokenizer, online_queries):
    """verl's _validate marks its batch meta_info["validate"]: even train-split unlabelled prompts get the verifier."""
    specs = queries_to_specs(online_queries[:1])
    out = legacy(make_batch(specs, tokenizer, meta_info={"validate": True}), return_dict=True)
    assert set(out["reward_extra_info"]["reward_source"]) == {"validation"}
    assert list(_rewards(out)) == [verify("openai/gsm8k", s["response"], s["ground_truth"]) for s in specs]


def test_test_split_row_without_validate_flag_is_predicted(legacy, tokenizer):
    """A training batch (no validate flag) whose rows say extra_info.split='test' (a test set used for training,
    as TTRL-style runs do): an unlabelled prompt gets the memory's prediction, never its ground truth."""
    queries = arithmetic_rollouts(n_queries=1, n_rollouts=8, seed=12)  # unlabelled: not in the artifact
    specs = queries_to_specs(queries, split="test")
    wrong = [dict(s, uid=s["uid"] + "-wrong", ground_truth="-123456") for s in specs]  # a fresh group
    a = legacy(make_batch(specs, tokenizer), return_dict=True)
    b = legacy(make_batch(wrong, tokenizer), return_dict=True)
    for out in (a, b):
        info = out["reward_extra_info"]
        assert set(info["reward_source"]) == {"predicted"}
        assert list(_rewards(out)) == [float(p >= 0.5) for p in info["pred_prob"]]
    assert np.array_equal(_rewards(a), _rewards(b))  # the ground truth moves hidden_gt only
    truth = [verify("openai/gsm8k", s["response"], s["ground_truth"]) for s in specs]
    assert a["reward_extra_info"]["hidden_gt"] == truth and set(b["reward_extra_info"]["hidden_gt"]) == {0.0}
    assert 0.0 in truth and 1.0 in truth  # the truth was there to leak


def test_async_reward_in_a_ray_task(legacy, tokenizer, online_queries, artifact_dir):
    """reward_model.launch_reward_fn_async: verl 0.5 ships the manager to a Ray task, 0.6/0.7.0 build one there.

    Both shapes score through the same named memory worker and match the manager called in place.
    """

    def shipped(manager, batch):  # verl 0.5: compute_reward_async.remote(data=batch, reward_fn=self.reward_fn)
        return manager(batch, return_dict=True)

    def built(tokenizer, kwargs, batch):  # verl 0.6/0.7.0: the task loads the manager from the config
        from verl.workers.reward_manager import get_reward_manager_cls

        import memreward_verl.integration.legacy  # noqa: F401  (what the set-up hook or importlib does there)

        manager = get_reward_manager_cls("memreward")(tokenizer=tokenizer, num_examine=0, **kwargs)
        return manager(batch, return_dict=True)

    specs = queries_to_specs(online_queries[1:2])
    here = _rewards(legacy(make_batch(specs, tokenizer), return_dict=True))
    kwargs = {"artifact_dir": artifact_dir, **KWARGS}
    for uid_suffix in ("-shipped", "-built"):
        batch = make_batch([dict(s, uid=s["uid"] + uid_suffix) for s in specs], tokenizer)  # a fresh group
        if uid_suffix == "-shipped":
            out = ray.get(ray.remote(shipped).remote(legacy, batch))
        else:
            out = ray.get(ray.remote(built).remote(tokenizer, kwargs, batch))
        assert set(out["reward_extra_info"]["reward_source"]) == {"predicted"}
        assert np.array_equal(_rewards(out), here)


def test_extra_info_keys_and_tensor_mode(legacy, scored, tokenizer, online_queries):
    """reward_extra_info holds the reward loop's fixed keys, one value per sample; return_dict=False a tensor."""
    specs, _, out, _ = scored
    assert set(out["reward_extra_info"]) == set(EXTRA_KEYS)
    assert all(len(v) == len(specs) for v in out["reward_extra_info"].values())
    tensor = legacy(make_batch(queries_to_specs(online_queries[:1]), tokenizer))
    assert tensor.shape[0] == 8 and tensor.dtype.is_floating_point


def test_bad_input_is_named(legacy, tokenizer, online_queries, artifact_dir):
    """A sample without uid, an unknown, bad or removed option, a worker name taken by other options and a wrong
    reward_fn_key each raise naming what to fix (the batch API's config key)."""
    specs = [{k: v for k, v in s.items() if k != "uid"} for s in queries_to_specs(online_queries[:1])]
    with pytest.raises(ValueError, match="uid"):
        legacy(make_batch(specs, tokenizer))
    with pytest.raises(ValueError, match=r"reward_model\.reward_kwargs.*threshhold"):
        _legacy_manager(tokenizer, artifact_dir=artifact_dir, threshhold=0.5)
    with pytest.raises(ValueError, match=r"reward_model\.reward_kwargs\.threshold"):
        _legacy_manager(tokenizer, artifact_dir=artifact_dir, threshold=1.5)
    with pytest.raises(ValueError, match=r"reward_model\.reward_kwargs\.val_splits was removed.*val_data_sources"):
        _legacy_manager(tokenizer, artifact_dir=artifact_dir, val_splits=["test"])
    with pytest.raises(ValueError, match=r"mw_legacy.*other options.*reward_model\.reward_kwargs\.worker_name"):
        _legacy_manager(tokenizer, artifact_dir=artifact_dir, **dict(KWARGS, on_timeout="neutral"))
    from memreward_verl.integration.legacy import MemRewardBatchManager

    with pytest.raises(ValueError, match="data.reward_fn_key"):
        MemRewardBatchManager(tokenizer, reward_fn_key="source", artifact_dir=artifact_dir)


def test_majority_vote_mode(ray_cluster, tokenizer, online_queries, embedder, tmp_path):
    """reward_mode=majority_vote: file-labelled prompts get the verifier, the others the offline vote; reward_log."""
    labelled = tmp_path / "labelled.json"
    labelled.write_text(json.dumps({"query_ids": [online_queries[0].query_id]}))
    log = tmp_path / "rewards.jsonl"
    manager = _legacy_manager(
        tokenizer,
        reward_mode="majority_vote",
        labelled_ids_file=str(labelled),
        worker_name="mw_legacy_vote",
        reward_log=str(log),
    )
    try:
        specs = queries_to_specs(online_queries)
        specs = [specs[i] for i in np.random.default_rng(5).permutation(len(specs))]
        out = manager(make_batch(specs, tokenizer), return_dict=True)
    finally:
        ray.kill(ray.get_actor("mw_legacy_vote"), no_restart=True)
    voted = list(online_queries[1:])
    feats = encode_groups(voted, embedder, MemRewardConfig()).feats
    pairs = [(q.query_id, r.text) for q in voted for r in q.rollouts]
    plurality = dict(zip(pairs, feats[:, GROUP_FEATURES.index("is_plurality")]))
    rewards, src = _rewards(out), out["reward_extra_info"]["reward_source"]
    for i, s in enumerate(specs):
        truth = verify("openai/gsm8k", s["response"], s["ground_truth"])
        if s["extra_info"]["query_id"] == online_queries[0].query_id:
            assert src[i] == "ground_truth" and rewards[i] == truth
        else:
            assert src[i] == "predicted" and rewards[i] == plurality[(s["extra_info"]["query_id"], s["response"])]
            assert out["reward_extra_info"]["hidden_gt"][i] == truth
    records = [json.loads(line) for line in log.read_text().splitlines()]  # written before the batch returned
    assert [r["reward"] for r in records] == list(rewards)
    assert [r["reward_source"] for r in records] == list(src)
    assert {r["reward_mode"] for r in records} == {"majority_vote"}


def test_acquisition_buys_whole_groups(ray_cluster, artifact_dir, tokenizer, tmp_path):
    """acquisition with budget 1.0: every unlabelled group is bought and gets the verifier's rewards."""
    queries = arithmetic_rollouts(n_queries=2, n_rollouts=8, seed=31)
    manager = _legacy_manager(
        tokenizer,
        artifact_dir=artifact_dir,
        worker_name="mw_legacy_acq",
        acquisition="random",
        budget=1.0,
        acquisition_min_window=1,
        state_dir=str(tmp_path / "state"),
    )
    try:
        specs = queries_to_specs(queries)
        out = manager(make_batch(specs, tokenizer), return_dict=True)
    finally:
        ray.kill(ray.get_actor("mw_legacy_acq"), no_restart=True)
    info = out["reward_extra_info"]
    assert set(info["reward_source"]) == {"acquired"}
    assert list(_rewards(out)) == [verify("openai/gsm8k", s["response"], s["ground_truth"]) for s in specs]
    assert all(b == 1.0 for b in info["acq_bought"])


def test_same_reward_as_the_reward_loop_manager(legacy, tokenizer, tokenizer_dir, arith_queries, online_queries):
    """On one batch, the batch adapter and MemRewardManager.run_single give the same reward and extra info."""
    import asyncio

    from memreward_verl.integration.manager import MemRewardManager
    from memreward_verl.integration.testing import compose_verl_config

    kwargs = {"artifact_dir": legacy.opts.artifact_dir, **KWARGS}
    cfg = compose_verl_config(tokenizer_dir, kwargs, ["actor_rollout_ref.rollout.n=8"])
    loop_manager = MemRewardManager(config=cfg, tokenizer=tokenizer, compute_score=None)
    validation = arithmetic_rollouts(n_queries=1, n_rollouts=8, seed=12)
    base = queries_to_specs(arith_queries[:1]) + queries_to_specs(online_queries[2:])
    base += queries_to_specs(validation, data_source=VAL_SOURCE)

    def fresh(tag):  # new uids per path: the shared worker decides each uid once
        return make_batch([dict(s, uid=s["uid"] + tag) for s in base], tokenizer)

    batch_out = legacy(fresh("-batch"), return_dict=True)
    rows = fresh("-loop")

    async def per_sample():
        return await asyncio.gather(*(loop_manager.run_single(rows[i : i + 1]) for i in range(len(rows))))

    loop_out = asyncio.run(per_sample())
    assert list(_rewards(batch_out)) == [r["reward_score"] for r in loop_out]
    for key in EXTRA_KEYS:
        ours = batch_out["reward_extra_info"][key]
        theirs = [r["reward_extra_info"][key] for r in loop_out]
        same = [a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b)) for a, b in zip(ours, theirs)]
        assert all(same), key


def test_grow_memory_from_a_batch(ray_cluster, artifact_dir, tokenizer, arith_queries, tmp_path):
    """grow_memory: a labelled group of the batch joins the worker's memory with the group size the batch had."""
    manager = _legacy_manager(
        tokenizer, artifact_dir=artifact_dir, worker_name="mw_legacy_grow", grow_memory=True, state_dir=str(tmp_path)
    )
    try:
        before = ray.get(manager.worker.handle.stats.remote())["memory_queries"]
        specs = queries_to_specs(arith_queries[3:4])[:6]  # 6 of the 8 rollouts: the batch decides the size
        out = manager(make_batch(specs, tokenizer), return_dict=True)
        assert set(out["reward_extra_info"]["reward_source"]) == {"ground_truth"}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # growing runs after the rewards were returned
            stats = ray.get(manager.worker.handle.stats.remote())
            if stats.get("grown_groups", 0) == 1:
                break
            time.sleep(0.5)
        assert stats["grown_groups"] == 1 and stats["memory_queries"] == before + 1
        assert stats.get("grow_groups_timed_out", 0) == 0
    finally:
        ray.kill(ray.get_actor("mw_legacy_grow"), no_restart=True)


def test_bad_artifact_fails_at_startup_root_cause_first(ray_cluster, tokenizer, tmp_path):
    """A worker that cannot load its artifact stops the batch manager at start-up with the root cause first, in
    one line (as MemRewardManager does), not Ray's actor-died traceback."""
    missing = str(tmp_path / "no_artifact")
    with pytest.raises(RuntimeError) as info:
        _legacy_manager(tokenizer, artifact_dir=missing, worker_name="mw_legacy_bad", worker_max_restarts=0)
    msg = str(info.value)
    assert msg.startswith(f"memreward worker 'mw_legacy_bad' failed to start from artifact_dir={missing!r}: "), msg
    assert "Error: " in msg and "\n" not in msg and "Traceback" not in msg and "actor died" not in msg
