"""Stream 128 prompts x 8 rollouts through verl's real reward loop with MemRewardManager, on CPU.

Usage (the commands behind benchmarks/results/reward_loop.md)::

    python benchmarks/bench_reward_loop.py --spread 30 --out benchmarks/results/reward_loop_spread30.json
    python benchmarks/bench_reward_loop.py --spread 30 --embedder all-MiniLM-L6-v2:int8 \
        --out benchmarks/results/reward_loop_spread30_int8.json

Real GSM8K rollouts (Faithful-CoT, 8 configurations per question, ~200-token responses) from
``../shared/data``; a warm-up artifact on 256 other questions (20% labelled) cached in
``benchmarks/cache``. Rollouts reach random reward workers one by one at times spread uniformly
over ``--spread`` seconds, as the agent loop sends them when generation finishes. Reports the tail
latency (last arrival -> last reward), per-sample latency, CPU seconds during the stream (the
benchmark's process tree, split by role: memory worker, reward workers, their verifier pools,
driver, Ray's own processes; and machine-wide), the memory worker's embedding and scoring seconds,
the load average, and throughput.

``--embedder all-MiniLM-L6-v2:int8`` builds (and caches) the warm-up artifact with the int8
embedder instead of the float one; the worker always uses the artifact's embedder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import time
from pathlib import Path

import numpy as np

# Styles whose completion states the final answer in prose (NL+SL completions are programs whose
# answer only appears when executed, so the verifier could not read them).
CONFIGS = (
    "code001_LtM",
    "code002_LtM",
    "gpt-3.5-turbo_LtM",
    "gpt4_LtM",
    "text002_LtM",
    "text003_LtM",
    "gpt4_COT",
    "gpt-3.5-turbo_COT",
)


def _cpu_seconds() -> float:
    """Machine-wide user+system CPU seconds so far (every process: workers, pools, driver)."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    return (int(fields[0]) + int(fields[1]) + int(fields[2])) / os.sysconf("SC_CLK_TCK")


def _role(proc, me_pid: int) -> str:
    """Which part of the reward stage a process of the benchmark's tree is (Ray names its workers)."""
    if proc.pid == me_pid:
        return "driver"
    try:
        cmd = " ".join(proc.cmdline())
        parent = proc.parent()
        parent_cmd = " ".join(parent.cmdline()) if parent is not None else ""
    except Exception:
        return "other"
    if "MemoryWorker" in cmd:
        return "memory_worker"
    if "RewardLoopWorker" in cmd:
        return "reward_workers"
    if "RewardLoopWorker" in parent_cmd or "multiprocessing" in cmd:
        return "verifier_pools"
    return "ray_system"


def _tree_cpu_seconds() -> dict[str, float]:
    """CPU seconds of this process and all its descendants, by role (see :func:`_role`), and in total.

    Processes are keyed by pid, so a caller can subtract two snapshots per process.
    """
    import psutil

    out: dict[str, float] = {}
    me = psutil.Process()
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            out[f"{proc.pid}:{_role(proc, me.pid)}"] = t.user + t.system
        except psutil.Error:
            pass
    return out


def _cpu_by_role(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    roles: dict[str, float] = {}
    for key, value in after.items():
        role = key.split(":", 1)[1]
        roles[role] = roles.get(role, 0.0) + value - before.get(key, 0.0)
    return {k: round(v, 2) for k, v in sorted(roles.items())}


def _load_queries():
    from memreward_verl.convert import convert
    from memreward_verl.rollouts import Query
    from memreward_verl.testing import shared_data_dir

    data = shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data is absent")
    out = []
    for q in convert("faithful_cot", data / "rollouts" / "faithful_cot" / "GSM8K"):
        by = {r.meta.get("config"): r for r in q.rollouts}
        if all(c in by and by[c].text for c in CONFIGS):
            out.append(
                Query(q.query_id, q.domain, "openai/gsm8k", q.question, q.ground_truth, [by[c] for c in CONFIGS])
            )
    return out


def _artifact(queries, cache: Path, embedder: str | None) -> tuple[str, list[str]]:
    from memreward_verl.config import MemRewardConfig
    from memreward_verl.embed import load_embedder
    from memreward_verl.groups import encode_groups
    from memreward_verl.integration.testing import build_small_artifact

    name = "reward_loop_artifact_v2" if embedder is None else f"reward_loop_artifact_v2_{embedder.replace(':', '_')}"
    path = cache / name
    labelled = [q.query_id for q in queries[: len(queries) // 5]]
    if not (path / "artifact.json").is_file():
        t = time.time()
        cfg = MemRewardConfig()
        if embedder is not None:
            cfg.embed.model_name = embedder
        groups = encode_groups(queries, load_embedder(cfg.embed), cfg)
        build_small_artifact(groups, labelled, path, epochs=60, embed_model=embedder)
        logging.info("built the warm-up artifact in %.0fs", time.time() - t)
    return str(path), labelled


def _embed_capacity(artifact_dir: str, specs, threads: int, batch_size: int) -> float:
    """Texts per second the worker's embedder manages on this stream's texts, embedded as the worker does.

    The texts are the unique query, thinking and answer texts of 24 unlabelled prompts, embedded in
    arrival order a rollout at a time (the worker's pace when it keeps up), with the worker's
    thread count and forward batch size.
    """
    import torch

    from memreward_verl.artifact import load_artifact
    from memreward_verl.embed import load_embedder
    from memreward_verl.text import build_node_text

    torch.set_num_threads(threads)
    cfg = load_artifact(artifact_dir).cfg
    emb = load_embedder(cfg.embed)
    seen: set[str] = set()
    calls = []
    for s in specs[-24 * 8 :]:
        node = build_node_text(s["question"], s["response"], cfg.text)
        new = [
            t for t in (build_node_text(s["question"], "", cfg.text).query, node.think, node.answer) if t not in seen
        ]
        seen.update(new)
        if new:
            calls.append(new)
    emb.encode(calls[0], batch_size=batch_size)
    t = time.perf_counter()
    for texts in calls[1:]:
        emb.encode(texts, batch_size=batch_size)
    return sum(len(c) for c in calls[1:]) / (time.perf_counter() - t)


async def _stream(workers, batches, spread: float, seed: int):
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, spread) for _ in batches)
    order = list(range(len(batches)))
    rng.shuffle(order)
    t0 = time.monotonic()
    done_at = [0.0] * len(batches)
    arrived_at = [0.0] * len(batches)
    results = [None] * len(batches)

    async def one(k: int, i: int):
        await asyncio.sleep(max(0.0, t0 + arrivals[k] - time.monotonic()))
        arrived_at[i] = time.monotonic() - t0
        results[i] = await rng.choice(workers).compute_score.remote(batches[i])
        done_at[i] = time.monotonic() - t0

    await asyncio.gather(*(one(k, i) for k, i in enumerate(order)))
    return np.array(arrived_at), np.array(done_at), results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=128)
    ap.add_argument("--memory-prompts", type=int, default=256)
    ap.add_argument("--spread", type=float, default=30.0, help="seconds over which rollouts arrive")
    ap.add_argument("--reward-workers", type=int, default=2)
    ap.add_argument("--worker-cpus", type=float, default=1.0)
    ap.add_argument("--embedder", default=None, help="warm-up embedder model name (default: the float MiniLM)")
    ap.add_argument("--embed-batch-size", type=int, default=4, help="reward_kwargs.embed_batch_size")
    ap.add_argument("--no-hidden-gt", action="store_true", help="do not verify unlabelled rollouts for logging")
    ap.add_argument("--out", default="benchmarks/results/reward_loop.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import ray
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop import RewardLoopManager

    from memreward_verl.integration.testing import build_tokenizer, compose_verl_config, make_batch, queries_to_specs

    cache = Path(__file__).resolve().parent / "cache"
    queries = _load_queries()
    memory_q, online_q = queries[: args.memory_prompts], queries[-args.prompts :]
    artifact_dir, labelled = _artifact(memory_q, cache, args.embedder)
    # 20% of the streamed prompts are labelled prompts of the artifact (training prompts come back each epoch).
    n_lab = args.prompts // 5
    stream_q = memory_q[:n_lab] + online_q[: args.prompts - n_lab]
    texts = [q.question for q in queries[:600]] + [r.text for q in queries[:600] for r in q.rollouts]
    tok_dir = build_tokenizer(texts, cache / "reward_loop_tokenizer", vocab_size=8000)
    tok = AutoTokenizer.from_pretrained(tok_dir)
    specs = queries_to_specs(stream_q)
    batches = [make_batch([s], tok) for s in specs]
    resp_tokens = np.array([len(tok.encode(s["response"])) for s in specs])

    capacity = _embed_capacity(artifact_dir, specs, max(1, int(args.worker_cpus)), args.embed_batch_size)
    ray.init(num_cpus=8, include_dashboard=False, logging_level="WARNING")
    kwargs = {
        "artifact_dir": artifact_dir,
        "worker_num_cpus": args.worker_cpus,
        "log_hidden_gt": not args.no_hidden_gt,
        "embed_batch_size": args.embed_batch_size,
    }
    cfg = compose_verl_config(
        tok_dir, kwargs, ["actor_rollout_ref.rollout.n=8", f"reward.num_workers={args.reward_workers}"]
    )
    t = time.time()
    manager = RewardLoopManager(cfg)
    startup = time.time() - t
    workers = manager.reward_loop_workers
    warm = [make_batch([s], tok) for s in queries_to_specs(queries[300:302]) + queries_to_specs(memory_q[:1])]
    asyncio.run(_stream(workers, warm, 1.0, 1))  # start verifier pools and the embedder
    worker = ray.get_actor("memreward_worker")
    before = ray.get(worker.stats.remote())

    load_before = os.getloadavg()
    cpu0, tree0, wall0 = _cpu_seconds(), _tree_cpu_seconds(), time.monotonic()
    arrived, done, results = asyncio.run(_stream(workers, batches, args.spread, 0))
    cpu, tree1, wall = _cpu_seconds() - cpu0, _tree_cpu_seconds(), time.monotonic() - wall0
    load_after = os.getloadavg()
    by_role = _cpu_by_role(tree0, tree1)
    mine = sum(by_role.values())
    after = ray.get(worker.stats.remote())
    after_desc = ray.get(worker.describe.remote())
    latency = done - arrived
    embedded = after.get("embedded_texts", 0) - before.get("embedded_texts", 0)
    src = np.array([r["reward_extra_info"]["reward_source"] for r in results])
    pc = np.array([r["reward_extra_info"]["pred_correct"] for r in results], dtype=float)
    report = {
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}",
        "command": "python benchmarks/bench_reward_loop.py "
        + " ".join(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()),
        "samples": len(specs),
        "prompts": args.prompts,
        "labelled_prompts_in_stream": n_lab,
        "response_tokens_mean": float(resp_tokens.mean()),
        "response_chars_mean": float(np.mean([len(s["response"]) for s in specs])),
        "arrival_spread_s": args.spread,
        "embedder": after_desc["model_id"],
        "embed_batch_size": args.embed_batch_size,
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in load_after],
        "embedder_capacity_texts_per_s": capacity,
        # texts the worker actually embedded during the stream (unique query/think/answer texts of
        # unlabelled rollouts), per second of the arrival window
        "arrival_texts_per_s": embedded / args.spread,
        "embedder_keeps_up": bool(capacity >= embedded / args.spread),
        "startup_s": startup,
        "tail_latency_s": float(done.max() - arrived.max()),
        "latency_p50_s": float(np.percentile(latency, 50)),
        "latency_p95_s": float(np.percentile(latency, 95)),
        "latency_max_s": float(latency.max()),
        "stream_wall_s": wall,
        "cpu_seconds_reward_stage": mine,
        "cpu_seconds_by_role": by_role,
        "cpu_seconds_machine": cpu,
        # CPU taken by unrelated processes on the (shared) machine during the stream
        "cpu_seconds_other_processes": cpu - mine,
        "throughput_samples_per_s": len(specs) / wall,
        "samples_per_cpu_s": len(specs) / mine,
        "sources": {k: int((src == k).sum()) for k in np.unique(src)},
        "online_pred_accuracy": float(np.nanmean(pc)) if np.isfinite(pc).any() else None,
        "worker_counters": {k: round(after.get(k, 0) - before.get(k, 0), 3) for k in after},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    logging.info("%s", json.dumps(report, indent=2))
    ray.shutdown()


if __name__ == "__main__":
    main()
