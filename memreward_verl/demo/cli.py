"""``memreward demo``: the offline CPU demo (tiny LLM, warm-up, GRPO through verl's own trainer)."""

from __future__ import annotations

import argparse
import dataclasses
import math

from memreward_verl.cli_args import creatable_dir, fraction, non_negative_int, positive_float, positive_int, ratio
from memreward_verl.cpu.precision import COMPUTE_DTYPES
from memreward_verl.decision import describe_choice
from memreward_verl.demo.run import DemoConfig, run_demo
from memreward_verl.train.prompts import UNLABELLED_POLICIES

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = DemoConfig()
    t = d.train
    p = sub.add_parser("demo", help="offline CPU demo: SmolLM2-135M warm-up -> GRPO through verl's main_ppo")
    p.add_argument("--out", default=d.out_dir, help="output folder (the warm-up cache makes reruns faster)")
    p.add_argument("--train-prompts", type=positive_int, default=d.train_prompts)
    p.add_argument("--val-prompts", type=positive_int, default=d.val_prompts)
    p.add_argument("--label-ratio", type=ratio, default=d.label_ratio)
    p.add_argument("--steps", type=positive_int, default=t.steps, help="GRPO steps")
    p.add_argument("--prompts-per-step", type=positive_int, default=t.prompts_per_step)
    p.add_argument("--lr", type=positive_float, default=t.lr)
    p.add_argument("--val-every", type=non_negative_int, default=t.val_every)
    p.add_argument("--threads", type=positive_int, default=d.threads)
    p.add_argument(
        "--compute-dtype",
        choices=COMPUTE_DTYPES,
        default=t.compute_dtype,
        help="actor and reference compute dtype: auto (bf16 only where the CPU runs it natively), fp32, bf16",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--acquisition", default=None, help="buy labels during training: random, uncertainty, care or hybrid"
    )
    p.add_argument(
        "--budget", type=fraction, default=d.budget, help="with --acquisition: fraction of unlabelled groups"
    )
    p.add_argument(
        "--unlabelled",
        choices=UNLABELLED_POLICIES,
        default=d.unlabelled,
        help="train on the unlabelled prompts: auto (not when the fit serves constant: zero advantage), keep, drop",
    )
    p.set_defaults(func=run)


def _num(x: float) -> str:
    return "  n/a" if x is None or math.isnan(x) else f"{x:.3f}"


def _fmt(m: dict) -> str:
    return f"AUC {_num(m.get('auc', math.nan))}  accuracy {m['accuracy']:.3f}  F1 {m['f1']:.3f}  CAG {m['cag']:.3f}"


def run(args: argparse.Namespace) -> int:
    from memreward_verl.acquisition.strategies import STRATEGIES

    # found before the model is fetched and the warm-up runs (minutes), not when verl starts the reward worker
    creatable_dir(args.out, "--out")
    if args.acquisition is not None and args.acquisition not in STRATEGIES:
        raise ValueError(f"--acquisition: unknown strategy {args.acquisition!r}; choose from {', '.join(STRATEGIES)}")
    base = DemoConfig()
    train = dataclasses.replace(
        base.train,
        steps=args.steps,
        prompts_per_step=args.prompts_per_step,
        lr=args.lr,
        val_every=args.val_every,
        seed=args.seed,
        threads=args.threads,
        compute_dtype=args.compute_dtype,
        # the warm-up's draws and its labelled subset follow the seed too
        sampling=dataclasses.replace(base.train.sampling, seed=args.seed),
    )
    cfg = DemoConfig(
        out_dir=args.out,
        train_prompts=args.train_prompts,
        val_prompts=args.val_prompts,
        label_ratio=args.label_ratio,
        train=train,
        threads=args.threads,
        seed=args.seed,
        progress=not args.no_progress,
        acquisition=args.acquisition,
        budget=args.budget,
        unlabelled=args.unlabelled,
    )
    r = run_demo(cfg)
    w, s = r["warmup"], r["sampling"]
    print("\n== memreward demo (SmolLM2-135M-Instruct on CPU: GRPO through verl's main_ppo + MemRewardManager) ==")
    print(
        f"warm-up: {w['queries']} prompts x {s['n']} rollouts, {w['labelled_queries']} labelled; "
        f"policy accuracy on labelled rollouts {w['labelled_rollout_accuracy']:.1%}"
    )
    hidden = r.get("warmup_hidden_eval") or {}
    if "memreward" in hidden:
        print(f"  unlabelled warm-up rollouts vs hidden truth: GNN {_fmt(hidden['memreward'])}")
        print(f"                                     majority vote {_fmt(hidden['majority_vote'])}")
    if (r.get("warmup_fit") or {}).get("hard_rule"):
        print(f"  {describe_choice(r['warmup_fit'])}")
    tp = r.get("training_prompts") or {}
    if tp.get("dropped"):
        print(f"training prompts: the {tp['labelled']} labelled only, {tp['dropped']} unlabelled left out")
        print(f"  ({tp['reason']})")
    t = r["train"]
    print(
        f"training: {t['steps']} GRPO steps x {t['prompts_per_step']} prompts x {s['n']} rollouts, lr {t['lr']}, "
        f"{s['max_response_length']} new tokens"
    )
    val = {int(k): v for k, v in r["validation_accuracy"].items()}
    print("step  rewards: verifier / GNN / bought   GNN vs hidden truth: AUC   acc    CAG   policy acc  val acc")
    if 0 in val:
        print(f"{0:>4}  {'':>64}  {val[0]:.3f}")
    for st in r["steps"]:
        src, g = st.get("sources", {}), st.get("gnn_vs_hidden_truth")
        counts = f"{src.get('ground_truth', 0):>8} / {src.get('predicted', 0):>3} / {src.get('acquired', 0):<3}"
        quality = f"{_num(g['auc'])}  {g['accuracy']:.3f}  {g['cag']:.2f}" if g else f"{'-':>5}  {'-':>5}  {'-':>4}"
        v = f"{val[st['step']]:.3f}" if st["step"] in val else ""
        print(f"{st['step']:>4}  {counts:>30}  {quality:>31}  {st['policy_accuracy']:>10.3f}  {v}")
    if val:
        first, last = min(val), max(val)
        print(f"validation accuracy: step {first} {val[first]:.3f} -> step {last} {val[last]:.3f}")
    tm = r["times_s"]
    print(
        f"times: warm-up {tm['warmup']} s (generation {tm['warmup_generation']} s), training {tm['training']} s, "
        f"total {tm['total']} s"
    )
    print(f"checkpoint: {r['checkpoint']}")
    print(f"report: {args.out}/report.json   learning curve: {args.out}/learning_curve.png")
    return 0
