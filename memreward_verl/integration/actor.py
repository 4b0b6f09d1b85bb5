"""The graph-memory worker: ONE named Ray actor per job wrapping :class:`MemoryService`.

Every reward worker's manager fetches it with ``get_if_exists``, so all rollouts of a uid meet in
one place whichever reward worker they were sent to. The actor is async (thousands of rollouts may
wait for their groups at once), restartable (``max_restarts``; a restart reloads the artifact, or the
last saved state with ``grow_memory``), and callers retry a bounded number of times when it dies.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from memreward_verl.decision import AUTO_RULE
from memreward_verl.reward import RewardSample
from memreward_verl.serve.collector import GroupOutcome
from memreward_verl.serve.load import load_service, load_vote_service
from memreward_verl.serve.options import MemRewardOptions

__all__ = [
    "MemoryWorker",
    "WorkerTimeoutError",
    "get_memory_worker",
    "WorkerClient",
]

logger = logging.getLogger(__name__)


class WorkerTimeoutError(TimeoutError):
    """A blocking call to the memory worker got no answer in time (the message says what it asked for)."""


class MemoryWorker:
    """Actor body (a plain class made remote in :func:`get_memory_worker`).

    Args:
        options: :meth:`MemRewardOptions.to_dict` of the job (plain data travels well between processes).

    Raises:
        ArtifactError, ValueError: the artifact or labelled-ids file cannot be loaded (named with the cause).
    """

    def __init__(self, options: dict[str, Any]) -> None:
        import torch

        opts = MemRewardOptions.from_mapping(options)
        self.options = dict(options)
        self._reward_log = None
        # Why the service could not start, as "ErrorType: message": reported by describe() as plain data,
        # so a manager shows this root cause first, not the last line of Ray's actor-died traceback.
        self.start_error: str | None = None
        torch.set_num_threads(max(1, int(opts.worker.num_cpus)))
        try:
            if opts.rule.mode == "majority_vote":
                self._service = load_vote_service(
                    opts.artifact_dir or None, opts.labelled_ids_file, opts.rule, opts.collect, opts.acquire
                )
            else:
                self._service = load_service(opts.artifact_dir, opts.rule, opts.collect, opts.acquire)
        except (ValueError, OSError) as exc:  # ArtifactError, a bad labelled-ids file, an unreadable path
            self._service = None
            self.start_error = f"{type(exc).__name__}: {exc}"
            logger.error("memreward worker %r cannot start: %s", opts.worker.name, self.start_error)
            return
        info = self._service.describe()
        logger.info(
            "memreward worker %r ready (%s): %d labelled prompts, embedder %s, %d memory queries",
            opts.worker.name, opts.rule.mode, len(info["labelled_ids"]), info["model_id"], info["memory_queries"],
        )  # fmt: skip

    @property
    def service(self) -> Any:
        if self._service is None:
            raise RuntimeError(f"memreward worker did not start: {self.start_error}")
        return self._service

    async def describe(self) -> dict[str, Any]:
        """Labelled query ids, embedder id and memory size: what managers need at start-up (or
        ``{"start_error": ...}`` when the service could not be loaded)."""
        if self._service is None:
            return {"start_error": self.start_error, "options": self.options}
        return {**self._service.describe(), "options": self.options}

    async def predict(self, sample: RewardSample, group_size: int) -> GroupOutcome:
        return await self.service.predict(sample, group_size)

    async def observe(self, sample: RewardSample, label: float, group_size: int) -> None:
        await self.service.observe(sample, label, group_size)

    async def stats(self) -> dict[str, int]:
        return self.service.stats()

    async def log_rewards(self, records: list[dict[str, Any]]) -> None:
        """Append reward records to ``reward_log`` (this actor is its only writer: lines never interleave)."""
        if self._reward_log is None:
            path = Path(self.options["reward_log"])
            path.parent.mkdir(parents=True, exist_ok=True)
            self._reward_log = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115  (lives with the actor)
        applied = getattr(self._service, "rule", None)
        for rec in records:
            if rec.get("hard_rule") == AUTO_RULE and applied is not None:
                # the rule and threshold auto resolved to (audits check by them)
                rec = {**rec, "hard_rule": applied.hard_rule, "threshold": applied.threshold}
            self._reward_log.write(json.dumps(rec) + "\n")

    async def acquisition_state(self) -> dict[str, Any]:
        """Online acquisition's metrics, offers, oracle ledger and probe groups (empty when off)."""
        return self.service.acquisition_state()

    async def ping(self) -> int:
        import os

        return os.getpid()


def get_memory_worker(opts: MemRewardOptions) -> ray.actor.ActorHandle:
    """The job's memory worker, created by whichever manager asks first."""
    return (
        ray.remote(MemoryWorker)
        .options(
            name=opts.worker.name,
            get_if_exists=True,
            max_restarts=opts.worker.max_restarts,
            max_concurrency=opts.worker.max_concurrency,
            num_cpus=opts.worker.num_cpus,
        )
        .remote(opts.to_dict())
    )


class WorkerClient:
    """A manager's handle on the memory worker: keeps the actor alive and retries calls when it dies.

    A non-detached actor lives while a handle to it does, so each manager holds one for its lifetime.
    Errors raised by the service itself (a timeout, a malformed sample) are not retried.

    Args:
        opts: the job's options (worker name, resources, retries, backoff).
    """

    def __init__(self, opts: MemRewardOptions) -> None:
        self.opts = opts
        self.handle = get_memory_worker(opts)
        # Dropping the creating handle would end the actor (its owner's reference), so every distinct
        # actor this client created or found is kept referenced here.
        self._keep = {self.handle._actor_id.hex(): self.handle}

    async def call(self, method: str, *args: Any) -> Any:
        """Await ``method(*args)`` on the worker.

        Raises:
            RayActorError: the last failure after ``request_retries`` retries.
        """
        attempts = self.opts.worker.request_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return await getattr(self.handle, method).remote(*args)
            except RayActorError as exc:
                if attempt == attempts:
                    logger.error("[Attempt %d/%d] memreward worker %s: %s; giving up", attempt, attempts, method, exc)
                    raise
                delay = self.opts.worker.retry_backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "[Attempt %d/%d] memreward worker %s failed (%s); retrying in %.1fs",
                    attempt, attempts, method, exc, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)
                await self._wait_ready()
        raise AssertionError("unreachable")

    async def _wait_ready(self) -> None:
        """Wait (at most ``worker_restart_timeout_s``) until the restarted or re-created worker answers."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.opts.worker.restart_timeout_s
        while True:
            handle = get_memory_worker(self.opts)  # the restarting actor, or a new one if it is gone
            self.handle = self._keep.setdefault(handle._actor_id.hex(), handle)
            try:
                await self.handle.ping.remote()
                return
            except RayActorError as exc:
                if loop.time() > deadline:
                    logger.error("memreward worker not back after %.0fs: %s", self.opts.worker.restart_timeout_s, exc)
                    return  # the next attempt fails and reports
                await asyncio.sleep(0.5)

    def call_sync(self, method: str, *args: Any) -> Any:
        """Blocking call for code outside an event loop (start-up), bounded by ``worker_start_timeout_s``.

        A worker Ray cannot place (more CPUs asked than the cluster has free) would otherwise block the
        reward worker's constructor, and so verl's start-up, forever.

        Raises:
            WorkerTimeoutError: no answer in time; names the worker, what it asked for and the options.
        """
        timeout = self.opts.worker.start_timeout_s
        try:
            return ray.get(getattr(self.handle, method).remote(*args), timeout=timeout)
        except GetTimeoutError:
            raise WorkerTimeoutError(self._timeout_message(method, timeout)) from None

    def _timeout_message(self, method: str, timeout: float) -> str:
        key = "reward.reward_kwargs."
        try:
            total = ray.cluster_resources().get("CPU", 0.0)
            free = ray.available_resources().get("CPU", 0.0)
            cluster = f"the Ray cluster has {free:g} of {total:g} CPUs free"
        except Exception as exc:  # the message must not fail over a diagnostic
            cluster = f"the Ray cluster's CPUs could not be read ({exc})"
        return (
            f"memreward worker {self.opts.worker.name!r} did not answer {method!r} within {timeout:g} s "
            f"({key}worker_start_timeout_s). It asks Ray for num_cpus={self.opts.worker.num_cpus:g} "
            f"({key}worker_num_cpus) and no GPU; {cluster}. If Ray cannot place it, lower {key}worker_num_cpus "
            "or give Ray more CPUs (ray_kwargs.ray_init.num_cpus; the recipes' preflight counts what verl "
            f"holds); if it is still loading a large artifact, raise {key}worker_start_timeout_s"
        )
