"""``memreward label``: fill the labels of a rollout file with the ground-truth verifiers."""

from __future__ import annotations

import argparse

from memreward_verl.cli_args import existing_file, positive_float, positive_int, writable_file
from memreward_verl.files import atomic_write_json
from memreward_verl.verify.code_verifier import CodeConfig
from memreward_verl.verify.label import LabelConfig, label_file
from memreward_verl.verify.sandbox import SandboxConfig, sandbox_capabilities

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``label`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers()``.

    Returns:
        The new subparser (its ``func`` runs the command and returns an exit status).
    """
    p = subparsers.add_parser(
        "label",
        help="label rollouts with the math / multiple-choice / code verifiers",
        description="Verify every rollout of the queries that have a ground truth; queries without one keep "
        "null labels. Code runs in a sandbox (see docs/verifiers.md).",
    )
    p.add_argument("rollouts", type=existing_file, help="input rollout file (.jsonl or .jsonl.gz)")
    p.add_argument("--out", required=True, help="output rollout file")
    p.add_argument("--jobs", type=positive_int, default=None, help="worker processes (default: one per CPU)")
    p.add_argument("--only-missing", action="store_true", help="keep existing labels; verify only null ones")
    p.add_argument("--no-status", action="store_true", help="do not record the verifier status in rollout meta")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--code-timeout",
        type=positive_float,
        default=None,
        help="CPU-seconds limit per program (the wall-clock limit is 2.5x that, at least 10 s)",
    )
    p.add_argument("--code-memory-mb", type=positive_int, default=None, help="address-space limit per program (MiB)")
    p.add_argument("--report", default=None, help="also write the run report as JSON to this path")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``memreward label``; returns the process exit status."""
    # both outputs are tried before any program runs (a long labelling run would be lost otherwise)
    writable_file(args.out, "--out")
    if args.report:
        writable_file(args.report, "--report")
    code = None
    if args.code_timeout is not None or args.code_memory_mb is not None:
        base = SandboxConfig()
        code = CodeConfig(
            sandbox=SandboxConfig(
                cpu_time_s=args.code_timeout if args.code_timeout is not None else base.cpu_time_s,
                wall_time_s=max(10.0, 2.5 * args.code_timeout) if args.code_timeout is not None else base.wall_time_s,
                memory_mb=args.code_memory_mb if args.code_memory_mb is not None else base.memory_mb,
            )
        )
    config = LabelConfig(
        jobs=args.jobs,
        only_missing=args.only_missing,
        record_status=not args.no_status,
        progress=not args.no_progress,
        code=code,
    )
    report = label_file(args.rollouts, args.out, config)
    print(
        f"labelled {report.n_rollouts_verified} rollouts of {report.n_queries_labelled} queries in "
        f"{report.wall_s:.1f}s: {report.n_correct} correct ({report.pass_rate:.1%})"
    )
    if report.n_queries_without_ground_truth:
        print(
            f"{report.n_queries_without_ground_truth} queries ({report.n_rollouts_unlabelled} rollouts) have no "
            "ground truth: labels left null"
        )
    if report.n_rollouts_kept:
        print(f"{report.n_rollouts_kept} existing labels kept (--only-missing)")
    print("statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(report.statuses.items())))
    if report.by_domain.get("code"):
        caps = sandbox_capabilities()
        active = [k for k, v in caps.items() if v is True and k not in ("probe_ok", "running_as_root")]
        print("sandbox protections active: " + ", ".join(active))
    print(f"wrote {args.out}")
    if args.report:
        atomic_write_json(args.report, report.to_dict())
    return 0
