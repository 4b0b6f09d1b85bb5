"""Failure behaviour of MemRewardManager on a real local Ray cluster (direct ``run_single`` calls).

Timeouts, a killed memory worker, corrupt or mismatched artifacts, malformed samples: each gives the
documented behaviour with a clear message, and no unlabelled prompt is ever given its ground truth.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil

import pytest
import ray

from memreward_verl.integration.testing import compose_verl_config, make_batch, queries_to_specs
from memreward_verl.service import GroupTimeoutError


def _manager(tokenizer_dir, tokenizer, artifact_dir, name, **kwargs):
    from memreward_verl.integration.manager import MemRewardManager

    opts = {"artifact_dir": artifact_dir, "worker_name": name, "group_size": 4, "retry_backoff_s": 0.5, **kwargs}
    cfg = compose_verl_config(tokenizer_dir, opts)
    return MemRewardManager(config=cfg, tokenizer=tokenizer, compute_score=None)


def _run(manager, batches):
    async def go():
        return await asyncio.gather(*(manager.run_single(b) for b in batches), return_exceptions=True)

    return asyncio.run(go())


def _rows(specs, tokenizer):
    return [make_batch([s], tokenizer) for s in specs]


@pytest.fixture(scope="module")
def manager(ray_cluster, tokenizer_dir, tokenizer, artifact_dir):
    m = _manager(tokenizer_dir, tokenizer, artifact_dir, "mw_faults", worker_max_restarts=2)
    yield m
    ray.kill(m.worker.handle, no_restart=True)


def test_timeout_error_reaches_caller(ray_cluster, tokenizer_dir, tokenizer, artifact_dir, online_queries):
    """on_timeout=error: the incomplete group's samples fail with a message naming the uid and counts."""
    m = _manager(tokenizer_dir, tokenizer, artifact_dir, "mw_timeout", group_timeout_s=1.0, on_timeout="error")
    try:
        specs = queries_to_specs(online_queries[:1], uids=["uid-timeout"])[:2]
        out = _run(m, _rows(specs, tokenizer))
        assert all(isinstance(o, GroupTimeoutError) for o in out), out
        assert "uid-timeout" in str(out[0]) and "2/4" in str(out[0])
    finally:
        ray.kill(m.worker.handle, no_restart=True)


def test_killed_worker_restarts_and_requests_retry(manager, tokenizer, online_queries):
    """Killing the memory worker mid-group: it restarts from the artifact, in-flight requests retry."""
    specs = [{**s, "ground_truth": None} for s in queries_to_specs(online_queries[1:2], uids=["uid-kill"])[:4]]
    first_pid = ray.get(manager.worker.handle.ping.remote())

    async def go():
        early = [asyncio.ensure_future(manager.run_single(b)) for b in _rows(specs[:2], tokenizer)]
        await asyncio.sleep(2.0)
        ray.kill(manager.worker.handle, no_restart=False)
        await asyncio.sleep(1.0)
        late = [asyncio.ensure_future(manager.run_single(b)) for b in _rows(specs[2:], tokenizer)]
        return await asyncio.gather(*early, *late)

    out = asyncio.run(go())
    assert ray.get(manager.worker.handle.ping.remote()) != first_pid
    assert [o["reward_extra_info"]["reward_source"] for o in out] == ["predicted"] * 4
    assert all(0.0 <= o["reward_extra_info"]["pred_prob"] <= 1.0 for o in out)
    assert not any(o["reward_extra_info"]["timed_out"] for o in out)


def test_malformed_samples(manager, tokenizer, online_queries, arith_queries):
    """Empty response is scored; missing uid (unlabelled) and unknown data_source fail with clear messages."""
    base = queries_to_specs(online_queries[2:3], uids=["uid-bad"])
    empty = [{**s, "response": ""} if i == 0 else s for i, s in enumerate(base[:4])]
    out = _run(manager, _rows(empty, tokenizer))
    assert out[0]["reward_extra_info"]["reward_source"] == "predicted" and out[0]["reward_score"] in (0.0, 1.0)
    no_uid = {k: v for k, v in base[4].items() if k != "uid"}
    unknown = {**base[5], "data_source": "no_such_dataset", "ability": "astrology"}
    errs = _run(manager, [make_batch([no_uid], tokenizer), make_batch([unknown], tokenizer)])
    assert isinstance(errs[0], ValueError) and "uid" in str(errs[0])
    assert isinstance(errs[1], KeyError) and "no_such_dataset" in str(errs[1]) and "abilities: " in str(errs[1])
    labelled_no_uid = {k: v for k, v in queries_to_specs(arith_queries[:1])[0].items() if k != "uid"}
    ok = _run(manager, [make_batch([labelled_no_uid], tokenizer)])[0]
    assert ok["reward_extra_info"]["reward_source"] == "ground_truth" and ok["reward_score"] == 1.0 * ok["reward_score"]


def _broken_copy(artifact_dir, tmp_path, how):
    bad = tmp_path / f"artifact_{how}"
    shutil.copytree(artifact_dir, bad)
    if how == "missing":
        (bad / "model.pt").unlink()
    elif how == "corrupt":
        (bad / "model.pt").write_bytes(b"not a checkpoint")
    elif how == "truncated":
        arrays = bad / "memory" / "arrays.npz"
        arrays.write_bytes(arrays.read_bytes()[:300])
    else:
        info = json.loads((bad / "artifact.json").read_text())
        info["model_id"] = "someone/else-embedder@256"
        (bad / "artifact.json").write_text(json.dumps(info))
    return str(bad)


@pytest.mark.parametrize(
    "how,message",
    [
        ("missing", "missing model.pt"),
        ("corrupt", r"model.pt: not a readable torch checkpoint"),
        ("embedder", "else-embedder"),
        ("truncated", r"memory/arrays.npz: not a readable .npz archive, truncated or corrupt"),
    ],
)
def test_bad_artifact_fails_at_startup(ray_cluster, tokenizer_dir, tokenizer, artifact_dir, tmp_path, how, message):
    """A missing, corrupt or truncated file or another embedder stops the manager at start-up: the root cause
    (error type, the file, what is wrong) comes first, in one line, not after Ray's actor-died traceback."""
    bad = _broken_copy(artifact_dir, tmp_path, how)
    with pytest.raises(RuntimeError) as info:
        _manager(tokenizer_dir, tokenizer, bad, f"mw_bad_{how}", worker_max_restarts=0)
    msg = str(info.value)
    head = f"memreward worker 'mw_bad_{how}' failed to start from artifact_dir={bad!r}: ArtifactError: "
    assert msg.startswith(head) and re.search(message, msg), msg
    assert "\n" not in msg and "Traceback" not in msg and "actor died" not in msg


def test_same_worker_name_other_options(manager, tokenizer_dir, tokenizer, artifact_dir):
    """A second manager asking the same worker name with other options is refused, naming the keys."""
    with pytest.raises(ValueError, match="on_timeout"):
        _manager(tokenizer_dir, tokenizer, artifact_dir, "mw_faults", worker_max_restarts=2, on_timeout="neutral")


def test_unschedulable_worker_fails_start_up_in_bounded_time(ray_cluster, tokenizer_dir, tokenizer, artifact_dir):
    """A memory worker asking for more CPUs than the cluster has: the manager's constructor fails within
    worker_start_timeout_s, naming the worker, the CPUs it asked for and the options to change."""
    import time

    name = "mw_unschedulable"
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        _manager(tokenizer_dir, tokenizer, artifact_dir, name, worker_num_cpus=64, worker_start_timeout_s=2.0)
    elapsed = time.monotonic() - start
    try:
        ray.kill(ray.get_actor(name), no_restart=True)
    except ValueError:
        pass  # already gone with its last handle
    msg = str(info.value)
    assert elapsed < 20, elapsed
    assert repr(name) in msg and "num_cpus=64" in msg
    assert "reward.reward_kwargs.worker_num_cpus" in msg and "reward.reward_kwargs.worker_start_timeout_s" in msg
    assert "of 8 CPUs free" in msg
