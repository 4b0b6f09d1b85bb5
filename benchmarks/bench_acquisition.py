"""Active label acquisition on every converted real rollout set (issue 6).

Usage::

    python benchmarks/convert_all.py benchmarks/data          # once: real sets -> canonical JSONL
    nice python benchmarks/bench_acquisition.py --seeds 0,1,2 --budgets 0.1,0.2,0.3 --threads 1 \
        --out benchmarks/results/acquisition.json

Per set and seed (memreward_verl.acquisition.simulate): 20% of the queries warm the MemReward
predictor (as ``memreward eval``), the rest stream in steps of ``--batch`` groups; each strategy
buys at most ``floor(budget * step)`` labels per step, in the same run as ``random``. Reported per
set and budget: mean CAG of the groups NOT bought (lower is better) per strategy, the reduction of
the best strategy against ``random``, AUC of the unbought rollouts, and a clairvoyant bound (the
best any strategy could do: buy the groups with the highest TRUE CAG). Same set list and subset
sizes as bench_quality.py; embeddings from benchmarks/cache.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from bench_quality import DEFAULT_SETS, _machine

from memreward_verl.acquisition.cli import _clean
from memreward_verl.acquisition.simulate import SimulationConfig, evaluate_acquisition
from memreward_verl.acquisition.strategies import StrategyConfig
from memreward_verl.config import MemRewardConfig
from memreward_verl.evaluate import encode_cached
from memreward_verl.rollouts import read_rollouts

HERE = Path(__file__).resolve().parent
# "AUC no worse": not lower by more than this (differences below it are rounding and seed noise).
AUC_TOLERANCE = 0.005


def table(results: dict, strategies: list[str], budgets: list[str]) -> str:
    """Markdown: one row per (set, budget): CAG per strategy, best vs random, AUCs, bound, target."""
    head = "| set | budget | " + " | ".join(f"{s} CAG" for s in strategies)
    head += " | best | vs random | clairvoyant CAG | AUC unbought random / best | AUC common random / best"
    head += " | 25% target, AUC unbought | 25% target, AUC common |"
    lines = [head, "|" + "---|" * (2 + len(strategies) + 7)]
    for name, res in results.items():
        summ = res["summary"]
        for b in budgets:
            m = {s: summ[s][b] for s in strategies}
            cag = {s: m[s]["mean_cag_unbought"] for s in strategies}
            others = [s for s in strategies if s != "random"]
            best = min(others, key=lambda s: cag[s])
            rel = cag[best] / cag["random"] - 1 if cag["random"] else float("nan")
            auc_r, auc_b = m["random"]["auc_unbought"], m[best]["auc_unbought"]
            com_r, com_b = m[best]["auc_common_unbought_random"], m[best]["auc_common_unbought"]
            ok_u = rel <= -0.25 and auc_b >= auc_r - AUC_TOLERANCE
            ok_c = rel <= -0.25 and com_b >= com_r - AUC_TOLERANCE
            row = f"| {name} | {b} | " + " | ".join(f"{cag[s]:.3f}" for s in strategies)
            row += f" | {best} | {rel:+.0%} | {res['clairvoyant'][b]:.3f} | {_f(auc_r)} / {_f(auc_b)}"
            row += f" | {_f(com_r)} / {_f(com_b)} | {'met' if ok_u else 'not met'} | {'met' if ok_c else 'not met'} |"
            lines.append(row)
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(HERE / "data"))
    p.add_argument("--sets", default=",".join(DEFAULT_SETS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--budgets", default="0.1,0.2,0.3")
    p.add_argument("--strategies", default="random,uncertainty,care,hybrid")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--label-ratio", type=float, default=0.2)
    p.add_argument("--pseudo", default="memreward")
    p.add_argument("--fit-seeds", default="0", help="predictor training seeds inside each simulation")
    p.add_argument("--belief", default="domain", help="StrategyConfig.belief: domain or independent")
    p.add_argument(
        "--validation-warm-start",
        action=argparse.BooleanOptionalAction,
        default=SimulationConfig.validation_warm_start,
        help="learning strategies first learn from the warm-up validation groups (their labels hidden)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(HERE / "results" / "acquisition.json"))
    p.add_argument("--render", nargs="+", default=None, help="only merge these result JSONs into --out")
    args = p.parse_args()
    strategies = args.strategies.split(",")
    budgets = [str(float(b)) for b in args.budgets.split(",")]
    if args.render:
        merged, meta = {}, None
        for path in args.render:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            merged.update(data["results"])
            meta = meta or data["meta"]
        _write(merged, meta, Path(args.out))
        return
    torch.set_num_threads(args.threads)
    cfg = SimulationConfig(
        strategies=tuple(strategies),
        budgets=tuple(float(b) for b in budgets),
        batch=args.batch,
        label_ratio=args.label_ratio,
        pseudo=args.pseudo,
        strategy=StrategyConfig(belief=args.belief),
        validation_warm_start=args.validation_warm_start,
    )
    meta = {
        "machine": _machine(),
        "seeds": args.seeds,
        "budgets": budgets,
        "strategies": strategies,
        "batch": args.batch,
        "label_ratio": args.label_ratio,
        "pseudo": args.pseudo,
        "fit_seeds": args.fit_seeds,
        "belief": args.belief,
        "validation_warm_start": args.validation_warm_start,
    }
    results = {}
    for name in args.sets.split(","):
        stem, _, limit = name.partition(":")
        path = Path(args.data) / f"{stem}.jsonl"
        if not path.is_file():
            print(f"skip {name}: {path} not found (run benchmarks/convert_all.py)")
            continue
        queries = read_rollouts(path)[: int(limit) if limit else None]
        mcfg = MemRewardConfig()
        mcfg.fit.seeds = tuple(int(s) for s in args.fit_seeds.split(","))
        groups = encode_cached(queries, mcfg, cache_dir=HERE / "cache")
        t0 = time.perf_counter()
        rep = evaluate_acquisition(queries, groups, cfg, [int(s) for s in args.seeds.split(",")], mcfg)
        rep["wall_s"] = round(time.perf_counter() - t0, 1)
        rep["n_queries"], rep["n_rollouts"] = groups.num_queries, groups.num_rollouts
        results[name] = _clean(rep)
        print(f"{name}: {rep['wall_s']} s", flush=True)
        _write(results, meta, Path(args.out))
    print(table(results, strategies, budgets))


def _write(results: dict, meta: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2), encoding="utf-8")
    head = (
        f"Machine: {meta['machine']}. Seeds {meta['seeds']}, batch {meta['batch']} groups per step, "
        f"warm-up labels {meta['label_ratio']:.0%}, pseudo rewards from `{meta['pseudo']}`, "
        f"predictor fit seeds {meta['fit_seeds']}, belief `{meta.get('belief', 'domain')}`, "
        "validation warm start "
        f"{'on' if meta.get('validation_warm_start') else 'off'}. "
        "Mean CAG of the groups NOT bought (lower is better), "
        "mean over seeds; `best` = the non-random strategy with the lowest CAG in that row; "
        f"`target` = at least 25% below random with AUC not lower by more than {AUC_TOLERANCE}; "
        "`AUC unbought` = on each strategy's own unbought groups; `AUC common` = on the groups neither "
        "the best strategy nor random bought (same groups for both).\n\n"
    )
    md = head + table(results, meta["strategies"], meta["budgets"])
    out.with_suffix(".md").write_text(md + "\n", encoding="utf-8")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
