"""``MemRewardManager``: verl 0.9 reward-loop manager routing each rollout to the verifier or the GNN.

One instance lives in each verl ``RewardLoopWorker``. Per sample (``run_single``): decode it, route it
(reward.py: validation and labelled prompts -> verifier; others -> the shared graph-memory worker,
actor.py), and return the reward with fixed-key extra info. Every step is scoring.py's, shared with the
batch adapter (legacy.py), so the two verl APIs cannot give a sample different rewards. Blocking work
(decoding, verifying) runs in the event loop's executor, as verl's own managers do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from memreward_verl.integration.config import options_from_verl_config
from memreward_verl.integration.scoring import decode, log_record, root_cause, sample_reward, start_worker
from memreward_verl.integration.validation import validation_prompts
from memreward_verl.reward import route_sample
from memreward_verl.serve.options import MemRewardOptions

__all__ = ["MemRewardManager", "root_cause"]  # root_cause: its old import path

logger = logging.getLogger(__name__)

# Where verl 0.7.1 on carries memreward's options (named in errors).
OPTIONS_KEY = "reward.reward_kwargs"


def _group_size(config: Any, opts: MemRewardOptions) -> int:
    if opts.collect.group_size is not None:
        return opts.collect.group_size
    n = None
    try:
        n = config.actor_rollout_ref.rollout.n
    except Exception as exc:
        raise ValueError(
            "cannot read actor_rollout_ref.rollout.n; set +reward.reward_kwargs.group_size=<rollouts per prompt>"
        ) from exc
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(
            f"actor_rollout_ref.rollout.n must be an integer >= 1 (got {n!r}); or set "
            "+reward.reward_kwargs.group_size=<rollouts per prompt>"
        )
    return n


@register("memreward")
class MemRewardManager(RewardManagerBase):
    """Hybrid reward: ground truth for validation and labelled prompts, graph-memory predictions otherwise.

    Args:
        config: the whole verl job config; memreward reads only ``reward.reward_kwargs`` (validated here).
        tokenizer: the policy tokenizer.
        compute_score: ignored (the memreward verifiers score ground truth); kept for verl's signature.
        reward_router_address: unused (no reward model).
        reward_model_tokenizer: unused.

    Raises:
        ValueError: bad ``reward.reward_kwargs``.
        RuntimeError: the memory worker could not load the artifact (the cause is in the message).
    """

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None, reward_model_tokenizer=None):
        super().__init__(config, tokenizer, compute_score)
        self.opts = options_from_verl_config(config)
        self.group_size = _group_size(config, self.opts)
        self.val_prompts = validation_prompts(config)
        if not ray.is_initialized():
            raise RuntimeError("MemRewardManager needs Ray (it runs inside verl's RewardLoopWorker actors)")
        self.worker, self.labelled_ids = start_worker(self.opts, OPTIONS_KEY)
        logger.info(
            "MemRewardManager: %d labelled prompts, group size %d, %d validation-only prompts",
            len(self.labelled_ids), self.group_size, len(self.val_prompts),
        )  # fmt: skip

    async def run_single(self, data) -> dict:
        """Reward of one rollout: ``{"reward_score": float, "reward_extra_info": dict}``.

        Raises:
            SampleFormatError, KeyError, ValueError: a malformed sample or unknown data_source (named).
            GroupTimeoutError: its group timed out with ``on_timeout="error"``.
            VerifierUndecidedError: the verifier gave no verdict in time (no reward rather than a silent 0).
        """
        loop = asyncio.get_running_loop()
        sample = await loop.run_in_executor(None, decode, data, self.tokenizer, self.opts, self.val_prompts)
        route = route_sample(sample, self.labelled_ids)
        result = await sample_reward(sample, route, self.group_size, self.worker, self.opts)
        if self.opts.reward_log:  # fire and forget: the audit log must not delay the reward
            self.worker.handle.log_rewards.remote([log_record(sample, result, self.opts)])
        return {"reward_score": result.score, "reward_extra_info": result.extra_info()}
