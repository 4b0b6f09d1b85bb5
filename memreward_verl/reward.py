"""The hybrid reward rule: who gets ground truth, who gets the GNN, and how probabilities become rewards.

Routing (:func:`route_sample`): validation samples and prompts in the artifact's labelled set are
scored by the verifier; every other prompt by the graph-memory prediction. An unlabelled prompt
never receives its ground truth as reward: errors are raised, never answered with the verifier.

Every result carries the same extra-info keys (:data:`EXTRA_KEYS`), because verl stacks them into
one array per key: ``acc`` (the verifier's verdict when one was computed, else NaN),
``reward_source``, ``pred_prob``, ``hidden_gt`` (logged only, never a reward), ``pred_correct``,
``abstained`` and ``timed_out``. Pure code: no verl or ray import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memreward_verl.decision import HARD_RULES, hard_rewards, single_answer

__all__ = [
    "REWARD_MODES",
    "HARD_RULES",
    "SOURCES",
    "EXTRA_KEYS",
    "RewardSample",
    "RewardRule",
    "SampleReward",
    "route_sample",
]

REWARD_MODES = ("hard", "soft", "abstain")
# reward_source values: validation and labelled prompts use the verifier, the rest the prediction.
SOURCES = ("validation", "ground_truth", "predicted", "neutral")
EXTRA_KEYS = ("acc", "reward_source", "pred_prob", "hidden_gt", "pred_correct", "abstained", "timed_out")
NAN = float("nan")


@dataclass
class RewardSample:
    """One decoded rollout, free of verl types (what the manager sends to the memory worker).

    ``uid`` groups the n rollouts of a prompt; ``query_id`` names the prompt in the artifact (None:
    unknown, hence unlabelled); ``domain`` picks the answer normaliser.
    """

    uid: str | None
    query_id: str | None
    data_source: str
    question: str
    response: str
    ground_truth: str | None = None
    ability: str | None = None
    domain: str = "unknown"
    extra_info: dict[str, Any] = field(default_factory=dict)
    is_validation: bool = False
    response_length: int = 0
    sample_key: str = ""

    def describe(self) -> str:
        """Short identification for error messages."""
        return f"sample(uid={self.uid!r}, query_id={self.query_id!r}, data_source={self.data_source!r})"


def route_sample(sample: RewardSample, labelled_ids: frozenset[str] | set[str]) -> str:
    """``"validation"``, ``"ground_truth"`` or ``"predicted"`` for one sample (see module docstring)."""
    if sample.is_validation:
        return "validation"
    if sample.query_id is not None and sample.query_id in labelled_ids:
        return "ground_truth"
    return "predicted"


@dataclass(frozen=True)
class SampleReward:
    """The reward of one sample and what verl logs beside it."""

    score: float
    source: str
    pred_prob: float = NAN
    acc: float = NAN
    hidden_gt: float = NAN
    pred_correct: float = NAN
    abstained: bool = False
    timed_out: bool = False

    def extra_info(self) -> dict[str, Any]:
        """The fixed-key ``reward_extra_info`` dict."""
        return {
            "acc": float(self.acc),
            "reward_source": self.source,
            "pred_prob": float(self.pred_prob),
            "hidden_gt": float(self.hidden_gt),
            "pred_correct": float(self.pred_correct),
            "abstained": float(self.abstained),
            "timed_out": float(self.timed_out),
        }

    @classmethod
    def from_verifier(cls, score: float, source: str) -> SampleReward:
        """Reward of a validation or labelled sample: the verifier's score."""
        if source not in ("validation", "ground_truth"):
            raise ValueError(f"verifier rewards have source 'validation' or 'ground_truth' (got {source!r})")
        return cls(score=float(score), source=source, acc=float(score))

    @classmethod
    def from_prediction(
        cls,
        score: float,
        prob: float,
        hidden_gt: float | None,
        *,
        abstained: bool,
        timed_out: bool,
        neutral: bool,
        threshold: float = 0.5,
    ) -> SampleReward:
        """Reward of an unlabelled sample; ``hidden_gt`` (or None) is only logged and compared."""
        hidden = NAN if hidden_gt is None else float(hidden_gt)
        correct = NAN
        if not math.isnan(hidden) and not math.isnan(prob):
            correct = float((prob >= threshold) == (hidden >= 0.5))
        return cls(
            score=float(score),
            source="neutral" if neutral else "predicted",
            pred_prob=float(prob),
            acc=hidden,
            hidden_gt=hidden,
            pred_correct=correct,
            abstained=abstained,
            timed_out=timed_out,
        )


@dataclass(frozen=True)
class RewardRule:
    """Probabilities of one group -> rewards.

    Args:
        mode: ``"hard"``, ``"soft"`` or ``"abstain"`` (default ``"hard"``).
        hard_rule: ``"threshold"`` or ``"expected_cag"`` (default ``"threshold"``).
        threshold: decision threshold (default 0.5).
        abstain_band: half-width of the uncertainty band around ``threshold`` (default 0.15).
        abstain_reward: the constant reward of an abstained group (default 0.0).
    """

    mode: str = "hard"
    hard_rule: str = "threshold"
    threshold: float = 0.5
    abstain_band: float = 0.15
    abstain_reward: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in REWARD_MODES:
            raise ValueError(f"'mode' must be one of {list(REWARD_MODES)} (got {self.mode!r})")
        if self.hard_rule not in HARD_RULES:
            raise ValueError(f"'hard_rule' must be one of {list(HARD_RULES)} (got {self.hard_rule!r})")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"'threshold' must be in (0, 1) (got {self.threshold})")
        if not 0.0 <= self.abstain_band < 0.5:
            raise ValueError(f"'abstain_band' must be in [0, 0.5) (got {self.abstain_band})")

    def group_rewards(
        self, prob: np.ndarray, clusters: np.ndarray | None = None, domain: str | None = None
    ) -> tuple[np.ndarray, bool]:
        """Rewards ``[n]`` of one group and whether the group abstained.

        Args:
            prob: ``[n]`` predicted probabilities of correctness.
            clusters: ``[n]`` answer-cluster ids (used by ``expected_cag``).
            domain: the group's domain; single-answer domains let at most one cluster be right
                (``expected_cag``), as in the offline evaluation.
        """
        prob = np.asarray(prob, dtype=np.float64)
        if self.mode == "soft":
            return prob.copy(), False
        if self.mode == "abstain" and len(prob) and bool(np.all(np.abs(prob - self.threshold) <= self.abstain_band)):
            return np.full(len(prob), float(self.abstain_reward)), True
        group = np.zeros(len(prob), dtype=np.int64)
        exclusive = single_answer([domain] * len(prob)) if domain is not None else None
        hard = hard_rewards(prob, group, clusters, self.hard_rule, self.threshold, exclusive=exclusive)
        return hard.astype(np.float64), False
