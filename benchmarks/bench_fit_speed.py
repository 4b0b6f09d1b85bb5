"""Warm-up fit time at the paper's size: 5,358 queries x 8 rollouts, 20% labelled (issue 12, item 5).

Usage::

    python benchmarks/convert_all.py benchmarks/data        # once
    python benchmarks/bench_fit_speed.py --threads 2 --out benchmarks/results/fit_speed.json

No real rollout set here has that shape, so the groups are REAL ones tiled: GSM8K model solutions
(1,319 queries x 4 rollouts, real embeddings, features and labels) copied to 5,358 queries, each
copy's embeddings jittered (so the query kNN graph is not four identical copies) and every group's
rollouts doubled to 8. What is timed is what ``memreward warmup`` runs after embedding: the memory
(faiss index), the graph and :func:`memreward_verl.fit.fit_gnn` with the default configuration.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from memreward_verl.config import MemRewardConfig
from memreward_verl.evaluate import encode_cached
from memreward_verl.fit import fit_gnn
from memreward_verl.groups import EncodedGroups
from memreward_verl.memory import ExperienceMemory
from memreward_verl.rollouts import read_rollouts

HERE = Path(__file__).resolve().parent


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def tile(groups: EncodedGroups, n_queries: int, n_rollouts: int, seed: int = 0) -> EncodedGroups:
    """``groups`` copied (jittered) until ``n_queries`` groups of ``n_rollouts`` rollouts each."""
    rng = np.random.default_rng(seed)
    slices = groups.group_slices()
    qs, think, ans, feats, rq, labels, keys, ids, domains = [], [], [], [], [], [], [], [], []
    for i in range(n_queries):
        src = i % groups.num_queries
        sl = slices[src]
        pick = np.resize(np.arange(sl.start, sl.stop), n_rollouts)  # repeat the group's rollouts to n
        jitter = 0.0 if i < groups.num_queries else 0.05
        qs.append(groups.query_emb[src] + jitter * rng.normal(size=groups.query_emb.shape[1]))
        think.append(groups.think_emb[pick] + 0.05 * rng.normal(size=(n_rollouts, groups.think_emb.shape[1])))
        ans.append(groups.answer_emb[pick] + 0.05 * rng.normal(size=(n_rollouts, groups.answer_emb.shape[1])))
        feats.append(groups.feats[pick])
        rq.append(np.full(n_rollouts, i))
        labels.append(groups.labels[pick])
        keys.extend(groups.answer_keys[j] for j in pick)
        ids.append(f"{groups.query_ids[src]}#copy{i // groups.num_queries}")
        domains.append(groups.domains[src])
    return EncodedGroups(
        model_id=groups.model_id,
        query_ids=ids,
        domains=domains,
        query_emb=_unit(np.stack(qs)),
        think_emb=_unit(np.concatenate(think)),
        answer_emb=_unit(np.concatenate(ans)),
        feats=np.concatenate(feats).astype(np.float32),
        rollout_query=np.concatenate(rq).astype(np.int64),
        labels=np.concatenate(labels).astype(np.int8),
        answer_keys=keys,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(HERE / "data" / "gsm8k_solutions.jsonl"))
    p.add_argument("--queries", type=int, default=5358)
    p.add_argument("--rollouts", type=int, default=8)
    p.add_argument("--label-ratio", type=float, default=0.2)
    p.add_argument("--seeds", default="0")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(HERE / "results" / "fit_speed.json"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = MemRewardConfig()
    base = encode_cached(read_rollouts(args.data), cfg, cache_dir=HERE / "cache")
    groups = tile(base, args.queries, args.rollouts)
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg.fit.seed = seed
        labelled = [groups.query_ids[i] for i in np.random.default_rng(seed).permutation(groups.num_queries)]
        labelled = labelled[: int(round(args.label_ratio * groups.num_queries))]
        t0 = time.perf_counter()
        memory = ExperienceMemory(groups, labelled, cfg.memory)
        t1 = time.perf_counter()
        result = fit_gnn(memory, cfg)
        t2 = time.perf_counter()
        m = result.metrics
        run = {
            "seed": seed,
            "memory_s": round(t1 - t0, 1),
            "fit_s": round(t2 - t1, 1),
            "total_s": round(t2 - t0, 1),
            "gnn_folds_trained": sum(f["epochs_run"] > 0 for f in m["per_fold"]),
            "epochs_run": sum(f["epochs_run"] for f in m["per_fold"]),
            "per_fold": m["per_fold"],
            "served": "vote" if m["fallback_to_vote"] else m["anchor"] + ("+gnn" if m["residual_kept"] else ""),
            "oof_auc": m.get("oof_auc"),
        }
        runs.append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "per_fold"}), flush=True)
    meta = {
        "queries": groups.num_queries,
        "rollouts": groups.num_rollouts,
        "labelled_queries": int(round(args.label_ratio * groups.num_queries)),
        "threads": args.threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
