"""``MemRewardManager``: verl 0.9 reward-loop manager routing each rollout to the verifier or the GNN.

One instance lives in each verl ``RewardLoopWorker``. Per sample (``run_single``): decode it
(decode.py), route it (reward.py: validation and labelled prompts -> verifier; others -> the shared
graph-memory worker, actor.py), and return the reward with fixed-key extra info. Blocking work
(decoding, verifying) runs in the event loop's executor, as verl's own managers do.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any

import ray
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from memreward_verl.integration.actor import WorkerClient
from memreward_verl.integration.config import options_from_verl_config
from memreward_verl.integration.decode import decode_sample
from memreward_verl.integration.validation import validation_prompts
from memreward_verl.reward import RewardSample, SampleReward, route_sample
from memreward_verl.serve.collector import GroupOutcome
from memreward_verl.serve.options import MemRewardOptions
from memreward_verl.verify import VerifierUndecidedError, resolve, verify

__all__ = ["MemRewardManager"]

logger = logging.getLogger(__name__)


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


def _check_same_options(opts: MemRewardOptions, worker_options: dict[str, Any]) -> None:
    """A named worker found by ``get_if_exists`` must serve the same options (else rename ``worker_name``)."""
    mine = opts.shared_items()
    theirs = MemRewardOptions.from_mapping(worker_options).shared_items()
    diff = sorted(k for k in mine if mine[k] != theirs[k])
    if diff:
        raise ValueError(
            f"a memreward worker named {opts.worker.name!r} already runs with other options {diff} "
            f"(theirs: {[theirs[k] for k in diff]}, ours: {[mine[k] for k in diff]}); "
            "use one set of reward_kwargs per job or set a distinct reward.reward_kwargs.worker_name"
        )


def _log_record(sample: RewardSample, score: float, extra: dict[str, Any], opts: MemRewardOptions) -> dict[str, Any]:
    """One ``reward_log`` line: which rollout got which reward, from where, under which rule."""
    return {
        "reward_mode": opts.rule.mode,
        "hard_rule": opts.rule.hard_rule,
        "threshold": opts.rule.threshold,
        "step": sample.global_step,
        "query_id": sample.query_id,
        "uid": sample.uid,
        "data_source": sample.data_source,
        "validation": sample.is_validation,
        "reward": score,
        **{k: None if _is_nan(extra[k]) else extra[k] for k in ("reward_source", "pred_prob", "hidden_gt")},
    }


_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Exit)): (.+)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def root_cause(exc: BaseException) -> str:
    """One line for a failure: Ray's actor-died and task errors end with the original "Type: message"
    after kilobytes of traceback; that line comes first, the rest stays in the chained exception."""
    text = _ANSI.sub("", str(exc))
    for line in reversed(text.strip().splitlines()):
        m = _ERROR_LINE.match(line.strip())
        if m:
            return f"{m.group(1)}: {m.group(2)}"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


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
        self.val_data_sources = frozenset(self.opts.val_data_sources)
        self.val_prompts = validation_prompts(config)
        if not ray.is_initialized():
            raise RuntimeError("MemRewardManager needs Ray (it runs inside verl's RewardLoopWorker actors)")
        source = f"artifact_dir={self.opts.artifact_dir!r}"
        if self.opts.labelled_ids_file:
            source = f"labelled_ids_file={self.opts.labelled_ids_file!r}"
        try:
            self.worker = WorkerClient(self.opts)
            info = self.worker.call_sync("describe")
        except Exception as exc:
            msg = f"memreward worker {self.opts.worker.name!r} failed to start from {source}: {root_cause(exc)}"
            raise RuntimeError(msg) from exc
        if info.get("start_error"):
            ray.kill(self.worker.handle, no_restart=True)  # a fixed artifact on the next try gets a fresh worker
            raise RuntimeError(
                f"memreward worker {self.opts.worker.name!r} failed to start from {source}: {info['start_error']}"
            )
        _check_same_options(self.opts, info["options"])
        self.labelled_ids = frozenset(info["labelled_ids"])
        logger.info(
            "MemRewardManager: %d labelled prompts, group size %d, %d validation-only prompts",
            len(self.labelled_ids), self.group_size, len(self.val_prompts),
        )  # fmt: skip

    async def run_single(self, data) -> dict:
        """Reward of one rollout: ``{"reward_score": float, "reward_extra_info": dict}``.

        Raises:
            SampleFormatError, KeyError, ValueError: a malformed sample or unknown data_source (named).
            GroupTimeoutError: its group timed out with ``on_timeout="error"``.
        """
        loop = asyncio.get_running_loop()
        sample = await loop.run_in_executor(
            None,
            lambda: decode_sample(
                data, self.tokenizer, self.opts.query_id_key, self.val_data_sources, self.val_prompts
            ),
        )
        route = route_sample(sample, self.labelled_ids)
        if route == "predicted":
            result = await self._predicted(sample)
        else:
            score = await loop.run_in_executor(None, self._verify, sample)
            result = SampleReward.from_verifier(score, route)
            if route == "ground_truth" and self.opts.collect.grow_memory:
                sample.domain = self._domain(sample)
                # fire and forget: growing the memory must not delay this reward
                self.worker.handle.observe.remote(sample, score, self.group_size)
        extra = result.extra_info()
        if self.opts.reward_log:  # fire and forget: the audit log must not delay the reward
            self.worker.handle.log_rewards.remote([_log_record(sample, result.score, extra, self.opts)])
        return {"reward_score": result.score, "reward_extra_info": extra}

    async def _predicted(self, sample: RewardSample) -> SampleReward:
        if not sample.uid:
            raise ValueError(f"{sample.describe()} has no 'uid'; unlabelled prompts are scored per uid group")
        sample.domain = self._domain(sample)
        loop = asyncio.get_running_loop()
        hidden = None
        if self.opts.log_hidden_gt and sample.ground_truth is not None:
            hidden_task = loop.run_in_executor(None, self._verify, sample)
        else:
            hidden_task = None
        outcome = await self.worker.call("predict", sample, self.group_size)
        if hidden_task is not None:
            try:
                hidden = await hidden_task
            except Exception as exc:  # logging only: a verifier failure never changes a predicted reward
                logger.warning("hidden_gt of %s not computed: %s", sample.describe(), exc)
        return SampleReward.from_prediction(
            outcome.score,
            outcome.prob,
            hidden,
            abstained=outcome.abstained,
            timed_out=outcome.timed_out,
            neutral=outcome.neutral,
            threshold=self.opts.rule.threshold,
            # the vote is the pseudo-label; a neutral (timed-out) group has none, an acquired one was not voted
            decision=self._vote_decision(outcome),
            acquisition=outcome.acquisition,
        )

    def _vote_decision(self, outcome: GroupOutcome) -> float | None:
        """The pseudo-label ``pred_correct`` compares in majority-vote mode (None: other modes)."""
        if self.opts.rule.mode != "majority_vote":
            return None
        return float("nan") if outcome.neutral or outcome.acquisition.acquired else outcome.score

    @staticmethod
    def _domain(sample: RewardSample) -> str:
        try:
            return resolve(sample.data_source, sample.ability).domain
        except KeyError as exc:
            raise KeyError(f"{sample.describe()}: {exc.args[0] if exc.args else exc}") from None

    @staticmethod
    def _verify(sample: RewardSample) -> float:
        if sample.ground_truth is None:
            raise ValueError(f"{sample.describe()} has no reward_model.ground_truth but is routed to the verifier")
        try:
            return verify(
                sample.data_source, sample.response, sample.ground_truth, sample.extra_info, ability=sample.ability
            )
        except KeyError as exc:
            raise KeyError(f"{sample.describe()}: {exc.args[0] if exc.args else exc}") from None
        except VerifierUndecidedError as exc:  # no verdict in the verifier's time budget: no reward, not a 0
            raise VerifierUndecidedError(f"{sample.describe()}: {exc}") from exc
