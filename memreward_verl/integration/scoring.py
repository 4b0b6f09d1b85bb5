"""The per-sample reward steps of both verl APIs: start the worker, decode, score one sample, log.

The reward-loop manager (manager.py) and the batch adapter (legacy.py) differ only in how samples
arrive (one by one, or a whole batch); what a sample's reward is must not differ, so both take every
step from here and only the config key they name in errors (``reward.reward_kwargs`` or
``reward_model.reward_kwargs``) is theirs. None of these imports verl.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any

import ray

from memreward_verl.integration.actor import WorkerClient
from memreward_verl.integration.decode import decode_sample
from memreward_verl.reward import RewardSample, SampleReward
from memreward_verl.serve.collector import GroupOutcome
from memreward_verl.serve.options import MemRewardOptions
from memreward_verl.verify import VerifierUndecidedError, resolve, verify

__all__ = [
    "check_same_options",
    "decode",
    "hidden_verdict",
    "log_record",
    "prediction_reward",
    "root_cause",
    "sample_domain",
    "sample_reward",
    "start_worker",
    "verify_sample",
]

logger = logging.getLogger(__name__)

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


def check_same_options(opts: MemRewardOptions, worker_options: dict[str, Any], key: str) -> None:
    """A named worker found by ``get_if_exists`` must serve the same options (else rename ``worker_name``).

    Args:
        key: where the options sit in the job config (``reward.reward_kwargs`` or ``reward_model.reward_kwargs``).

    Raises:
        ValueError: the options that differ, both values, and the key to change.
    """
    mine = opts.shared_items()
    theirs = MemRewardOptions.from_mapping(worker_options).shared_items()
    diff = sorted(k for k in mine if mine[k] != theirs[k])
    if diff:
        raise ValueError(
            f"a memreward worker named {opts.worker.name!r} already runs with other options {diff} "
            f"(theirs: {[theirs[k] for k in diff]}, ours: {[mine[k] for k in diff]}); "
            f"use one set of options per job or set a distinct {key}.worker_name"
        )


def start_worker(opts: MemRewardOptions, key: str) -> tuple[WorkerClient, frozenset[str]]:
    """Get or start the job's named memory worker and read its labelled prompts.

    A worker that could not load its artifact reports why as data; that cause comes first in the one-line
    error (not Ray's actor-died traceback), and the worker is killed so a fixed artifact gets a fresh one.

    Args:
        key: where the options sit in the job config, for the error naming ``worker_name``.

    Raises:
        RuntimeError: the worker did not start (root cause first).
        ValueError: a worker of that name runs with other options.
    """
    source = f"artifact_dir={opts.artifact_dir!r}"
    if opts.labelled_ids_file:
        source = f"labelled_ids_file={opts.labelled_ids_file!r}"
    head = f"memreward worker {opts.worker.name!r} failed to start from {source}"
    try:
        worker = WorkerClient(opts)
        info = worker.call_sync("describe")
    except Exception as exc:
        raise RuntimeError(f"{head}: {root_cause(exc)}") from exc
    if info.get("start_error"):
        ray.kill(worker.handle, no_restart=True)
        raise RuntimeError(f"{head}: {info['start_error']}")
    check_same_options(opts, info["options"], key)
    return worker, frozenset(info["labelled_ids"])


def decode(
    data: Any, tokenizer: Any, opts: MemRewardOptions, val_prompts: frozenset[str] = frozenset()
) -> RewardSample:
    """:func:`decode_sample` with the job's validation rules: verl's validate flag, ``val_data_sources``,
    ``val_prompts`` (prompts only in ``data.val_files``); never a row's ``extra_info.split``."""
    return decode_sample(data, tokenizer, opts.query_id_key, frozenset(opts.val_data_sources), val_prompts)


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
        VerifierUndecidedError: no verdict in the verifier's time budget (no reward, never a silent 0).
    """
    if sample.ground_truth is None:
        raise ValueError(f"{sample.describe()} has no reward_model.ground_truth but is routed to the verifier")
    try:
        return verify(
            sample.data_source, sample.response, sample.ground_truth, sample.extra_info, ability=sample.ability
        )
    except KeyError as exc:
        raise KeyError(f"{sample.describe()}: {exc.args[0] if exc.args else exc}") from None
    except VerifierUndecidedError as exc:
        raise VerifierUndecidedError(f"{sample.describe()}: {exc}") from exc


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

    ``hidden`` is only logged and compared (``pred_correct``: with the hard reward given, or in soft mode
    with ``p >= threshold``); the reward is ``outcome.score``.
    """
    decision = None
    if opts.rule.mode != "soft":
        # the hard reward given is the decision (under auto, the rule the fit chose, not p >= threshold);
        # a neutral, abstained or bought group has none
        undecided = outcome.neutral or outcome.abstained or outcome.acquisition.acquired
        decision = float("nan") if undecided else outcome.score
    return SampleReward.from_prediction(
        outcome.score,
        outcome.prob,
        hidden,
        abstained=outcome.abstained,
        timed_out=outcome.timed_out,
        neutral=outcome.neutral,
        threshold=opts.rule.threshold,
        decision=decision,
        acquisition=outcome.acquisition,
        rule=outcome.rule,
    )


async def sample_reward(
    sample: RewardSample, route: str, group_size: int, worker: WorkerClient, opts: MemRewardOptions
) -> SampleReward:
    """The reward of one routed sample (``route_sample``): the verifier, or the memory worker's group verdict.

    Blocking work (verifying) runs in the event loop's executor. A labelled group grows the memory
    (``collect.grow_memory``) without delaying the reward.

    Raises:
        ValueError: an unlabelled sample without ``uid`` (groups are by uid), or no ground truth to verify.
        KeyError: no verifier for its ``data_source``.
        VerifierUndecidedError: the verifier gave no verdict in time.
    """
    loop = asyncio.get_running_loop()
    if route == "predicted":
        if not sample.uid:
            raise ValueError(f"{sample.describe()} has no 'uid'; unlabelled prompts are scored per uid group")
        sample.domain = sample_domain(sample)
        hidden = loop.run_in_executor(None, hidden_verdict, sample, opts)
        outcome = await worker.call("predict", sample, group_size)
        return prediction_reward(outcome, await hidden, opts)
    score = await loop.run_in_executor(None, verify_sample, sample)
    if route == "ground_truth" and opts.collect.grow_memory:
        sample.domain = sample_domain(sample)
        worker.handle.observe.remote(sample, score, group_size)  # fire and forget
    return SampleReward.from_verifier(score, route)


def log_record(sample: RewardSample, reward: SampleReward, opts: MemRewardOptions) -> dict[str, Any]:
    """One ``reward_log`` line: which rollout got which reward, from where, under which rule (for a
    predicted reward the rule that decided it; otherwise the configured one, ``auto`` resolved by the worker)."""
    extra = reward.extra_info()
    hard_rule, threshold = reward.rule or (opts.rule.hard_rule, opts.rule.threshold)
    return {
        "reward_mode": opts.rule.mode,
        "hard_rule": hard_rule,
        "threshold": threshold,
        "step": sample.global_step,
        "query_id": sample.query_id,
        "uid": sample.uid,
        "data_source": sample.data_source,
        "validation": sample.is_validation,
        "reward": reward.score,
        **{k: None if _is_nan(extra[k]) else extra[k] for k in ("reward_source", "pred_prob", "hidden_gt")},
    }


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
