"""``memreward eval``: offline evaluation of reward predictors on a rollout file.

Usage::

    memreward eval ROLLOUTS.jsonl --label-ratio 0.2 --seed 0 --out report.json
    memreward eval ROLLOUTS.jsonl --label-ratios 0.1,0.2,0.3,0.5,0.7 --out curve.json --plots plots/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memreward_verl.cli_args import creatable_dir, existing_file, ratio, ratio_list, writable_file
from memreward_verl.config import EMBED_DTYPES, MemRewardConfig
from memreward_verl.decision import describe_choice
from memreward_verl.embed import load_embedder
from memreward_verl.evaluate import ALL_METHODS, encode_cached, evaluate, evaluate_curve, strip_predictions
from memreward_verl.files import atomic_write_json
from memreward_verl.rollouts import read_rollouts

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="offline evaluation against baselines", description=__doc__)
    p.add_argument("rollouts", type=existing_file, help="rollout file (JSONL, canonical format)")
    p.add_argument("--label-ratio", type=ratio, default=0.2, help="share of queries labelled, in (0, 1] (default 0.2)")
    p.add_argument("--label-ratios", type=ratio_list, default=None, help="comma-separated ratios in (0, 1]: a curve")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", default=",".join(ALL_METHODS), help=f"subset of {','.join(ALL_METHODS)}")
    p.add_argument("--out", required=True, help="report JSON path")
    p.add_argument("--plots", default=None, help="directory for PNG plots (default: next to --out)")
    p.add_argument("--cache-dir", default=None, help="embedding cache directory (default: no cache)")
    p.add_argument("--fit-seeds", default=None, help="training seeds, comma-separated (default 0,1,2)")
    p.add_argument(
        "--embed-dtype",
        choices=EMBED_DTYPES,
        default=None,
        help="embedder compute dtype: auto (bf16 on a CPU that runs it natively; the default), fp32, bf16",
    )
    p.set_defaults(func=run)


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ValueError(f"--fit-seeds must be comma-separated integers (got {text!r})") from None
    return seeds


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from memreward_verl.plots import plot_calibration, plot_label_curve, plot_roc

    cfg = MemRewardConfig()
    if args.fit_seeds:
        cfg.fit.seeds = _seeds(args.fit_seeds)
    if args.embed_dtype:
        cfg.embed.dtype = args.embed_dtype
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(ALL_METHODS))
    if not methods or unknown:
        raise ValueError(f"--methods: unknown {unknown or 'empty list'}; choose from {','.join(ALL_METHODS)}")
    # every output location is tried before the embedding and fitting (work lost otherwise)
    out = writable_file(args.out, "--out")
    plots = creatable_dir(Path(args.plots) if args.plots else out.with_suffix(""), "--plots")
    if args.cache_dir:
        creatable_dir(args.cache_dir, "--cache-dir")
    queries = read_rollouts(args.rollouts)
    embedder = load_embedder(cfg.embed)
    groups = encode_cached(queries, cfg, embedder, cache_dir=args.cache_dir)
    ratios = args.label_ratios or [args.label_ratio]
    bar = tqdm(total=len(ratios) * len(methods), desc="eval", unit="method")

    def progress(name: str) -> None:  # called when a method has finished: the bar counts finished work
        bar.set_postfix_str(f"{name} done")
        bar.update(1)

    if args.label_ratios:
        curve = evaluate_curve(queries, ratios, args.seed, cfg, methods, groups, progress)
        report = strip_predictions(curve)
        plot_label_curve(report, plots / "label_curve.png")
        for ratio, run_ in curve["runs"].items():
            plot_roc(run_, plots / f"roc_{ratio}.png")
        summary = report["runs"][str(ratios[0])]
    else:
        full = evaluate(queries, args.label_ratio, args.seed, cfg, methods, groups, progress=progress)
        report = strip_predictions(full)
        plot_roc(full, plots / "roc.png")
        plot_calibration(full, plots / "calibration.png")
        summary = report
    bar.close()
    report["rollouts_file"] = str(args.rollouts)
    report["embedder"] = {"model_id": embedder.model_id, "compute_dtype": embedder.compute_dtype}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, report)
    print(f"{'method':<16} {'auc':>6} {'auc_in':>6} {'acc':>6} {'f1':>6} {'brier':>6} {'cag':>6}")
    for name, m in summary["methods"].items():
        vals = [m[k] for k in ("auc", "auc_within", "accuracy", "f1", "brier", "cag")]
        print(f"{name:<16} " + " ".join("   nan" if v is None else f"{v:6.3f}" for v in vals))
    print("auc_in: within-group AUC (mean over groups holding both right and wrong rollouts: what GRPO ranks)")
    if "memreward_fit" in summary:
        print(f"memreward {describe_choice(summary['memreward_fit'])}")
    print(f"embedder: {embedder.model_id} computing in {embedder.compute_dtype}")
    print(f"report: {out}  plots: {plots}/")
    return 0
