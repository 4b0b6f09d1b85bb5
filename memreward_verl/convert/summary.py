"""Label statistics of a converted set, printed by the CLI and the benchmark script.

The share of *mixed* groups (both a correct and an incorrect rollout) matters most: only those
groups give a GRPO-style learner any signal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memreward_verl.rollouts import Query

__all__ = ["format_summary", "summarize"]


def summarize(queries: Iterable[Query]) -> dict[str, Any]:
    """Count queries, rollouts and labels.

    Args:
        queries: converted queries.

    Returns:
        A dict with ``queries``, ``rollouts``, ``correct``, ``incorrect``, ``unlabelled``,
        ``mixed`` (groups holding both a 0 and a 1), ``pct_correct`` (of labelled rollouts; None
        when none is labelled) and ``pct_mixed`` (of all queries).
    """
    n_q = n_r = correct = incorrect = unlabelled = mixed = 0
    for q in queries:
        n_q += 1
        labels = q.labels
        n_r += len(labels)
        ones = labels.count(1)
        zeros = labels.count(0)
        correct += ones
        incorrect += zeros
        unlabelled += labels.count(None)
        mixed += bool(ones and zeros)
    labelled = correct + incorrect
    return {
        "queries": n_q,
        "rollouts": n_r,
        "correct": correct,
        "incorrect": incorrect,
        "unlabelled": unlabelled,
        "mixed": mixed,
        "pct_correct": 100.0 * correct / labelled if labelled else None,
        "pct_mixed": 100.0 * mixed / n_q if n_q else 0.0,
    }


def format_summary(stats: dict[str, Any]) -> str:
    """Render :func:`summarize` output as one line."""
    pct = "n/a" if stats["pct_correct"] is None else f"{stats['pct_correct']:.1f}%"
    return (
        f"{stats['queries']} queries, {stats['rollouts']} rollouts, labels 1={stats['correct']} "
        f"0={stats['incorrect']} null={stats['unlabelled']} ({pct} correct), "
        f"{stats['mixed']} mixed groups ({stats['pct_mixed']:.1f}%)"
    )
