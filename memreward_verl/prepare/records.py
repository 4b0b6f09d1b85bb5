"""The normalised record every loader produces, whatever the source format.

Loaders only read and validate; they never phrase prompts. Keeping the dataset's own text apart
from the instructions lets one prompt template per domain serve every dataset of that domain.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Example", "Loaded", "RecordError"]


class RecordError(ValueError):
    """A source record is malformed (the message names the file or source and the record)."""


@dataclass(frozen=True)
class Example:
    """One question of one dataset, before prompting.

    Attributes:
        dataset: registry name of the dataset (``"gsm8k"``).
        source_split: the split of the source it came from (``"train"``, ``"test"``, ...).
        source_id: the record's id in its source (native id when it has one, else its 0-based index).
        question: math: the problem; QA: the stem (with any context); code: the stub shown to the
            model (signature + docstring, never tests).
        ground_truth: math: the final answer; QA: the option letter; code: the tests JSON.
        choices: QA option texts in label order (A, B, ...); empty for other domains.
        solution: the dataset's reference solution when it has one (a worked solution, or a full
            program for code); used to check ground truths, never written to the parquet.
    """

    dataset: str
    source_split: str
    source_id: str
    question: str
    ground_truth: str
    choices: tuple[str, ...] = ()
    solution: str | None = None

    @property
    def query_id(self) -> str:
        """Stable and unique across datasets: ``<dataset>/<source split>/<source id>``."""
        return f"{self.dataset}/{self.source_split}/{self.source_id}"


@dataclass
class Loaded:
    """What a loader returns: the pool, where it came from, and the records it skipped (by reason)."""

    examples: list[Example]
    source: str
    skipped: Counter = field(default_factory=Counter)
