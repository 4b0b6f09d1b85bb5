"""Procedural arithmetic rollouts: a data set with true labels that needs no files (``memreward synth``).

:func:`arithmetic_rollouts` makes arithmetic questions with rollouts whose correctness follows a latent
per-query difficulty (harder: more digits, more operations) and whose wrong answers cluster on a few
distractors, as real sampled rollouts do. The texts are plain worked solutions ending in ``#### N``, so
every stage (node text, answer keys, embeddings, graph) runs on them for real. Tests build their
inputs from it too (testing.py), but it is a runtime feature, so it lives here, not among test builders.
"""

from __future__ import annotations

import numpy as np

from memreward_verl.rollouts import Query, Rollout

__all__ = ["arithmetic_rollouts"]


def arithmetic_rollouts(n_queries: int = 60, n_rollouts: int = 8, seed: int = 0) -> list[Query]:
    """Procedural arithmetic groups with true labels on every rollout.

    Args:
        n_queries: number of questions.
        n_rollouts: rollouts per question.
        seed: RNG seed (same seed, same records).
    """
    rng = np.random.default_rng(seed)
    ops = ["plus", "minus", "times"]
    queries = []
    for qi in range(n_queries):
        n_ops = int(rng.integers(1, 4))
        digits = int(rng.integers(1, 4))
        nums = [int(rng.integers(10 ** (digits - 1), 10**digits)) for _ in range(n_ops + 1)]
        chosen = [ops[int(rng.integers(0, 3))] for _ in range(n_ops)]
        value = nums[0]
        words = [str(nums[0])]
        for op, x in zip(chosen, nums[1:]):
            value = value + x if op == "plus" else value - x if op == "minus" else value * x
            words += [op, str(x)]
        question = f"A shop starts with {nums[0]} items. Compute {' '.join(words)}. What is the result?"
        difficulty = 0.15 * n_ops + 0.12 * digits + rng.normal(0, 0.1)
        p_correct = float(np.clip(1.05 - difficulty, 0.05, 0.95))
        distractors = [value + int(d) for d in rng.choice([-10, -2, -1, 1, 2, 10, 100], size=2, replace=False)]
        rollouts = []
        for ri in range(n_rollouts):
            correct = rng.random() < p_correct
            answer = (
                value
                if correct
                else distractors[int(rng.integers(0, 2))]
                if rng.random() < 0.8
                else value + 7 * (ri + 1)
            )
            steps = " then ".join(f"apply {op} {x}" for op, x in zip(chosen, nums[1:]))
            style = ["Let me compute step by step:", "We evaluate left to right:", "Working it out:"][ri % 3]
            text = f"{style} start from {nums[0]}, {steps}. The result is {answer}.\n#### {answer}"
            rollouts.append(Rollout(text=text, label=int(answer == value), meta={"sample": ri}))
        queries.append(
            Query(
                query_id=f"arith-{seed}-{qi}",
                domain="math",
                data_source="arithmetic",
                question=question,
                ground_truth=str(value),
                rollouts=rollouts,
            )
        )
    return queries
