"""grow_memory through the real manager: verified labelled groups reach the worker's memory and state."""

from __future__ import annotations

import asyncio
import json
import time

import ray

from memreward_verl.integration.testing import compose_verl_config, make_batch, queries_to_specs


def test_labelled_groups_grow_the_memory(ray_cluster, tokenizer_dir, tokenizer, artifact_dir, arith_queries, tmp_path):
    """Rollouts of a labelled prompt get verifier rewards and join the memory; the state is saved."""
    from memreward_verl.integration.manager import MemRewardManager

    state = tmp_path / "state"
    opts = {"artifact_dir": artifact_dir, "worker_name": "mw_grow", "group_size": 8, "grow_memory": True,
            "state_dir": str(state)}  # fmt: skip
    manager = MemRewardManager(config=compose_verl_config(tokenizer_dir, opts), tokenizer=tokenizer)
    try:
        before = ray.get(manager.worker.handle.stats.remote())["memory_queries"]
        batches = [make_batch([s], tokenizer) for s in queries_to_specs(arith_queries[3:4])]

        async def go():
            return await asyncio.gather(*(manager.run_single(b) for b in batches))

        out = asyncio.run(go())
        assert {o["reward_extra_info"]["reward_source"] for o in out} == {"ground_truth"}
        deadline = time.time() + 60
        while time.time() < deadline:
            stats = ray.get(manager.worker.handle.stats.remote())
            if stats.get("grown_groups", 0) == 1:
                break
            time.sleep(0.5)
        assert stats["grown_groups"] == 1 and stats["memory_queries"] == before + 1
        qid = arith_queries[3].query_id
        assert f"{qid}#1" in json.loads((state / "labelled_ids.json").read_text())
        joins = json.loads((state / "metrics.json").read_text())["joins"]
        assert [(r["memory_id"], r["query_id"], r["kind"]) for r in joins] == [(f"{qid}#1", qid, "grow")]
    finally:
        ray.kill(manager.worker.handle, no_restart=True)
