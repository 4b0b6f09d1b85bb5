"""Quality of every reward predictor on every converted real rollout set (issue 2, benchmark 1).

Usage::

    python benchmarks/convert_all.py benchmarks/data          # once: real sets -> canonical JSONL
    python benchmarks/bench_quality.py --seeds 0,1,2 --label-ratio 0.2 \
        --out benchmarks/results/quality.json

For each set and seed, ``label_ratio`` of the queries are labelled, every method is trained on
them and scored on the rest (memreward_verl.evaluate). Embeddings are cached in
``benchmarks/cache`` (keyed by texts, model and settings). Prints and writes a markdown table of
mean (std) AUC and CAG per method, the best of each row in bold. A set named ``name:N`` uses the
first N queries of ``name.jsonl``; ``name@K`` (or ``name:N@K``) keeps K rollouts of each query, drawn
at random once (seed 0, the same draw for every split seed): the small groups of a policy sampled a
few times, from a set of many samples per prompt.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from memreward_verl.config import MemRewardConfig
from memreward_verl.evaluate import ALL_METHODS, encode_cached, evaluate, strip_predictions
from memreward_verl.rollouts import Query, read_rollouts

HERE = Path(__file__).resolve().parent
DEFAULT_SETS = (  # small to large, so a long run leaves the small sets' results early
    "aime25",
    "qwen_math",
    "game24_standard",
    "game24_cot",
    "routerbench_mbpp",
    "gsm8k_solutions",
    "faithful_cot_gsm8k:300",  # first 300 of 1,319 questions: embedding all 39,570 takes hours on 2 cores
    "codet_humaneval_labelled",  # `memreward label` output of codet_humaneval.jsonl
    "routerbench_arc",
)


def _machine() -> str:
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {torch.get_num_threads()} torch threads, Python {platform.python_version()}"


def _fmt(vals: list[float | None], best: bool) -> str:
    arr = np.array([np.nan if v is None else v for v in vals], dtype=float)
    if np.isnan(arr).all():
        return "n/a"
    text = f"{np.nanmean(arr):.3f} ({np.nanstd(arr):.3f})"
    return f"**{text}**" if best else text


def _mean(vals: list[float | None]) -> float:
    arr = np.array([np.nan if v is None else v for v in vals], dtype=float)
    return float(np.nanmean(arr)) if len(arr) and not np.isnan(arr).all() else np.nan


def _served(run: dict) -> str:
    fit = run.get("memreward_fit") or {}
    if not fit:
        return "?"
    served = fit.get("anchor", "") + ("+gnn" if fit.get("residual_kept") else "")
    served = "vote" if fit.get("fallback_to_vote") else served
    short = {"threshold": "thr", "plurality": "plur", "expected_cag": "ecag", "constant": "const"}
    rule = short.get(fit.get("hard_rule"))
    if rule == "thr" and fit.get("hard_threshold", 0.5) != 0.5:
        rule += f"@{fit['hard_threshold']:g}"
    return f"{served}/{rule}" if rule else served


def _subsample(queries: list[Query], k: int) -> list[Query]:
    """K rollouts of each query, drawn without replacement (seed 0); queries with fewer keep theirs."""
    rng = np.random.default_rng(0)
    out = []
    for q in queries:
        keep = sorted(rng.choice(len(q.rollouts), size=min(k, len(q.rollouts)), replace=False))
        out.append(dataclasses.replace(q, rollouts=[q.rollouts[i] for i in keep]))
    return out


def table(results: dict, methods: list[str]) -> str:
    """Markdown: one row per set; AUC, within-group AUC and CAG per method (mean (std) over seeds).

    Also memreward's CAG under each hard-reward rule and what its fit served in each seed.
    """
    metrics = (("auc", "AUC", max), ("auc_within", "AUC-in", max), ("cag", "CAG", min))
    head = "| set | queries x rollouts | " + " | ".join(f"{m} {label}" for _, label, _ in metrics for m in methods)
    rules = ("threshold", "plurality", "expected_cag", "constant", "auto")
    head += " | " + " | ".join(f"memreward CAG {r}" for r in rules) + " | memreward served |"
    lines = [head, "|" + "---|" * (3 + len(metrics) * len(methods) + len(rules))]

    def vals(runs: list, m: str, key: str) -> list:  # a method a merged set was not run with: n/a
        return [r["methods"].get(m, {}).get(key) for r in runs]

    for name, res in results.items():
        runs = res["runs"]
        row = f"| {name} | {res['n_queries']} x {res['n_rollouts'] / res['n_queries']:.0f} | "
        cells = []
        for key, _, pick in metrics:
            per = {m: vals(runs, m, key) for m in methods}
            # Means compared to 6 decimals: equal rewards summed in another order are still a tie.
            means = {m: round(_mean(per[m]), 6) for m in methods}
            best = pick([v for v in means.values() if not np.isnan(v)], default=np.nan)
            cells += [_fmt(per[m], means[m] == best) for m in methods]
        if "memreward" in methods:
            for rule in rules:
                cells.append(
                    _fmt([(r["methods"]["memreward"].get("cag_by_rule") or {}).get(rule) for r in runs], False)
                )
        else:
            cells += ["n/a"] * len(rules)
        cells.append(", ".join(_served(r) for r in runs))
        lines.append(row + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(HERE / "data"), help="directory of converted rollout files")
    p.add_argument("--sets", default=",".join(DEFAULT_SETS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--label-ratio", type=float, default=0.2)
    p.add_argument("--methods", default=",".join(ALL_METHODS))
    p.add_argument("--fit-seeds", default="0,1,2", help="restarts of the one-split baselines (mlp)")
    p.add_argument("--no-execution", action="store_true", help="code keeps syntactic agreement (no sandbox runs)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--embed-model", default=None, help="embedder model name (e.g. all-MiniLM-L6-v2:int8); default: the config's"
    )
    p.add_argument("--out", default=str(HERE / "results" / "quality.json"))
    p.add_argument("--render", nargs="+", default=None, help="only merge these result JSONs into --out's .md table")
    args = p.parse_args()
    if args.render:
        merged, methods = _merge([json.loads(Path(path).read_text(encoding="utf-8")) for path in args.render])
        md = table(merged, methods)
        Path(args.out).with_suffix(".md").write_text(md + "\n", encoding="utf-8")
        print(md)
        return
    torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    results = {}
    for name in args.sets.split(","):
        head, _, per_query = name.partition("@")  # "set@K" = K rollouts of each query
        stem, _, limit = head.partition(":")  # "set:N" = the first N queries of the set
        path = Path(args.data) / f"{stem}.jsonl"
        if not path.is_file():
            print(f"skip {name}: {path} not found (run benchmarks/convert_all.py)")
            continue
        queries = read_rollouts(path)[: int(limit) if limit else None]
        if per_query:
            queries = _subsample(queries, int(per_query))
        cfg = MemRewardConfig()
        if args.embed_model:
            cfg.embed.model_name = args.embed_model
        cfg.fit.seeds = tuple(int(s) for s in args.fit_seeds.split(","))
        cfg.execution.enabled = not args.no_execution
        t0 = time.perf_counter()
        groups = encode_cached(queries, cfg, cache_dir=HERE / "cache")
        embed_s = time.perf_counter() - t0
        runs = []
        for seed in (int(s) for s in args.seeds.split(",")):
            t1 = time.perf_counter()
            rep = strip_predictions(evaluate(queries, args.label_ratio, seed, cfg, methods, groups))
            rep["wall_s"] = round(time.perf_counter() - t1, 1)
            runs.append(rep)
            aucs = " ".join(f"{m}={rep['methods'][m]['auc'] or float('nan'):.3f}" for m in methods)
            print(f"{name} seed {seed} ({rep['wall_s']} s): AUC {aucs}; memreward serves {_served(rep)}", flush=True)
        results[name] = {
            "n_queries": groups.num_queries,
            "n_rollouts": groups.num_rollouts,
            "embed_s": round(embed_s, 1),
            "runs": runs,
        }
        _write(results, methods, args)  # after every set, so a long run leaves usable results
    print(table(results, methods))


def _merge(files: list[dict]) -> tuple[dict, list[str]]:
    """Results of several runs as one: a later file's methods replace an earlier one's for the same set and seed.

    So a rerun of one method (e.g. ``--methods memreward`` after a change to it) overlays the
    baselines of an earlier full run on the same data and seeds.
    """
    merged: dict = {}
    seen: set[str] = set()
    for data in files:
        seen.update(data["meta"]["methods"])
        for name, res in data["results"].items():
            if name not in merged:
                merged[name] = json.loads(json.dumps(res))
                continue
            old = {r["seed"]: r for r in merged[name]["runs"]}
            for run in res["runs"]:
                if run["seed"] not in old:
                    merged[name]["runs"].append(run)
                    continue
                base = old[run["seed"]]
                base["methods"].update(run["methods"])
                if "memreward_fit" in run:
                    base["memreward_fit"] = run["memreward_fit"]
    return merged, [m for m in ALL_METHODS if m in seen]


def _write(results: dict, methods: list[str], args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "label_ratio": args.label_ratio,
        "seeds": args.seeds,
        "fit_seeds": args.fit_seeds,
        "machine": _machine(),
        "methods": methods,
    }
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2), encoding="utf-8")
    out.with_suffix(".md").write_text(table(results, methods) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
