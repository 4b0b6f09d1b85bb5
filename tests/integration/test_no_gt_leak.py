"""No ground truth of an unlabelled training prompt reaches training (issue 13), on verl's real reward loop.

Two channels are closed: validation is what verl marks (``meta_info["validate"]``) or a data source
configured in ``val_data_sources``, never a training row's ``extra_info.split``; and ``acc``, the key
verl's group filter (``algorithm.filter_groups.metric=acc``) reads, is the reward given, while the
verifier's hidden verdict sits under ``hidden_gt``. The filter is verl's own ``ReplayBuffer`` over
TransferQueue, fed with the manager's output as verl's agent loop stores it.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import ray
import torch

from memreward_verl.integration.testing import compose_verl_config, make_batch
from memreward_verl.verify import verify

WORKER = "mw_leak"
VAL_SOURCE = "gsm8k_val"  # the gsm prefix picks the math verifier
QUESTION = "A shop starts with 8 items. Compute 8 minus 2. What is the result?"
VAL_ONLY = "A box starts with 8 items. Compute 8 minus 2. What is the result?"  # only in data.val_files
IN_BOTH = "A bag starts with 8 items. Compute 8 minus 2. What is the result?"  # in both files: training
N = 4


def _response(answer: int) -> str:
    return f"Working it out: start from 8, apply minus 2. The result is {answer}.\n#### {answer}"


def _group(uid, answers, truth, data_source="openai/gsm8k", split="train", question=QUESTION):
    extra = {"split": split, "index": 0, "query_id": f"leak-{uid}"}
    return [
        {"question": question, "response": _response(a), "uid": uid, "data_source": data_source,
         "ground_truth": str(truth), "extra_info": dict(extra)}
        for a in answers
    ]  # fmt: skip


def _parquet(path, questions):
    rows = [
        {"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": q}], "ability": "math",
         "reward_model": {"style": "rule", "ground_truth": "6"}, "extra_info": {"split": "test", "index": i}}
        for i, q in enumerate(questions)
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def loop(ray_cluster, tokenizer_dir, tmp_path_factory):
    from verl.experimental.reward_loop import RewardLoopManager

    data = tmp_path_factory.mktemp("leak_data")
    files = [
        f"data.train_files={_parquet(data / 'train.parquet', [QUESTION, IN_BOTH])}",
        f"data.val_files={_parquet(data / 'val.parquet', [VAL_ONLY, IN_BOTH])}",
    ]
    kwargs = {"reward_mode": "majority_vote", "worker_name": WORKER, "val_data_sources": [VAL_SOURCE]}
    overrides = [f"actor_rollout_ref.rollout.n={N}", "reward.num_workers=2", *files]
    cfg = compose_verl_config(tokenizer_dir, kwargs, overrides)
    manager = RewardLoopManager(cfg)
    yield manager
    for w in manager.reward_loop_workers:
        ray.kill(w)


def test_a_training_row_marked_test_gets_no_ground_truth(loop, tokenizer):
    """A training parquet built from a test set (extra_info.split='test', as TTRL-style runs do) is still
    unlabelled training data: its rollouts are voted on, never given the verifier's verdict."""
    specs = _group("split-test", [6, 5, 5, 7], truth=6, split="test")
    out = loop.compute_rm_score(make_batch(specs, tokenizer))
    assert list(out.non_tensor_batch["reward_source"]) == ["predicted"] * N
    rewards = out.batch["rm_scores"].sum(-1).numpy().tolist()
    assert rewards == [0.0, 1.0, 1.0, 0.0]  # the vote (5), not the truth (6)
    assert out.non_tensor_batch["acc"].tolist() == rewards
    assert out.non_tensor_batch["hidden_gt"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_validation_is_what_verl_marks_or_a_configured_source(loop, tokenizer):
    """verl's validation batches (meta_info validate=True) and val_data_sources get the verifier."""
    marked = _group("marked", [6, 5, 5, 7], truth=6)
    out = loop.compute_rm_score(make_batch(marked, tokenizer, meta_info={"validate": True}))
    assert list(out.non_tensor_batch["reward_source"]) == ["validation"] * N
    assert out.batch["rm_scores"].sum(-1).numpy().tolist() == [1.0, 0.0, 0.0, 0.0]
    by_source = _group("by-source", [6, 5, 5, 7], truth=6, data_source=VAL_SOURCE)
    out = loop.compute_rm_score(make_batch(by_source, tokenizer))
    assert list(out.non_tensor_batch["reward_source"]) == ["validation"] * N
    expected = [verify(VAL_SOURCE, s["response"], s["ground_truth"]) for s in by_source]
    assert out.batch["rm_scores"].sum(-1).numpy().tolist() == expected == [1.0, 0.0, 0.0, 0.0]


def test_validation_prompts_are_those_only_in_the_val_files(loop, tokenizer):
    """verl's streamed samples carry no validate flag: a prompt of data.val_files that training never uses
    is validation; one in both files (a test set trained on) is training and is voted on."""
    val_only = _group("val-only", [6, 5, 5, 7], truth=6, question=VAL_ONLY)
    both = _group("both", [6, 5, 5, 7], truth=6, question=IN_BOTH)
    out = loop.compute_rm_score(make_batch(val_only + both, tokenizer))
    assert list(out.non_tensor_batch["reward_source"]) == ["validation"] * N + ["predicted"] * N
    assert out.batch["rm_scores"].sum(-1).numpy().tolist() == [1.0, 0.0, 0.0, 0.0] + [0.0, 1.0, 1.0, 0.0]


@pytest.fixture(scope="module")
def transfer_queue(ray_cluster):
    tq = pytest.importorskip("transfer_queue")
    from omegaconf import OmegaConf

    conf = OmegaConf.load(os.path.join(os.path.dirname(tq.__file__), "config.yaml"))
    conf.backend.SimpleStorage.num_data_storage_units = 1
    tq.init(conf)
    yield tq
    tq.close()


def _verl_filter(tq, out, specs, metric: str) -> set[str]:
    """The uids verl's ReplayBuffer drops with ``algorithm.filter_groups.metric=<metric>``: stored as verl's
    agent loop stores finished trajectories (``extra_fields.reward_extra_info``), one partition per metric."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    partition = f"train_{metric}"
    uids = sorted({s["uid"] for s in specs})
    tq.kv_batch_put(keys=uids, partition_id=partition, tags=[{"is_prompt": True, "status": "finished",
                                                              "global_steps": 1}] * len(uids))  # fmt: skip
    keys, fields, session = [], [], {}
    for i, s in enumerate(specs):
        sid = session[s["uid"]] = session.get(s["uid"], -1) + 1
        keys.append(f"{s['uid']}_{sid}_0")
        info = {k: out.non_tensor_batch[k][i] for k in out.meta_info["reward_extra_keys"]}
        fields.append({"responses": torch.zeros(2, dtype=torch.long), "extra_fields": {"reward_extra_info": info}})
    tags = [{"status": "success", "global_steps": 1}] * len(keys)
    tq.kv_batch_put(keys=keys, fields=list_of_dict_to_tensordict(fields), tags=tags, partition_id=partition)
    buffer = ReplayBuffer(
        trainer_mode="sync",
        trainer_config=OmegaConf.create({}),
        max_off_policy_threshold=None,
        max_off_policy_strategy="drop",
        sampler_kwargs=OmegaConf.create({}),
        refill_fn=lambda *args, **kwargs: None,
        filter_groups_metric=metric,
        gen_batch_size=1,
    )
    buffer._sync_metadata_from_transfer_queue()
    dropped, _ = buffer._dapo_filtered_keys(partition)
    return dropped


def test_verl_group_filter_on_acc_never_sees_ground_truth(loop, tokenizer, transfer_queue):
    """verl's filter_groups(metric=acc) over the manager's output keeps and drops groups by the reward given.

    ``tie``: four different answers, one right: the vote gives all 1 (zero advantage), the truth varies.
    ``wrong``: a 3-1 vote on two wrong answers: the rewards vary, the truth is 0 for all. A filter that read
    the hidden verdict would keep ``tie`` and drop ``wrong``; on acc, verl drops exactly ``tie``.
    """
    specs = _group("tie", [5, 6, 7, 8], truth=6) + _group("wrong", [5, 5, 5, 7], truth=9)
    out = loop.compute_rm_score(make_batch(specs, tokenizer))
    assert set(out.non_tensor_batch["reward_source"]) == {"predicted"}
    rewards = out.batch["rm_scores"].sum(-1).numpy()
    assert np.array_equal(out.non_tensor_batch["acc"].astype(float), rewards)
    assert _verl_filter(transfer_queue, out, specs, "acc") == {"tie"}
    # the same filter on the ground-truth-derived key would have chosen the other group: the test can fail
    assert _verl_filter(transfer_queue, out, specs, "hidden_gt") == {"wrong"}
