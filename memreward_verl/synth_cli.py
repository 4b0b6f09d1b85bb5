"""``memreward synth``: write a procedural rollout file (the embedded default data set).

Usage::

    memreward synth --queries 300 --rollouts 8 --seed 0 --out runs/main/arith.jsonl

The records are arithmetic questions with worked solutions ending in ``#### N``; their labels
follow a latent difficulty and wrong answers cluster on distractors (see synth.py). Useful to try
the pipeline with no data at hand; real rollout sets come through ``memreward convert``.
"""

from __future__ import annotations

import argparse

from memreward_verl.cli_args import int_at_least, positive_int, writable_file
from memreward_verl.rollouts import write_rollouts
from memreward_verl.synth import arithmetic_rollouts

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write a procedural arithmetic rollout file", description=__doc__)
    p.add_argument("--queries", type=int_at_least(4), default=300, help="queries to write, >= 4 (default 300)")
    p.add_argument("--rollouts", type=positive_int, default=8, help="rollouts per query (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="rollout file to write (.jsonl or .jsonl.gz)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    writable_file(args.out, "--out")
    n = write_rollouts(arithmetic_rollouts(args.queries, args.rollouts, args.seed), args.out)
    print(f"wrote {n} queries x {args.rollouts} rollouts to {args.out}")
    return 0
