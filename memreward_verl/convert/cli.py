"""``memreward convert``: turn a public rollout set into the canonical JSONL.

Example::

    memreward convert --from faithful_cot ../shared/data/rollouts/faithful_cot/GSM8K --out faithful.jsonl
"""

from __future__ import annotations

import argparse
from typing import Any

from memreward_verl.convert import CONVERTERS, convert
from memreward_verl.convert.summary import format_summary, summarize
from memreward_verl.rollouts import write_rollouts

__all__ = ["add_parser", "run"]


def _parse_opts(pairs: list[str]) -> dict[str, Any]:
    opts = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--opt expects KEY=VALUE (got {pair!r})")
        opts[key.strip()] = value
    return opts


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``convert`` subcommand to the ``memreward`` parser."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a public rollout set to the canonical rollout JSONL",
        description=f"Convert a rollout set. Formats: {', '.join(CONVERTERS.names())}.",
    )
    parser.add_argument("--from", dest="fmt", required=True, metavar="FORMAT", help="input format name")
    parser.add_argument("input", help="input file or directory (as the format expects)")
    parser.add_argument("--out", required=True, help="output .jsonl (or .jsonl.gz)")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="keep only the first N queries")
    parser.add_argument(
        "--opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="converter option, e.g. answer_parse=last_number (repeatable)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Convert, write and print a one-line summary; returns the exit status."""
    if args.fmt not in CONVERTERS:
        raise ValueError(f"unknown format {args.fmt!r}; registered: {', '.join(CONVERTERS.names())}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be positive (got {args.limit})")
    queries = convert(args.fmt, args.input, **_parse_opts(args.opt))
    if args.limit is not None:
        queries = queries[: args.limit]
    write_rollouts(queries, args.out)
    print(f"{args.fmt} -> {args.out}: {format_summary(summarize(queries))}")
    return 0
