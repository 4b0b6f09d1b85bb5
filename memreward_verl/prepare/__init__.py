"""Turn public datasets into verl parquet (train / val / test) with nested label budgets.

Usage::

    from memreward_verl.prepare import PrepareConfig, prepare, labelled_path
    prepare(PrepareConfig(datasets=("gsm8k", "mmlu"), out_dir=Path("data/mixed")))
    labelled_path("data/mixed", 0.2)  # -> data/mixed/labelled_0.2.json

Modules: ``registry`` (the known datasets), ``sources`` (loading a pool from local files or the
hub), ``readers`` (file formats), ``math_sources`` / ``qa_sources`` / ``code_sources`` (one
converter per dataset layout), ``prompts`` (one answer format per domain), ``split`` (seeded
subsample, split, nested labels), ``writer`` (rows, file names, atomic writes), ``build`` (the
pipeline), ``cli`` (``memreward prepare``). See docs/prepare.md.
"""

from __future__ import annotations

from memreward_verl.prepare.build import PrepareConfig, prepare
from memreward_verl.prepare.records import Example, Loaded, RecordError
from memreward_verl.prepare.registry import DATASETS, DOMAIN_SETS, resolve_names
from memreward_verl.prepare.sources import LoadOptions, load_dataset
from memreward_verl.prepare.writer import (
    format_ratio,
    labelled_parquet_path,
    labelled_path,
    manifest_path,
    read_labelled,
    split_path,
)

__all__ = [
    "PrepareConfig",
    "prepare",
    "Example",
    "Loaded",
    "RecordError",
    "DATASETS",
    "DOMAIN_SETS",
    "LoadOptions",
    "load_dataset",
    "resolve_names",
    "format_ratio",
    "labelled_path",
    "labelled_parquet_path",
    "manifest_path",
    "read_labelled",
    "split_path",
]
