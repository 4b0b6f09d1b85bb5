"""Convert every real rollout set in ``../shared/data/rollouts`` to canonical JSONL, one file per set.

Usage::

    python benchmarks/convert_all.py [OUT_DIR] [--data DATA_DIR]

OUT_DIR defaults to ``benchmarks/data/`` (git-ignored); DATA_DIR to ``<project>/../shared/data``.
Prints one summary line per set and exits 1 if the data directory is absent.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from memreward_verl.convert import convert
from memreward_verl.convert.summary import format_summary, summarize
from memreward_verl.rollouts import write_rollouts

ROOT = Path(__file__).resolve().parents[1]
ROUTER = "routerbench_via_routerdc"
GAME = "tot_game24_gpt4"

#: output file -> (format, inputs relative to the rollouts dir; several inputs are concatenated)
SETS = {
    "gsm8k_solutions.jsonl": (
        "gsm8k_model_solutions",
        ["gsm8k_openai_model_solutions/example_model_solutions.jsonl.gz"],
    ),
    "faithful_cot_gsm8k.jsonl": ("faithful_cot", ["faithful_cot/GSM8K"]),
    "routerbench_mbpp.jsonl": ("routerbench", [f"{ROUTER}/mbpp_train.csv.gz", f"{ROUTER}/mbpp_test.csv.gz"]),
    "routerbench_arc.jsonl": (
        "routerbench",
        [f"{ROUTER}/arc_challenge_train.csv.gz", f"{ROUTER}/arc_challenge_test.csv.gz"],
    ),
    "qwen_math.jsonl": ("qwen_math", ["qwen25math_math_rm_maj/math_cot_100.jsonl.gz"]),
    "aime25.jsonl": ("aime25", ["aime25_reasoning_models"]),
    "codet_humaneval.jsonl": (
        "codet_humaneval",
        ["codet_humaneval_codegen16b/HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl.gz"],
    ),
    "game24_cot.jsonl": ("game24", [f"{GAME}/gpt-4_0.7_naive_cot_sample_100_start900_end1000.json.gz"]),
    "game24_standard.jsonl": ("game24", [f"{GAME}/gpt-4_0.7_naive_standard_sample_100_start900_end1000.json.gz"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?", default=str(ROOT / "benchmarks" / "data"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="the shared data directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    rollouts_dir = Path(args.data) / "rollouts"
    if not rollouts_dir.is_dir():
        print(f"convert_all: no rollout data at {rollouts_dir}", file=sys.stderr)
        return 1
    out_dir = Path(args.out_dir)
    for name, (fmt, inputs) in SETS.items():
        start = time.perf_counter()
        queries = [q for rel in inputs for q in convert(fmt, rollouts_dir / rel)]
        write_rollouts(queries, out_dir / name)
        elapsed = time.perf_counter() - start
        print(f"{name:26s} {format_summary(summarize(queries))} [{elapsed:.1f}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
