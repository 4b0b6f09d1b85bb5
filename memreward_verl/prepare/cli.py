"""``memreward prepare``: datasets -> verl parquet (train / val / test) + labelled query sets.

Usage::

    memreward prepare --domain mixed --out data/mixed                     # the paper's protocol
    memreward prepare --datasets gsm8k,math500 --per-dataset 200 --label-ratio 0.1,0.2 --out data/small
    memreward prepare --domain qa --gpqa-file gpqa_main.csv --source local --out data/qa

Writes OUT/{train,val,test}.parquet, OUT/labelled_<r>.json, OUT/train_labelled_<r>.parquet and
OUT/manifest.json (docs/prepare.md).
"""

from __future__ import annotations

import argparse

from memreward_verl.cli_args import creatable_dir, existing_file
from memreward_verl.prepare.build import PrepareConfig, prepare
from memreward_verl.prepare.registry import DATASETS, DOMAIN_SETS, resolve_names
from memreward_verl.prepare.sources import SOURCES
from memreward_verl.prepare.split import SPLIT_NAMES

__all__ = ["add_parser", "run", "parse_ratios"]


def parse_ratios(values: list[str] | None) -> tuple[float, ...]:
    """``--label-ratio`` values, each possibly a comma list: ``["0.1,0.2", "0.5"]`` -> (0.1, 0.2, 0.5)."""
    out: list[float] = []
    for value in values or ["0.2"]:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                out.append(float(part))
            except ValueError:
                raise ValueError(f"--label-ratio expects numbers in (0, 1] (got {part!r})") from None
    if not out:
        raise ValueError("--label-ratio is empty")
    return tuple(dict.fromkeys(out))


def _per_dataset(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all' (got {value!r})") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all' (got {value!r})")
    return count


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``prepare`` subcommand to the ``memreward`` parser."""
    p = sub.add_parser(
        "prepare",
        help="build verl parquet (train/val/test) and labelled query sets from public datasets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--datasets", default=None, help=f"comma list of: {', '.join(DATASETS)}")
    p.add_argument(
        "--domain",
        choices=sorted(DOMAIN_SETS),
        default=None,
        help="; ".join(f"{k} = {','.join(v)}" for k, v in DOMAIN_SETS.items()),
    )
    p.add_argument("--source", choices=SOURCES, default="auto", help="auto: local files when present, else the hub")
    p.add_argument(
        "--data-root",
        default="../shared/data",
        help="folder in the layout of shared/data (default ../shared/data, relative to the current directory)",
    )
    p.add_argument("--per-dataset", type=_per_dataset, default=1500, help="records kept per dataset, or 'all'")
    p.add_argument("--splits", default="0.5,0.2,0.3", help=f"fractions for {','.join(SPLIT_NAMES)} (sum to 1)")
    p.add_argument(
        "--label-ratio",
        action="append",
        default=None,
        help="labelled fraction of each train split, in (0, 1]; repeatable or a comma list (default 0.2)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--gpqa-file",
        type=existing_file,
        default=None,
        help="GPQA release CSV (gpqa_main.csv); GPQA is gated on the hub",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    # the outputs are written after every dataset is loaded and split: the folder is tried first
    creatable_dir(args.out, "--out")
    cfg = PrepareConfig(
        datasets=tuple(resolve_names(args.datasets, args.domain)),
        out_dir=args.out,
        source=args.source,
        data_root=args.data_root or None,
        per_dataset=args.per_dataset,
        splits=args.splits,
        label_ratios=parse_ratios(args.label_ratio),
        seed=args.seed,
        gpqa_file=args.gpqa_file,
    )
    manifest = prepare(cfg)
    for name, d in manifest["datasets"].items():
        skipped = f", skipped {d['skipped']}" if d["skipped"] else ""
        counts = " / ".join(str(d["counts"][s]) for s in SPLIT_NAMES)
        print(f"{name:16s} {d['source'][:60]:60s} pool {d['pool']:6d} -> {counts}{skipped}")
    total = " / ".join(f"{manifest['counts'][s]} {s}" for s in SPLIT_NAMES)
    labelled = ", ".join(f"{k}: {v['n_labelled']}" for k, v in manifest["labelled"].items())
    print(f"wrote {total} rows to {cfg.out_dir} (labelled {labelled})")
    return 0
