"""``memreward eval-acquisition``: simulate label acquisition over a rollout file.

Usage::

    memreward eval-acquisition ROLLOUTS.jsonl --budget 0.2 --batch 128 \\
        --strategies random,uncertainty,care --out report.json
    memreward eval-acquisition ROLLOUTS.jsonl --budgets 0.1,0.2,0.3 --seeds 0,1,2 --out report.json
    memreward eval-acquisition ROLLOUTS.jsonl --label-ratio 0 --pseudo majority_vote --out ttrl.json

Writes the JSON report (per strategy and budget: mean CAG and AUC of the groups NOT bought, labels
spent, predicted vs realised CAG of bought groups) and a PNG of CAG against budget next to it.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from memreward_verl.acquisition.simulate import PSEUDO_SOURCES, SimulationConfig, evaluate_acquisition
from memreward_verl.acquisition.strategies import STRATEGIES, StrategyConfig
from memreward_verl.cli_args import (
    creatable_dir,
    existing_file,
    fraction,
    fraction_list,
    int_list,
    non_negative_int,
    positive_int,
    writable_file,
)
from memreward_verl.files import atomic_write_json

__all__ = ["add_parser", "run", "plot_budget_curve"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-acquisition",
        help="simulate active label acquisition (random / uncertainty / CARE)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("rollouts", type=existing_file, help="rollout file (JSONL, canonical format, labelled)")
    p.add_argument("--budget", type=fraction, default=0.2, help="share of each step's groups to buy (default 0.2)")
    p.add_argument("--budgets", type=fraction_list, default=None, help="several budgets, comma-separated (a curve)")
    p.add_argument("--batch", type=positive_int, default=128, help="groups per training step (default 128)")
    p.add_argument("--strategies", default="random,uncertainty,care", help=f"subset of {','.join(STRATEGIES)}")
    p.add_argument("--seeds", type=int_list, default=(0,), help="simulation seeds, comma-separated (default 0)")
    p.add_argument("--label-ratio", type=float, default=0.2, help="warm-up labels; 0 = none, TTRL (default 0.2)")
    p.add_argument("--pseudo", choices=PSEUDO_SOURCES, default=None, help="pseudo-reward source (default: memreward)")
    p.add_argument(
        "--refit-every", type=non_negative_int, default=0, help="refit the predictor every k steps (0 = never)"
    )
    p.add_argument("--no-memory-update", action="store_true", help="bought labels do not join the memory")
    p.add_argument("--online", action="store_true", help="decide group by group (OnlineAcquirer)")
    p.add_argument(
        "--validation-warm-start",
        action=argparse.BooleanOptionalAction,
        default=SimulationConfig.validation_warm_start,
        help="CARE/hybrid first learn from the warm-up fit's validation groups, predicted with their labels hidden",
    )
    p.add_argument(
        "--oracle", choices=("recorded", "verifier"), default="recorded", help="labels of the file or the verifiers"
    )
    p.add_argument(
        "--belief",
        choices=("domain", "independent"),
        default="domain",
        help="answer clusters: at most one right in math/QA (domain) or each on its own (independent)",
    )
    p.add_argument("--cache-dir", default=None, help="embedding cache directory (default: no cache)")
    p.add_argument(
        "--fit-seeds", type=int_list, default=None, help="predictor training seeds, comma-separated (default 0,1,2)"
    )
    p.add_argument("--out", required=True, help="report JSON path")
    p.add_argument("--plot", default=None, help="PNG of CAG against budget (default: next to --out)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memreward_verl.acquisition.oracle import RecordedLabelOracle, VerifierOracle
    from memreward_verl.config import MemRewardConfig
    from memreward_verl.evaluate import encode_cached
    from memreward_verl.rollouts import read_rollouts

    # every output location is tried before the embedding and the simulation (work lost otherwise)
    out = writable_file(args.out, "--out")
    plot_path = writable_file(Path(args.plot) if args.plot else out.with_suffix(".png"), "--plot")
    if args.cache_dir:
        creatable_dir(args.cache_dir, "--cache-dir")
    pseudo = args.pseudo or ("memreward" if args.label_ratio > 0 else "majority_vote")
    cfg = SimulationConfig(
        strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
        budgets=args.budgets or (args.budget,),
        batch=args.batch,
        label_ratio=args.label_ratio,
        pseudo=pseudo,
        update_memory=not args.no_memory_update,
        refit_every=args.refit_every,
        online=args.online,
        validation_warm_start=args.validation_warm_start,
        strategy=StrategyConfig(belief=args.belief),
    )
    mcfg = MemRewardConfig()
    if args.fit_seeds:
        mcfg.fit.seeds = args.fit_seeds
    queries = read_rollouts(args.rollouts)
    groups = encode_cached(queries, mcfg, cache_dir=args.cache_dir)
    factory = (lambda: VerifierOracle()) if args.oracle == "verifier" else (lambda: RecordedLabelOracle(queries))
    report = evaluate_acquisition(
        queries, groups, cfg, args.seeds, mcfg, factory, progress=lambda s: print(f"  {s}", flush=True)
    )
    report["rollouts_file"] = str(args.rollouts)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out, _clean(report))
    plot = plot_budget_curve(report, plot_path)
    none = report["no_acquisition"]
    print(f"no acquisition: mean CAG {none['mean_cag_unbought']:.3f}  AUC {none['auc_unbought']:.3f}")
    print(f"{'strategy':<12} {'budget':>6} {'CAG':>7} {'AUC':>6} {'spent':>7} {'bought CAG':>10}")
    for name, per_budget in report["summary"].items():
        for b, m in per_budget.items():
            print(
                f"{name:<12} {float(b):6.2f} {m['mean_cag_unbought']:7.3f} {m['auc_unbought']:6.3f}"
                f" {m['labels_spent']:7.1f} {m['mean_cag_bought']:10.3f}"
            )
    print(f"report: {out}  plot: {plot}")
    return 0


def plot_budget_curve(report: dict[str, Any], path: Path) -> Path:
    """Mean CAG of the unbought groups against budget, one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, per_budget in report["summary"].items():
        xs = sorted(per_budget, key=float)
        ax.plot([float(x) for x in xs], [per_budget[x]["mean_cag_unbought"] for x in xs], marker="o", label=name)
    clair = report.get("clairvoyant") or {}
    if clair:
        xs = sorted(clair, key=float)
        ax.plot([float(x) for x in xs], [clair[x] for x in xs], "k:", marker=".", label="clairvoyant bound")
    ax.axhline(report["no_acquisition"]["mean_cag_unbought"], color="grey", lw=0.8, ls="--", label="no labels bought")
    ax.set(xlabel="budget (share of groups labelled per step)", ylabel="mean CAG of groups not bought")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _clean(value: Any) -> Any:
    """NaN -> None so the report is valid JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
