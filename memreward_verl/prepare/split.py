"""Seeded subsampling, train/val/test splitting and nested label budgets, per dataset.

Every random choice for a dataset comes from a generator seeded by ``(seed, dataset name)``, so a
dataset's split does not change when other datasets are added to or removed from a run. Two
independent streams are used: one orders the pool (the first ``per_dataset`` items are kept and cut
into train / val / test in that order), the other orders the train split for labelling. Labelled
sets are prefixes of that one order, so a smaller ratio's set is always inside a larger one's.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

__all__ = [
    "SPLIT_NAMES",
    "SplitSizes",
    "parse_fractions",
    "split_sizes",
    "split_pool",
    "check_ratio",
    "label_count",
    "label_order",
]

T = TypeVar("T")

SPLIT_NAMES = ("train", "val", "test")


def _rng(seed: int, dataset: str, stream: str) -> np.random.Generator:
    # A stable integer per (dataset, stream): Python's hash() is salted per process.
    digest = hashlib.sha256(f"{dataset}\0{stream}".encode()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


@dataclass(frozen=True)
class SplitSizes:
    """How many items of one dataset go to each split."""

    train: int
    val: int
    test: int

    @property
    def total(self) -> int:
        return self.train + self.val + self.test


def parse_fractions(fractions: Sequence[float] | str) -> tuple[float, float, float]:
    """Validate train/val/test fractions (``"0.5,0.2,0.3"`` or a sequence); they must sum to 1.

    Raises:
        ValueError: naming the bad value (wrong count, negative, no train part, sum not 1).
    """
    if isinstance(fractions, str):
        try:
            fractions = [float(x) for x in fractions.split(",") if x.strip()]
        except ValueError:
            raise ValueError(f"--splits must be three comma-separated numbers (got {fractions!r})") from None
    fr = tuple(float(x) for x in fractions)
    if len(fr) != 3:
        raise ValueError(f"splits need three fractions train,val,test (got {len(fr)}: {fr})")
    if any(not math.isfinite(x) or x < 0 for x in fr):
        raise ValueError(f"split fractions must be finite and >= 0 (got {fr})")
    if fr[0] <= 0:
        raise ValueError(f"the train fraction must be > 0 (got {fr})")
    if abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1 (got {fr}, sum {sum(fr):g})")
    return fr  # type: ignore[return-value]


def split_sizes(n: int, fractions: Sequence[float]) -> SplitSizes:
    """Cut ``n`` items by fractions with the largest-remainder rule (sizes sum to ``n`` exactly)."""
    fr = parse_fractions(fractions)
    raw = [f * n for f in fr]
    sizes = [math.floor(x) for x in raw]
    # Hand the leftover items to the largest remainders; ties go to the earlier split.
    order = sorted(range(3), key=lambda i: (-(raw[i] - sizes[i]), i))
    for i in order[: n - sum(sizes)]:
        sizes[i] += 1
    return SplitSizes(*sizes)


def split_pool(
    items: Sequence[T], dataset: str, per_dataset: int | None, fractions: Sequence[float], seed: int
) -> dict[str, list[T]]:
    """Subsample ``min(per_dataset, len(items))`` items and cut them into train / val / test.

    Args:
        items: the dataset's whole pool, in source order (the order matters for reproducibility).
        dataset: dataset name (seeds its own stream).
        per_dataset: how many to keep; ``None`` keeps the whole pool.
        fractions: train, val, test fractions.
        seed: the run's seed.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}`` in the permutation's order.

    Raises:
        ValueError: empty pool or a non-positive ``per_dataset`` (naming the dataset).
    """
    if not items:
        raise ValueError(f"dataset {dataset!r} has no usable records")
    if per_dataset is not None and per_dataset < 1:
        raise ValueError(f"per-dataset count must be >= 1 (got {per_dataset} for {dataset!r})")
    n = len(items) if per_dataset is None else min(per_dataset, len(items))
    perm = _rng(seed, dataset, "subsample").permutation(len(items))[:n]
    sizes = split_sizes(n, fractions)
    if sizes.train == 0:
        raise ValueError(f"dataset {dataset!r}: {n} records leave no train item with fractions {tuple(fractions)}")
    picked = [items[int(i)] for i in perm]
    return {
        "train": picked[: sizes.train],
        "val": picked[sizes.train : sizes.train + sizes.val],
        "test": picked[sizes.train + sizes.val :],
    }


def check_ratio(ratio: float) -> float:
    """A label ratio must be a number in (0, 1] (1 labels the whole train split).

    Raises:
        ValueError: naming the bad ratio.
    """
    if isinstance(ratio, bool) or not (isinstance(ratio, int | float) and math.isfinite(ratio) and 0.0 < ratio <= 1.0):
        raise ValueError(f"label ratio must be in (0, 1] (got {ratio!r})")
    return float(ratio)


def label_count(ratio: float, n_train: int, dataset: str) -> int:
    """``round(ratio * n_train)`` (halves up); zero labelled queries is an error naming the dataset.

    Raises:
        ValueError: ratio outside (0, 1], or a ratio too small to label any query of ``dataset``.
    """
    check_ratio(ratio)
    k = math.floor(ratio * n_train + 0.5)
    if k < 1:
        raise ValueError(
            f"label ratio {ratio:g} labels no query of dataset {dataset!r} ({n_train} train queries); "
            f"use a ratio >= {0.5 / max(n_train, 1):.3g} or more data"
        )
    return min(k, n_train)


def label_order(train_ids: Sequence[str], dataset: str, seed: int) -> list[str]:
    """The dataset's one labelling order: labelled at ratio r = the first ``label_count(r)`` ids."""
    perm = _rng(seed, dataset, "label").permutation(len(train_ids))
    return [train_ids[int(i)] for i in perm]
