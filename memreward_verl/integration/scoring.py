"""Per-sample reward steps shared by both verl APIs: verify, name the domain, read an outcome, log.

The reward-loop manager (manager.py) and the batch adapter (legacy.py) differ only in how samples
arrive; what a sample's reward is must not differ, so the batch adapter takes these steps from here.
None of them imports verl.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from memreward_verl.integration.config import MemRewardOptions
from memreward_verl.reward import RewardSample, SampleReward
from memreward_verl.service import GroupOutcome
from memreward_verl.verify import resolve, verify

__all__ = [
    "check_same_options",
    "hidden_verdict",
    "log_record",
    "prediction_reward",
    "sample_domain",
    "verify_sample",
]

logger = logging.getLogger(__name__)


def sample_domain(sample: RewardSample) -> str:
    """The verifier domain (math, choice, code, ...) of ``sample``; names the sample when unknown.

    Raises:
        KeyError: no verifier for its ``data_source``/``ability``.
    """
    try:
        return resolve(sample.data_source, sample.ability).domain
    except KeyError as exc:
        raise KeyError(f"{sample.describe()}: {exc.args[0] if exc.args else exc}") from None


def verify_sample(sample: RewardSample) -> float:
    """The verifier's score of a validation or labelled sample.

    Raises:
        ValueError: the sample has no ground truth (it should not have been routed here).
        KeyError: no verifier for its ``data_source``.
    """
    if sample.ground_truth is None:
        raise ValueError(f"{sample.describe()} has no reward_model.ground_truth but is routed to the verifier")
    try:
        return verify(
            sample.data_source, sample.response, sample.ground_truth, sample.extra_info, ability=sample.ability
        )
    except KeyError as exc:
        raise KeyError(f"{sample.describe()}: {exc.args[0] if exc.args else exc}") from None


def hidden_verdict(sample: RewardSample, opts: MemRewardOptions) -> float | None:
    """The verifier's verdict on an unlabelled rollout whose data still carry a ground truth, for the
    ``hidden_gt`` log only (None: off, no ground truth, or the verifier failed)."""
    if not opts.log_hidden_gt or sample.ground_truth is None:
        return None
    try:
        return verify_sample(sample)
    except Exception as exc:  # logging only: a verifier failure never changes a predicted reward
        logger.warning("hidden_gt of %s not computed: %s", sample.describe(), exc)
        return None


def prediction_reward(outcome: GroupOutcome, hidden: float | None, opts: MemRewardOptions) -> SampleReward:
    """The reward of an unlabelled rollout from the memory worker's verdict on its group.

    ``hidden`` is only logged and compared (``pred_correct``); the reward is ``outcome.score``.
    """
    vote = opts.reward_mode == "majority_vote"
    # the vote is the pseudo-label; a neutral (timed-out) group has none, an acquired one was not voted
    decision = None
    if vote:
        decision = float("nan") if outcome.neutral or outcome.acquisition.acquired else outcome.score
    return SampleReward.from_prediction(
        outcome.score,
        outcome.prob,
        hidden,
        abstained=outcome.abstained,
        timed_out=outcome.timed_out,
        neutral=outcome.neutral,
        threshold=opts.threshold,
        decision=decision,
        acquisition=outcome.acquisition,
    )


def log_record(sample: RewardSample, reward: SampleReward, opts: MemRewardOptions) -> dict[str, Any]:
    """One ``reward_log`` line: which rollout got which reward, from where, under which rule."""
    extra = reward.extra_info()
    return {
        "reward_mode": opts.reward_mode,
        "hard_rule": opts.hard_rule,
        "threshold": opts.threshold,
        "step": sample.global_step,
        "query_id": sample.query_id,
        "uid": sample.uid,
        "data_source": sample.data_source,
        "validation": sample.is_validation,
        "reward": reward.score,
        **{k: None if _is_nan(extra[k]) else extra[k] for k in ("reward_source", "pred_prob", "hidden_gt")},
    }


def check_same_options(opts: MemRewardOptions, worker_options: dict[str, Any], key: str) -> None:
    """A named worker found by ``get_if_exists`` must serve the same options (else rename ``worker_name``).

    Args:
        key: where the options sit in the job config (``reward.reward_kwargs`` or ``reward_model.reward_kwargs``).

    Raises:
        ValueError: the options that differ, both values, and the key to change.
    """
    client_only = ("request_retries", "retry_backoff_s", "worker_restart_timeout_s", "worker_start_timeout_s")
    mine = opts.to_dict()
    diff = sorted(k for k in mine if k not in client_only and mine[k] != worker_options.get(k))
    if diff:
        raise ValueError(
            f"a memreward worker named {opts.worker_name!r} already runs with other options {diff} "
            f"(theirs: {[worker_options.get(k) for k in diff]}, ours: {[mine[k] for k in diff]}); "
            f"use one set of options per job or set a distinct {key}.worker_name"
        )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
