"""``MemRewardBatchManager``: the MemReward reward for verl's batch reward-manager API (verl 0.5.0 - 0.7.0).

Before 0.7.1 the trainer builds its reward manager from ``verl.workers.reward_manager`` (the name
``reward_model.reward_manager=memreward`` registered here, or ``reward_manager.source=importlib`` on
0.7.0) with the options of ``reward_model.reward_kwargs`` as keyword arguments, and calls it on the
whole batch. Every rollout of a GRPO group is therefore present at once: the batch is grouped by
``uid`` directly and each group is sent to the shared memory worker with its size as found in the
batch, so the worker decides it at once (no waiting on a group timeout). Routing, the GNN, vote mode,
acquisition and the logged keys are those of the reward-loop manager (manager.py), through the same
worker, decoder and per-sample steps (scoring.py).

Validation: verl's batch-API trainers build this manager from ``reward_model.reward_kwargs`` alone, never
handing it the job config, so it cannot read ``data.val_files`` as the reward-loop manager does. It does
not need to: their ``_validate`` marks every validation batch ``meta_info["validate"]``, and the
``val_data_sources`` option names data sources only validation uses. A row's own ``extra_info.split``
never decides (a training parquet made from a test set would hand every prompt its ground truth).

verl 0.9 still ships this registry (its trainer no longer calls it), which is what the tests drive.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import ray
import torch
from verl.workers.reward_manager import register

from memreward_verl.integration.scoring import decode, log_record, sample_reward, start_worker
from memreward_verl.integration.verl_version import detect_verl
from memreward_verl.reward import EXTRA_KEYS, RewardSample, SampleReward, route_sample
from memreward_verl.serve.options import PREFIX, MemRewardOptions

try:  # verl >= 0.6 names the batch API's base class; 0.5 has none (any callable is a manager there)
    from verl.workers.reward_manager.abstract import AbstractRewardManager as _Base
except ImportError:  # verl 0.5
    _Base = object

__all__ = ["MemRewardBatchManager", "OPTIONS_KEY", "setup_worker"]

logger = logging.getLogger(__name__)

# Where the batch API's trainers read the manager's keyword arguments from.
OPTIONS_KEY = "reward_model.reward_kwargs"

T = TypeVar("T")

VERL = detect_verl()  # refuses an unsupported verl at import, with the supported range in the message


def _options(reward_kwargs: dict[str, Any]) -> MemRewardOptions:
    """Typed options from the manager's keyword arguments; errors name the batch API's config key.

    verl passes ``reward_model.reward_kwargs`` as keywords, so a list or section value is still an
    OmegaConf node: made plain first, as the reward-loop manager's config reader does.
    """
    from omegaconf import OmegaConf

    plain = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in reward_kwargs.items()
    }
    try:
        return MemRewardOptions.from_mapping(plain)
    except ValueError as exc:
        raise ValueError(str(exc).replace(PREFIX, f"{OPTIONS_KEY}.")) from None


def setup_worker() -> None:
    """Ray ``worker_process_setup_hook`` (verl 0.5/0.6): importing this module registered ``memreward``.

    verl looks the name up in its TaskRunner actor, a process where no user code runs; Ray calls this
    hook in every worker process of the job, so the registration happens there too.
    """
    logger.debug("memreward batch reward manager registered in verl %s", VERL.version)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, also when the caller is inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:  # a running loop cannot be re-entered: use a fresh one
        return pool.submit(asyncio.run, coro).result()


@register("memreward")
class MemRewardBatchManager(_Base):
    """Hybrid reward over a whole batch: verifier for validation and labelled prompts, the memory otherwise.

    Args:
        tokenizer: the policy tokenizer.
        num_examine: verl's count of samples to print; unused (``reward_log`` records every reward).
        compute_score: ignored (memreward's verifiers score ground truth); kept for verl's signature.
        reward_fn_key: verl's ``data.reward_fn_key``; must be ``data_source`` (verifiers are chosen by it).
        **reward_kwargs: the options (:class:`MemRewardOptions`), from ``reward_model.reward_kwargs``.

    Raises:
        ValueError: bad options (naming the ``reward_model.reward_kwargs`` key), another ``reward_fn_key``, or a
            worker of the same ``worker_name`` serving other options.
        RuntimeError: Ray is not running, or the memory worker could not load its artifact (root cause first).
    """

    def __init__(self, tokenizer, num_examine=0, compute_score=None, reward_fn_key="data_source", **reward_kwargs):
        if reward_fn_key != "data_source":
            raise ValueError(
                f"data.reward_fn_key={reward_fn_key!r}: memreward picks verifiers by the 'data_source' column; "
                "set data.reward_fn_key=data_source"
            )
        self.tokenizer = tokenizer
        self.opts = _options(reward_kwargs)
        if not ray.is_initialized():
            raise RuntimeError("MemRewardBatchManager needs Ray (verl's trainer runs it inside its TaskRunner actor)")
        self.worker, self.labelled_ids = start_worker(self.opts, OPTIONS_KEY)
        logger.info("MemRewardBatchManager (verl %s): %d labelled prompts", VERL.version, len(self.labelled_ids))

    def __call__(self, data, return_dict: bool = False):
        """Rewards of a batch: a ``[batch, response_len]`` tensor, the score at each last valid token.

        Returns:
            The tensor, or with ``return_dict`` ``{"reward_tensor": ..., "reward_extra_info": {key: [batch]}}``
            with the same keys as the reward-loop manager's ``reward_extra_info``.

        Raises:
            SampleFormatError, KeyError, ValueError: a malformed sample, unknown data_source or missing uid (named).
            VerifierUndecidedError: the verifier gave no verdict in time (no reward rather than a silent 0).
        """
        if "rm_scores" in data.batch.keys():
            raise ValueError(
                "the batch already carries rm_scores (a reward model, or verl 0.7.0's reward loop, scored it): "
                "memreward is the whole reward; set reward_model.enable=False and, on verl 0.7.0, "
                "reward_model.use_reward_loop=False"
            )
        samples = [decode(data[i : i + 1], self.tokenizer, self.opts) for i in range(len(data))]
        rewards = _run(self._score(samples))
        reward_tensor = torch.zeros_like(data.batch["responses"], dtype=torch.float32)
        for i, (sample, reward) in enumerate(zip(samples, rewards)):
            reward_tensor[i, max(sample.response_length - 1, 0)] = reward.score
        if not return_dict:
            return reward_tensor
        infos = [r.extra_info() for r in rewards]
        return {"reward_tensor": reward_tensor, "reward_extra_info": {k: [x[k] for x in infos] for k in EXTRA_KEYS}}

    async def _score(self, samples: list[RewardSample]) -> list[SampleReward]:
        """Every sample's reward: verifier calls and whole-group predictions run concurrently."""
        routes = [route_sample(s, self.labelled_ids) for s in samples]
        for sample, route in zip(samples, routes):
            if route == "predicted" and not sample.uid:  # before any group is sent to the worker
                raise ValueError(f"{sample.describe()} has no 'uid'; unlabelled prompts are scored per uid group")
        # A group's size is what the batch holds of it: the batch is all verl will send.
        sizes = Counter((route, s.uid) for s, route in zip(samples, routes))
        tasks = [
            sample_reward(s, route, sizes[(route, s.uid)], self.worker, self.opts) for s, route in zip(samples, routes)
        ]
        rewards = list(await asyncio.gather(*tasks))
        if self.opts.reward_log:
            records = [log_record(s, r, self.opts) for s, r in zip(samples, rewards)]
            await self.worker.call("log_rewards", records)
        return rewards
