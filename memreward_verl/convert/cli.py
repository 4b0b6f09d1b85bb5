"""``memreward convert``: turn a public rollout set into the canonical JSONL.

Example::

    memreward convert --from faithful_cot ../shared/data/rollouts/faithful_cot/GSM8K --out faithful.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memreward_verl.cli_args import existing_path, positive_int, writable_file
from memreward_verl.convert import CONVERTERS, convert, converter_options
from memreward_verl.convert.aime25 import convert_aime25
from memreward_verl.convert.faithful_cot import convert_faithful_cot
from memreward_verl.convert.summary import format_summary, summarize
from memreward_verl.rollouts import write_rollouts

__all__ = ["add_parser", "run"]

#: What each converter reads as its positional input, where it is not a single file.
INPUT_KINDS = {convert_faithful_cot: "directory", convert_aime25: "file or directory"}

#: Converter options that name an input file (checked before converting).
FILE_OPTIONS = ("gold", "problems", "puzzles", "mbpp_tests")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expects KEY=VALUE (got {text!r})")
    return key.strip(), value


def check_input(fmt: str, path: str, opts: dict[str, str]) -> None:
    """The input is what the converter reads (a file, or a directory), its options are ones it takes, and
    the files they name exist.

    Raises:
        KeyError: an unknown format (the registered ones listed).
        ValueError: an input of the wrong kind, an unknown option, or an option naming no file.
    """
    func = CONVERTERS.get(fmt)
    kind = INPUT_KINDS.get(func, "file")
    p = Path(path)
    if kind == "file" and not p.is_file():
        raise ValueError(f"input {path}: is a directory; format {fmt!r} reads one file")
    if kind == "directory" and not p.is_dir():
        raise ValueError(f"input {path}: is a file; format {fmt!r} reads a directory")
    valid = converter_options(fmt)
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise ValueError(f"converter {fmt!r} does not take option(s) {unknown}; valid: {valid or '(none)'}")
    for key in FILE_OPTIONS:
        if key in opts and not Path(opts[key]).is_file():
            state = "is a directory, not a file" if Path(opts[key]).is_dir() else "no such file"
            raise ValueError(f"--opt {key}={opts[key]}: {state}")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``convert`` subcommand to the ``memreward`` parser."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a public rollout set to the canonical rollout JSONL",
        description=f"Convert a rollout set. Formats: {', '.join(CONVERTERS.names())}.",
    )
    parser.add_argument("--from", dest="fmt", required=True, metavar="FORMAT", help="input format name")
    parser.add_argument("input", type=existing_path, help="input file or directory (as the format expects)")
    parser.add_argument("--out", required=True, help="output .jsonl (or .jsonl.gz)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N", help="keep only the first N queries")
    parser.add_argument(
        "--opt",
        type=_key_value,
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
    opts = dict(args.opt)
    check_input(args.fmt, args.input, opts)
    writable_file(args.out, "--out")
    queries = convert(args.fmt, args.input, **opts)
    if args.limit is not None:
        queries = queries[: args.limit]
    write_rollouts(queries, args.out)
    print(f"{args.fmt} -> {args.out}: {format_summary(summarize(queries))}")
    return 0
