"""Which prompts GRPO trains on, given what the warm-up fit will serve for the unlabelled ones.

Where the fit serves ``constant`` (no rule's out-of-fold CAG beat equal rewards), every unlabelled
group gets equal rewards: zero GRPO advantage, so no policy gradient. Kept in the batch they only
thin out the labelled groups that carry the signal (with 20% labels, about 1.6 of 8 prompts a step),
while Adam still takes a full-size step along that thinner, noisier gradient. Training on the
labelled prompts alone gives the same per-group gradient with about five times as many groups a
step (BENCHMARKS.md sections 7 and 8). With online acquisition the unlabelled prompts stay: bought
groups get ground truth.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memreward_verl.decision import AUTO_RULE, resolve_rule
from memreward_verl.files import read_json

__all__ = ["UNLABELLED_POLICIES", "TrainPrompts", "served_rule", "training_prompts"]

# auto: drop the unlabelled prompts exactly when they would get zero advantage; keep/drop: always.
UNLABELLED_POLICIES = ("auto", "keep", "drop")


@dataclass(frozen=True)
class TrainPrompts:
    """The rows to train on and why (printed by the demo, recorded in its report)."""

    rows: list[dict[str, Any]]
    labelled: int
    unlabelled: int  # unlabelled rows kept
    dropped: int  # unlabelled rows left out
    reason: str


def training_prompts(
    rows: Sequence[dict[str, Any]],
    labelled_ids: Collection[str],
    served_rule: str | None,
    policy: str = "auto",
    acquisition: bool = False,
) -> TrainPrompts:
    """The verl rows (``extra_info.query_id``) to train on.

    Args:
        rows: the training prompts, every one in the warm-up memory.
        labelled_ids: query ids with ground truth.
        served_rule: the hard rule the reward worker will serve (``auto`` resolved; None: a mode
            without one, e.g. soft rewards or the vote).
        policy: ``auto`` (drop the unlabelled prompts when ``served_rule`` is ``constant`` and no
            acquisition runs), ``keep`` or ``drop``.
        acquisition: online label acquisition is on (bought groups get ground truth).

    Raises:
        ValueError: an unknown policy, a row without a query id, or no labelled row left to train on.
    """
    if policy not in UNLABELLED_POLICIES:
        raise ValueError(f"unlabelled prompts: policy must be one of {UNLABELLED_POLICIES} (got {policy!r})")
    labelled_ids = set(labelled_ids)
    lab, unlab = [], []
    for i, r in enumerate(rows):
        qid = (r.get("extra_info") or {}).get("query_id")
        if not qid:
            raise ValueError(f"training row {i} has no extra_info.query_id")
        (lab if qid in labelled_ids else unlab).append(r)
    if policy == "drop":
        drop, reason = True, "--unlabelled drop"
    elif policy == "keep":
        drop, reason = False, "--unlabelled keep"
    elif served_rule == "constant" and not acquisition:
        drop = True
        reason = "the fit serves constant: the unlabelled prompts would get equal rewards, zero advantage"
    else:
        drop = False
        reason = f"the fit serves {served_rule}" if served_rule else "every prompt is rewarded"
        reason += "; acquisition may buy their labels" if acquisition and served_rule == "constant" else ""
    if drop and not lab:
        raise ValueError(f"no labelled training prompt to train on ({reason}); label some or keep the unlabelled")
    kept = lab if drop else list(rows)
    return TrainPrompts(kept, len(lab), 0 if drop else len(unlab), len(unlab) if drop else 0, reason)


def served_rule(artifact_dir: str | Path) -> str | None:
    """The hard rule ``hard_rule=auto`` serves for this artifact (its fit's choice); None without a fit
    record (no ``metrics.json``). The recipes call it after the warm-up to choose their training file.

    Raises:
        FileFormatError: a ``metrics.json`` that is not a JSON object (a ValueError).
        ValueError: a fit record naming an unknown rule.
    """
    path = Path(artifact_dir) / "metrics.json"
    if not path.is_file():
        return None
    return resolve_rule(AUTO_RULE, 0.5, read_json(path, dict))[0]
