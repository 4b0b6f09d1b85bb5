"""Collecting streamed rollouts by ``uid``: the part both reward services share.

verl sends each finished rollout on its own, to any reward worker, at its own time. Group features
(answer agreement) and group decisions (expected CAG, abstention, a vote) need the whole group, so
one service (in one Ray actor per job, ``integration/actor.py``) collects the rollouts of a ``uid``
and decides the group once it is complete. A group still incomplete ``group_timeout_s`` after its
first arrival is closed and handled as ``on_timeout`` says; stragglers that arrive after their group
closed are decided alone, under the same policy. Subclasses say what starts when a rollout arrives
and how a group is decided (memory_scorer.py, vote_scorer.py). No Ray.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from memreward_verl.acquisition.desk import AcquisitionDesk, DeskConfig
from memreward_verl.acquisition.oracle import LabelOracle
from memreward_verl.reward import AcquisitionInfo, RewardRule, RewardSample
from memreward_verl.serve.options import AcquireOptions, CollectOptions

__all__ = ["GroupTimeoutError", "GroupOutcome", "Group", "GroupCollector"]

logger = logging.getLogger(__name__)


class GroupTimeoutError(TimeoutError):
    """A group did not complete in time and ``on_timeout="error"``."""


@dataclass(frozen=True)
class GroupOutcome:
    """What the service decided for one rollout of a group."""

    score: float
    prob: float
    abstained: bool = False
    timed_out: bool = False
    neutral: bool = False
    group_size: int = 0
    # Online acquisition's verdict on the group (all NaN: not offered); when bought, ``score`` is the oracle's.
    acquisition: AcquisitionInfo = field(default_factory=AcquisitionInfo)
    # The hard rule and threshold that decided ``score`` (``auto`` resolved); None where no rule decided.
    rule: tuple[str, float] | None = None


@dataclass
class Group:
    uid: str
    size: int
    first: float
    samples: list[RewardSample] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)
    embeds: list[asyncio.Future] = field(default_factory=list)
    future: asyncio.Future | None = None
    closed: bool = False
    straggler: bool = False  # a rollout that arrived after its group had closed, decided alone


class GroupCollector(abc.ABC):
    """Collects rollouts by uid and decides each group once complete (or timed out): the shared part.

    Subclasses say what happens when a rollout arrives (:meth:`_on_arrival`) and how a group's
    rewards are decided (:meth:`_decide`); timeouts, stragglers and failures are handled here.
    """

    def __init__(
        self, rule: RewardRule, cfg: CollectOptions, clock: Callable[[], float], acquire: AcquireOptions | None
    ) -> None:
        self.rule = rule
        self.cfg = cfg
        self.acquire = acquire if acquire is not None and acquire.enabled else None
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self._groups: dict[tuple[str, str], Group] = {}
        self._closed: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self.desk: AcquisitionDesk | None = None  # online acquisition (subclasses make it)

    # -- public coroutines ----------------------------------------------------------------------
    async def predict(self, sample: RewardSample, group_size: int) -> GroupOutcome:
        """Reward of one unlabelled rollout, decided once its group is complete (or timed out).

        Raises:
            ValueError: a sample without ``uid``.
            GroupTimeoutError: its group timed out and ``on_timeout="error"``.
        """
        return await self._join("predict", sample, group_size, None)

    async def observe(self, sample: RewardSample, label: float, group_size: int) -> None:
        """Offer a verified rollout of a labelled prompt to the memory (``grow_memory``)."""
        if not self.cfg.grow_memory:
            return
        await self._join("grow", sample, group_size, float(label))

    def stats(self) -> dict[str, float]:
        """Counters (samples, groups, timeouts, stragglers) and open groups."""
        return {**self.counters, "open_groups": len(self._groups)}

    def describe(self) -> dict[str, object]:
        """What managers need at start-up: labelled query ids, embedder id (or None), memory size."""
        return {"labelled_ids": sorted(self.labelled_ids), "model_id": None, "memory_queries": 0}

    def close(self) -> None:
        """Stop background threads (none here)."""
        return None

    def acquisition_state(self) -> dict[str, object]:
        """Online acquisition so far (see :meth:`AcquisitionDesk.state`); empty when acquisition is off."""
        return self.desk.state() if self.desk is not None else {}

    def _make_desk(self, oracle: LabelOracle | None, join) -> AcquisitionDesk | None:
        """The acquisition desk of the ``acquire`` options (None: off); its files sit beside ``state_dir``
        (save_artifact replaces that directory whole)."""
        if self.acquire is None:
            return None
        desk_cfg = DeskConfig(acquire=self.acquire, state_path=self.cfg.state_dir)
        return AcquisitionDesk(desk_cfg, self.counters, oracle, join)

    # -- hooks ----------------------------------------------------------------------------------
    def _on_arrival(self, sample: RewardSample) -> asyncio.Future | None:
        """Work started when a rollout arrives; the group is decided once it is done."""
        return None

    @abc.abstractmethod
    async def _decide(self, group: Group, timed_out: bool) -> list[GroupOutcome]:
        """Rewards of a group (its arrival work is done)."""

    async def _grow_group(self, group: Group, timed_out: bool, resolve: bool = True) -> GroupOutcome:
        raise TypeError(f"{type(self).__name__} does not grow a memory")

    # -- collection -----------------------------------------------------------------------------
    async def _join(self, kind: str, sample: RewardSample, group_size: int, label: float | None) -> GroupOutcome:
        if not sample.uid:
            raise ValueError(
                f"{sample.describe()} has no 'uid': rollouts of an unlabelled prompt are scored as a group"
            )
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1 (got {group_size})")
        self.counters[f"{kind}_samples"] += 1
        key = (kind, str(sample.uid))
        if key in self._closed:
            return await self._straggler(kind, sample, label)
        group = self._groups.get(key)
        if group is None:
            group = Group(uid=str(sample.uid), size=group_size, first=self.clock())
            group.future = asyncio.get_running_loop().create_future()
            self._groups[key] = group
        idx = len(group.samples)
        group.samples.append(sample)
        group.labels.append(label if label is not None else float("nan"))
        work = self._on_arrival(sample)
        if work is not None:
            group.embeds.append(work)
        if len(group.samples) >= group.size:
            self._close(kind, group, timed_out=False)
        remaining = group.first + self.cfg.group_timeout_s - self.clock()
        try:
            results = await asyncio.wait_for(asyncio.shield(group.future), timeout=max(remaining, 0.0))
        except asyncio.TimeoutError:
            if not group.closed:
                self._close(kind, group, timed_out=True)
            results = await group.future
        return results[idx]

    def _close(self, kind: str, group: Group, timed_out: bool) -> None:
        group.closed = True
        key = (kind, group.uid)
        self._groups.pop(key, None)
        self._closed[key] = True
        while len(self._closed) > self.cfg.max_closed_uids:
            self._closed.popitem(last=False)
        self.counters[f"{kind}_groups_timed_out" if timed_out else f"{kind}_groups_complete"] += 1
        if timed_out:
            logger.warning(
                "group uid=%r (%s) timed out after %.1fs with %d/%d rollouts; on_timeout=%s",
                group.uid, kind, self.cfg.group_timeout_s, len(group.samples), group.size, self.cfg.on_timeout,
            )  # fmt: skip
        runner = self._score_group if kind == "predict" else self._grow_group
        task = asyncio.ensure_future(runner(group, timed_out))
        task.add_done_callback(lambda t: self._fail_group(group, t))

    @staticmethod
    def _fail_group(group: Group, task: asyncio.Task) -> None:
        if task.cancelled() and not group.future.done():
            group.future.cancel()
        elif task.exception() is not None and not group.future.done():
            group.future.set_exception(task.exception())

    async def _straggler(self, kind: str, sample: RewardSample, label: float | None) -> GroupOutcome:
        """A rollout whose group already closed: scored alone, under the ``on_timeout`` policy."""
        self.counters[f"{kind}_stragglers"] += 1
        group = Group(uid=str(sample.uid), size=1, first=self.clock(), samples=[sample], straggler=True)
        group.labels = [label if label is not None else float("nan")]
        work = self._on_arrival(sample)
        group.embeds = [] if work is None else [work]
        if kind == "grow":
            return await self._grow_group(group, timed_out=True, resolve=False)
        return (await self._score_group(group, timed_out=True, resolve=False))[0]

    # -- scoring --------------------------------------------------------------------------------
    async def _score_group(self, group: Group, timed_out: bool, resolve: bool = True) -> list[GroupOutcome]:
        n = len(group.samples)
        if timed_out and self.cfg.on_timeout == "error":
            raise GroupTimeoutError(
                f"group uid={group.uid!r}: {n}/{group.size} rollouts arrived within group_timeout_s="
                f"{self.cfg.group_timeout_s}s (on_timeout='error')"
            )
        await asyncio.gather(*group.embeds)
        if timed_out and self.cfg.on_timeout == "neutral":
            out = [GroupOutcome(self.rule.abstain_reward, float("nan"), True, True, True, n) for _ in range(n)]
        else:
            out = await self._decide(group, timed_out)
            self.counters["predicted_groups"] += 1
        if resolve and not group.future.done():
            group.future.set_result(out)
        return out
