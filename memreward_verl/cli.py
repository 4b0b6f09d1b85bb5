"""The ``memreward`` command line.

Usage::

    memreward convert --from gsm8k_model_solutions IN.jsonl.gz --out rollouts.jsonl
    memreward label ROLLOUTS.jsonl --out LABELLED.jsonl
    memreward eval ROLLOUTS.jsonl --label-ratio 0.2 --seed 0 --out report.json
    memreward preflight -- trainer.n_gpus_per_node=4 ...   # before verl's main_ppo

Each subcommand lives next to the stage it drives, in a module exposing
``add_parser(subparsers)``; the parser's ``func(args) -> int`` runs it. Only the CLI prints.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

__all__ = ["main", "build_parser"]

# Modules contributing subcommands, in the order they appear in ``--help``.
SUBCOMMAND_MODULES = (
    "memreward_verl.convert.cli",
    "memreward_verl.verify.cli",
    "memreward_verl.evaluate_cli",
    "memreward_verl.synth_cli",
    "memreward_verl.warmup.cli",
    "memreward_verl.demo.cli",
    "memreward_verl.acquisition.cli",
    "memreward_verl.prepare.cli",
    "memreward_verl.integration.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memreward", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # faiss logs each SIMD build it tries and fails to load ("Could not load library with AVX512
    # support ... ModuleNotFoundError") at INFO before loading the generic one: noise, not errors.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, EOFError) as exc:  # bad input: the message names the file or the option
        print(f"memreward {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing, unreadable or unwritable path: name it, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"memreward {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
