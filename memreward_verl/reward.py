"""The hybrid reward rule: who gets ground truth, who gets the GNN, and how probabilities become rewards.

Routing (:func:`route_sample`): validation samples and prompts in the artifact's labelled set are
scored by the verifier; every other prompt by the graph-memory prediction. An unlabelled prompt
never receives its ground truth as reward: errors are raised, never answered with the verifier.

Every result carries the same extra-info keys (:data:`EXTRA_KEYS`), because verl stacks them into
one array per key: ``acc`` (the verifier's verdict when one was computed, else NaN),
``reward_source``, ``pred_prob``, ``hidden_gt`` (logged only, never a reward), ``pred_correct``,
``abstained``, ``timed_out`` and online acquisition's ``acq_bought``, ``acq_spent``,
``acq_pred_cag``, ``acq_real_cag`` (NaN for groups that were not offered). A group whose label
acquisition bought has ``reward_source="acquired"``: its reward is the oracle's. Pure code: no
verl or ray import.

``reward_mode="majority_vote"`` needs no memory or GNN: :func:`majority_vote_rewards` gives a
rollout 1 when its normalised answer is the group's most common one (TTRL-style pseudo-labels).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memreward_verl.decision import AUTO_RULE, HARD_RULES, hard_rewards, resolve_rule, single_answer
from memreward_verl.serve.typed import check_options, option

__all__ = [
    "REWARD_MODES",
    "HARD_RULES",
    "SOURCES",
    "EXTRA_KEYS",
    "ACQ_KEYS",
    "AcquisitionInfo",
    "RewardSample",
    "RewardRule",
    "SampleReward",
    "route_sample",
    "majority_vote_rewards",
]

REWARD_MODES = ("hard", "soft", "abstain", "majority_vote")
# reward_source values: validation and labelled prompts use the verifier, the rest the prediction,
# except the groups whose labels online acquisition bought ("acquired": the verifier's rewards).
SOURCES = ("validation", "ground_truth", "predicted", "neutral", "acquired")
# Online acquisition (NaN where the group was not offered): bought or not, labels spent in the step
# so far, the strategy's predicted CAG of the pseudo rewards, the realised CAG (bought groups only);
# acq_reused = 1 for a group of a prompt bought in an earlier step (oracle rewards, no budget).
ACQ_KEYS = ("acq_bought", "acq_spent", "acq_pred_cag", "acq_real_cag", "acq_reused")
EXTRA_KEYS = ("acc", "reward_source", "pred_prob", "hidden_gt", "pred_correct", "abstained", "timed_out", *ACQ_KEYS)
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
    # verl's training step of the sample (V1 trainer: non_tensor_batch["global_steps"]); None when absent.
    global_step: int | None = None

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
class AcquisitionInfo:
    """What online acquisition decided for a group (every field NaN: the group was not offered)."""

    bought: float = NAN  # 1 bought, 0 offered and not bought
    spent: float = NAN  # labels bought in the step so far, this group's included
    pred_cag: float = NAN  # the strategy's expected CAG of the group's pseudo rewards
    real_cag: float = NAN  # CAG of the pseudo rewards against the bought labels (bought groups only)
    reused: float = NAN  # 1: the prompt was bought in an earlier step; the oracle labels it, no budget spent

    @property
    def acquired(self) -> bool:
        """The group's rewards are the oracle's (bought now, or its prompt bought before)."""
        return self.bought == 1.0 or self.reused == 1.0


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
    acquisition: AcquisitionInfo = field(default_factory=AcquisitionInfo)
    # The hard rule and threshold that decided a predicted reward (for the reward log; not sent to verl).
    rule: tuple[str, float] | None = None

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
            "acq_bought": float(self.acquisition.bought),
            "acq_spent": float(self.acquisition.spent),
            "acq_pred_cag": float(self.acquisition.pred_cag),
            "acq_real_cag": float(self.acquisition.real_cag),
            "acq_reused": float(self.acquisition.reused),
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
        decision: float | None = None,
        acquisition: AcquisitionInfo | None = None,
        rule: tuple[str, float] | None = None,
    ) -> SampleReward:
        """Reward of an unlabelled sample; ``hidden_gt`` (or None) is only logged and compared.

        ``acc`` is ``score``, the reward given (the hidden verdict lives under ``hidden_gt`` only).
        ``pred_correct`` compares ``hidden_gt`` with ``decision >= 0.5`` when a decision is given
        (the hard reward given, or the vote's pseudo-label), else with ``prob >= threshold``. With a bought
        ``acquisition``, ``score`` is the oracle's reward and the source is ``"acquired"``;
        ``pred_prob`` stays the GNN's probability.
        """
        acquisition = acquisition or AcquisitionInfo()
        hidden = NAN if hidden_gt is None else float(hidden_gt)
        correct = NAN
        if decision is not None:
            if not math.isnan(hidden) and not math.isnan(decision):
                correct = float((decision >= 0.5) == (hidden >= 0.5))
        elif not math.isnan(hidden) and not math.isnan(prob):
            correct = float((prob >= threshold) == (hidden >= 0.5))
        if acquisition.acquired and neutral:
            raise ValueError("a neutral (timed-out) group is never offered, so it cannot have been acquired")
        return cls(
            score=float(score),
            source="acquired" if acquisition.acquired else "neutral" if neutral else "predicted",
            pred_prob=float(prob),
            # acc is what verl's group filter (algorithm.filter_groups.metric=acc) reads: the reward given,
            # never the hidden verdict, so ground truth cannot choose which unlabelled groups train
            acc=float(score),
            hidden_gt=hidden,
            pred_correct=correct,
            abstained=abstained,
            timed_out=timed_out,
            acquisition=acquisition,
            rule=rule,
        )


@dataclass(frozen=True)
class RewardRule:
    """Probabilities of one group -> rewards; the ``rule`` section of the reward options.

    Args:
        mode: ``"hard"``, ``"soft"``, ``"abstain"`` or ``"majority_vote"`` (default ``"hard"``; option
            key ``reward_mode``).
        hard_rule: ``"auto"`` (default: the rule and threshold the artifact's warm-up fit chose by
            out-of-fold CAG; ``threshold`` where no fit chose), ``"threshold"``, ``"plurality"``,
            ``"expected_cag"`` or ``"constant"`` (decision.py). The memory worker resolves ``auto``
            against the fit of the model it serves (at load and after each online refit),
            replacing ``threshold`` with the fit's.
        threshold: decision threshold, in (0, 1) (default 0.5).
        abstain_band: half-width of the uncertainty band around ``threshold``, in [0, 0.5) (default 0.15).
        abstain_reward: the constant reward of an abstained or neutral group (default 0.0).

    Raises:
        OptionError: a value of the wrong type or out of range (naming the key).
    """

    mode: str = option("hard", key="reward_mode", choices=REWARD_MODES)
    hard_rule: str = option(AUTO_RULE, choices=(AUTO_RULE, *HARD_RULES))
    threshold: float = option(0.5, gt=0.0, lt=1.0)
    abstain_band: float = option(0.15, ge=0.0, lt=0.5)
    abstain_reward: float = option(0.0)

    def __post_init__(self) -> None:
        check_options(self)

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
        if self.mode == "majority_vote":
            raise ValueError("reward mode 'majority_vote' votes on answers, not probabilities (majority_vote_rewards)")
        if self.mode == "soft":
            return prob.copy(), False
        if self.mode == "abstain" and len(prob) and bool(np.all(np.abs(prob - self.threshold) <= self.abstain_band)):
            return np.full(len(prob), float(self.abstain_reward)), True
        group = np.zeros(len(prob), dtype=np.int64)
        exclusive = single_answer([domain] * len(prob)) if domain is not None else None
        rule, threshold = resolve_rule(self.hard_rule, self.threshold, None)  # auto unresolved (no fit): threshold
        hard = hard_rewards(prob, group, clusters, rule, threshold, exclusive=exclusive)
        return hard.astype(np.float64), False


def majority_vote_rewards(keys: list[str | None]) -> tuple[np.ndarray, np.ndarray, frozenset[str]]:
    """TTRL-style pseudo-labels of one group from its rollouts' normalised answers.

    A rollout gets 1 when its answer key is a plurality answer: one whose count is the largest in
    the group. Ties: every answer tied for the largest count is a plurality answer (as the offline
    ``majority_vote`` baseline does), so a group whose answers all differ gets all 1, which is zero
    GRPO advantage. Unparseable rollouts (key ``None``) get 0 and never count; a group with no
    parseable answer gets all 0.

    Args:
        keys: canonical answer key per rollout (``memreward_verl.answers.answer_key``).

    Returns:
        ``(rewards [n], shares [n], plurality keys)``: shares are the fraction of the group giving
        the rollout's answer (0 for unparseable ones).
    """
    n = len(keys)
    counts = Counter(k for k in keys if k is not None)
    top = max(counts.values(), default=0)
    plurality = frozenset(k for k, c in counts.items() if c == top)
    rewards = np.array([float(k is not None and k in plurality) for k in keys], dtype=np.float64)
    shares = np.array([counts[k] / n if k is not None else 0.0 for k in keys], dtype=np.float64)
    return rewards, shares, plurality
