"""Hard-reward rules compared on the SAME MemReward probabilities (mean CAG, lower is better).

Usage::

    python benchmarks/bench_decision.py aime25 qwen_math routerbench_mbpp gsm8k_solutions --seeds 0,1

For each set and seed: 20% of queries labelled, MemReward fitted (one training seed), then the
test rollouts' probabilities are turned into hard rewards by ``threshold`` (p >= 0.5) and by
``expected_cag`` (decision.py), next to the majority vote's plurality rule.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from memreward_verl.config import MemRewardConfig
from memreward_verl.decision import hard_rewards, single_answer
from memreward_verl.evaluate import encode_cached, evaluate
from memreward_verl.features import GROUP_FEATURES
from memreward_verl.metrics import cag
from memreward_verl.rollouts import read_rollouts

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sets", nargs="+")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--data", default=str(HERE / "data"))
    args = p.parse_args()
    torch.set_num_threads(1)
    plurality = GROUP_FEATURES.index("is_plurality")
    print("| set | seed | plurality (vote) | threshold | expected_cag |\n|---|---|---|---|---|")
    for name in args.sets:
        queries = read_rollouts(Path(args.data) / f"{name}.jsonl")
        cfg = MemRewardConfig()
        cfg.fit.seeds = (0,)
        g = encode_cached(queries, cfg, cache_dir=HERE / "cache")
        rq = g.rollout_query
        clusters = g.cluster_ids(cfg.graph.agreement_cosine)
        exclusive = single_answer(g.domains)[rq]
        for seed in (int(s) for s in args.seeds.split(",")):
            rep = evaluate(queries, 0.2, seed, cfg, ["memreward"], g)
            te, y = rep["_predictions"]["test"], rep["_predictions"]["true"]
            prob = rep["_predictions"]["prob"]["memreward"]
            vote = cag(g.feats[te, plurality], y[te], rq[te])
            thr = cag(hard_rewards(prob, rq, clusters, "threshold")[te], y[te], rq[te])
            ecag = cag(hard_rewards(prob, rq, clusters, exclusive=exclusive)[te], y[te], rq[te])
            print(f"| {name} | {seed} | {vote:.3f} | {thr:.3f} | {ecag:.3f} |", flush=True)


if __name__ == "__main__":
    main()
