"""``memreward preflight``: check a ``main_ppo`` command (Ray CPUs, sampling, GPU imports) before it starts.

Usage::

    memreward preflight -- algorithm.adv_estimator=grpo trainer.n_gpus_per_node=4 ...

Exit status 0 when the run may start; 1 with one line per problem (each naming the override to
change) otherwise. The recipes in examples/ run it right before ``main_ppo`` (docs: examples/README.md).
"""

from __future__ import annotations

import argparse
import sys

from memreward_verl.cli_args import positive_float

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "preflight",
        help="check a main_ppo command's Ray CPUs, sampling settings and GPU-side imports before it starts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--cpus",
        type=positive_float,
        default=None,
        help="CPUs Ray will have (default: ray_init.num_cpus, else the node's)",
    )
    p.add_argument("--no-import-check", action="store_true", help="skip the installed-modules check")
    p.add_argument("overrides", nargs="*", help="the hydra overrides main_ppo gets")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from hydra.errors import HydraException

    from memreward_verl.integration.preflight import preflight

    try:
        report = preflight(args.overrides, cpus=args.cpus, check_imports=not args.no_import_check)
    except HydraException as exc:
        print(f"memreward preflight: error: the overrides do not compose against verl's config: {exc}", file=sys.stderr)
        return 1
    print(f"memreward preflight: {report.summary()}", file=sys.stderr)
    for err in report.errors:
        print(f"memreward preflight: error: {err}", file=sys.stderr)
    return 1 if report.errors else 0
