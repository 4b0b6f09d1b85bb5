"""Start-up cost of CARE's validation warm start in the reward worker (issue 6).

For each set: a warm-up artifact on 20% of the queries (as `memreward eval` chooses them), then a
MemoryService with acquisition=care (warm start: one prediction of the whole memory with the
validation groups' labels hidden) against one with acquisition=uncertainty (no warm start), both
timed from construction to ready. Run: python benchmarks/bench_warm_start.py --sets gsm8k_solutions
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from bench_quality import _machine

from memreward_verl.artifact import build_artifact, load_artifact
from memreward_verl.config import MemRewardConfig
from memreward_verl.embed import load_embedder
from memreward_verl.evaluate import choose_labelled, encode_cached
from memreward_verl.reward import RewardRule
from memreward_verl.rollouts import read_rollouts
from memreward_verl.serve.options import AcquireOptions
from memreward_verl.service import MemoryService

HERE = Path(__file__).resolve().parent


def _start(artifact_dir: str, embedder, strategy: str) -> tuple[float, int]:
    acquire = AcquireOptions(strategy, budget=0.2)
    t0 = time.perf_counter()
    svc = MemoryService(load_artifact(artifact_dir), embedder, RewardRule(), acquire=acquire)
    return time.perf_counter() - t0, len(svc.desk.acquirer.warm_ids)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(HERE / "data"))
    p.add_argument("--sets", default="gsm8k_solutions,routerbench_arc")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    embedder = load_embedder()
    print(f"machine: {_machine()}")
    print("| set | rollouts in memory | validation groups | start-up with care (warm start) | with uncertainty |")
    print("|---|---|---|---|---|")
    for name in args.sets.split(","):
        path = Path(args.data) / f"{name}.jsonl"
        if not path.is_file():
            print(f"skip {name}: {path} not found")
            continue
        queries = read_rollouts(path)
        mcfg = MemRewardConfig()
        mcfg.fit.seeds = (0,)
        groups = encode_cached(queries, mcfg, cache_dir=HERE / "cache")
        with tempfile.TemporaryDirectory() as tmp:
            build_artifact(groups, choose_labelled(queries, 0.2, 0), mcfg, out_dir=tmp)
            _start(tmp, embedder, "uncertainty")  # warm the file cache and torch once
            care_s, n_val = _start(tmp, embedder, "care")
            plain_s, _ = _start(tmp, embedder, "uncertainty")
        print(f"| {name} | {groups.num_rollouts} | {n_val} | {care_s:.1f} s | {plain_s:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
