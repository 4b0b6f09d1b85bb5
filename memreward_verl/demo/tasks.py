"""Procedural tasks with verifiable answers, pitched at a 135M-parameter model.

Single-digit addition, phrased three ways. Measured with SmolLM2-135M-Instruct at temperature 1.0
(8 prompts x 8 rollouts each, 64 new tokens): single-digit sums 41% right, products of 2..9 17%,
differences 14%, sums with a two-digit term 8%; below ~20% most groups are all wrong and GRPO
(and the demo) have little to learn from. BENCHMARKS.md gives the accuracy of the demo's own runs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["arithmetic_tasks", "ANSWER_FORMAT", "VAL_DATA_SOURCE"]

# The demo's validation rows (ability "math" picks the math verifier for this unregistered name).
VAL_DATA_SOURCE = "demo_arithmetic_val"

ANSWER_FORMAT = "Give the final answer as a number after ####."

_TEMPLATES = {"add": ("What is {a} + {b}?", "Compute {a} + {b}.", "Add {a} and {b}.")}
_RANGES = {"add": (1, 9)}


def arithmetic_tasks(
    n: int, seed: int = 0, split: str = "train", offset: int = 0, data_source: str = "math"
) -> list[dict]:
    """``n`` distinct verl parquet rows (seeded), starting at ``offset`` in one fixed shuffle.

    Disjoint ``offset`` ranges give disjoint prompt sets (train vs. held-out). Held-out rows get a data
    source of their own (``VAL_DATA_SOURCE``): the reward manager knows validation by verl's mark or by a
    data source listed in ``val_data_sources``, never by ``extra_info.split``.
    """
    pool = []
    for kind, templates in _TEMPLATES.items():
        lo, hi = _RANGES[kind]
        for a in range(lo, hi + 1):
            for b in range(lo, hi + 1):
                for t in range(len(templates)):
                    pool.append((kind, a, b, t))
    if offset + n > len(pool):
        raise ValueError(f"only {len(pool)} distinct demo tasks; asked for {n} after offset {offset}")
    order = np.random.default_rng(seed).permutation(len(pool))
    rows = []
    for i, j in enumerate(order[offset : offset + n]):
        kind, a, b, t = pool[j]
        answer = a + b
        question = f"{_TEMPLATES[kind][t].format(a=a, b=b)} {ANSWER_FORMAT}"
        rows.append(
            {
                "data_source": data_source,
                "prompt": [{"role": "user", "content": question}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(answer)},
                "extra_info": {
                    "split": split,
                    "index": offset + i,
                    "query_id": f"demo/{kind}/{a}-{b}-{t}",
                    "dataset": "demo_arithmetic",
                },
            }
        )
    return rows
