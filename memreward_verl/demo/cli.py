"""``memreward demo``: the offline CPU demo (tiny LLM, warm-up, verl's reward loop)."""

from __future__ import annotations

import argparse

from memreward_verl.demo.run import DemoConfig, run_demo

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = DemoConfig()
    p = sub.add_parser("demo", help="offline CPU demo: SmolLM2-135M rollouts -> warm-up -> verl reward loop")
    p.add_argument("--out", default=d.out_dir, help="output folder (caches make reruns fast)")
    p.add_argument("--train-prompts", type=int, default=d.train_prompts)
    p.add_argument("--label-ratio", type=float, default=d.label_ratio)
    p.add_argument("--step-train-prompts", type=int, default=d.step_train_prompts)
    p.add_argument("--step-new-prompts", type=int, default=d.step_new_prompts)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--acquisition", default=None, help="buy labels in the step: random, uncertainty, care or hybrid (default off)"
    )
    p.add_argument("--budget", type=float, default=d.budget, help="with --acquisition: fraction of unlabelled groups")
    p.set_defaults(func=run)


def _fmt(m: dict) -> str:
    return f"AUC {m['auc']:.3f}  accuracy {m['accuracy']:.3f}  F1 {m['f1']:.3f}  CAG {m['cag']:.3f}"


def run(args: argparse.Namespace) -> int:
    cfg = DemoConfig(
        out_dir=args.out,
        train_prompts=args.train_prompts,
        label_ratio=args.label_ratio,
        step_train_prompts=args.step_train_prompts,
        step_new_prompts=args.step_new_prompts,
        threads=args.threads,
        seed=args.seed,
        progress=not args.no_progress,
        acquisition=args.acquisition,
        budget=args.budget,
    )
    r = run_demo(cfg)
    w, step = r["warmup"], r["step"]
    print("\n== memreward demo (SmolLM2-135M-Instruct on CPU, verl RewardLoopManager + MemRewardManager) ==")
    print(
        f"warm-up: {w['queries']} prompts x {r['sampling']['n']} rollouts, {w['labelled_queries']} labelled; "
        f"policy accuracy on labelled rollouts {w['labelled_rollout_accuracy']:.1%}"
    )
    hidden = r.get("warmup_hidden_eval") or {}
    if "memreward" in hidden:
        print(f"  unlabelled warm-up rollouts vs hidden truth: GNN {_fmt(hidden['memreward'])}")
        print(f"                                     majority vote {_fmt(hidden['majority_vote'])}")
    print(f"step: {step['rollouts']} rollouts, policy accuracy {step['policy_accuracy']:.1%}")
    for k, v in step["reward_sources"].items():
        print(f"  rewards from {k:<13} {v}")
    if "acquisition" in step:
        a = step["acquisition"]
        print(
            f"  acquisition ({a['strategy']}, budget {a['budget']}): bought {a['groups_bought']} of "
            f"{a['groups_offered']} unlabelled groups; predicted / realised CAG of their pseudo rewards "
            + ", ".join(f"{p:.2f} / {r:.2f}" for p, r in zip(a["pred_cag_bought"], a["real_cag_bought"]))
        )
    if "gnn_vs_hidden_truth" in step:
        print(f"  GNN rewards vs hidden truth:   {_fmt(step['gnn_vs_hidden_truth'])}")
        print(f"  majority vote vs hidden truth: {_fmt(step['majority_vote_vs_hidden_truth'])}")
    t = r["times_s"]
    print(
        f"times: warm-up {t['warmup']} s (generation {t['warmup_generation']} s), step generation "
        f"{t['step_generation']} s, reward loop {t['reward_loop']} s, total {t['total']} s"
    )
    print(f"report: {args.out}/report.json   plot: {args.out}/demo.png")
    return 0
