"""The graph-memory service: embedder + memory + predictor, collecting streamed rollouts by ``uid``.

verl sends each finished rollout on its own, to any reward worker, at its own time. Group features
(answer agreement) and group decisions (expected CAG, abstention) need the whole group, so this one
service (wrapped in one Ray actor per job by ``integration/actor.py``) collects the rollouts of a
``uid`` and scores the group once it is complete. Each rollout's node texts are embedded as soon as
it arrives (micro-batched), so the embedding overlaps generation and a completed group only runs the
GNN. A group still incomplete ``group_timeout_s`` after its first arrival is closed and handled as
``on_timeout`` says; stragglers that arrive after their group closed are handled the same way.

Embedding is most of the service's CPU (scoring a complete group takes a few ms). Texts queued while
the embedder is busy are embedded together on its next turn (micro-batches that grow with the
backlog), in forward passes of at most ``embed_batch_size`` texts of similar length; texts already
embedded (a prompt's question, frequent short answers such as "#### 18") come from a bounded cache
of recent embeddings and are not embedded again.

:class:`MajorityVoteService` collects groups the same way but needs no artifact: it rewards the
rollouts whose normalised answer is the group's plurality answer (``reward_mode="majority_vote"``).

The text-to-numbers path is :func:`memreward_verl.groups.encode_groups`, exactly as offline: the
embedding cache only precomputes what it will ask for. Blocking work runs on one worker thread
(torch uses its own intra-op threads); the public coroutines run on the caller's event loop. No Ray.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memreward_verl.acquisition.desk import AcquisitionDesk, DeskConfig
from memreward_verl.acquisition.heldout import held_out_examples
from memreward_verl.acquisition.oracle import LabelOracle
from memreward_verl.acquisition.probes import GroupView
from memreward_verl.answers import answer_key, unify_keys
from memreward_verl.artifact import Artifact, ArtifactError, load_artifact, save_artifact
from memreward_verl.config import TextConfig
from memreward_verl.decision import single_answer
from memreward_verl.embed import Embedder, load_embedder
from memreward_verl.files import FileFormatError, read_json
from memreward_verl.groups import EncodedGroups, encode_groups
from memreward_verl.memory import ExperienceMemory
from memreward_verl.reward import AcquisitionInfo, RewardRule, RewardSample, majority_vote_rewards
from memreward_verl.rollouts import Query, Rollout
from memreward_verl.serve.options import AcquireOptions, CollectOptions
from memreward_verl.text import build_node_text

__all__ = [
    "ServiceConfig",
    "GroupOutcome",
    "MemoryService",
    "MajorityVoteService",
    "GroupTimeoutError",
    "concat_groups",
    "load_service",
    "load_vote_service",
    "read_labelled_ids_file",
]

logger = logging.getLogger(__name__)


class GroupTimeoutError(TimeoutError):
    """A group did not complete in time and ``on_timeout="error"``."""


# The service's config is the ``collect`` section of the job's options (serve/options.py), not a copy.
ServiceConfig = CollectOptions


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


@dataclass
class _Group:
    uid: str
    size: int
    first: float
    samples: list[RewardSample] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)
    embeds: list[asyncio.Future] = field(default_factory=list)
    future: asyncio.Future | None = None
    closed: bool = False
    straggler: bool = False  # a rollout that arrived after its group had closed, decided alone


def concat_groups(a: EncodedGroups, b: EncodedGroups) -> EncodedGroups:
    """Append the groups of ``b`` after those of ``a`` (same embedder)."""
    if a.model_id != b.model_id:
        raise ValueError(f"cannot join groups of {a.model_id!r} and {b.model_id!r}")
    return EncodedGroups(
        model_id=a.model_id,
        query_ids=a.query_ids + b.query_ids,
        domains=a.domains + b.domains,
        query_emb=np.concatenate([a.query_emb, b.query_emb]),
        think_emb=np.concatenate([a.think_emb, b.think_emb]),
        answer_emb=np.concatenate([a.answer_emb, b.answer_emb]),
        feats=np.concatenate([a.feats, b.feats]),
        rollout_query=np.concatenate([a.rollout_query, b.rollout_query + a.num_queries]),
        labels=np.concatenate([a.labels, b.labels]),
        answer_keys=a.answer_keys + b.answer_keys,
    )


class _CachedEmbedder(Embedder):
    """Embedder view answering from texts embedded on arrival; misses (evicted texts) are embedded now."""

    def __init__(self, base: Embedder, cache: Mapping[str, np.ndarray], batch_size: int) -> None:
        self.base, self.cache, self.batch_size = base, cache, batch_size
        self.model_id, self.dim = base.model_id, base.dim

    def encode(self, texts: list[str], show_progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Read each text once: the event loop may evict entries meanwhile.
        found = {t: self.cache.get(t) for t in texts}
        missing = sorted(t for t, v in found.items() if v is None)
        if missing:
            found.update(zip(missing, self.base.encode(missing, batch_size=batch_size or self.batch_size)))
        return np.stack([found[t] for t in texts]).astype(np.float32)


class _GroupCollector(abc.ABC):
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
        self._groups: dict[tuple[str, str], _Group] = {}
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
    async def _decide(self, group: _Group, timed_out: bool) -> list[GroupOutcome]:
        """Rewards of a group (its arrival work is done)."""

    async def _grow_group(self, group: _Group, timed_out: bool, resolve: bool = True) -> GroupOutcome:
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
            group = _Group(uid=str(sample.uid), size=group_size, first=self.clock())
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

    def _close(self, kind: str, group: _Group, timed_out: bool) -> None:
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
    def _fail_group(group: _Group, task: asyncio.Task) -> None:
        if task.cancelled() and not group.future.done():
            group.future.cancel()
        elif task.exception() is not None and not group.future.done():
            group.future.set_exception(task.exception())

    async def _straggler(self, kind: str, sample: RewardSample, label: float | None) -> GroupOutcome:
        """A rollout whose group already closed: scored alone, under the ``on_timeout`` policy."""
        self.counters[f"{kind}_stragglers"] += 1
        group = _Group(uid=str(sample.uid), size=1, first=self.clock(), samples=[sample], straggler=True)
        group.labels = [label if label is not None else float("nan")]
        work = self._on_arrival(sample)
        group.embeds = [] if work is None else [work]
        if kind == "grow":
            return await self._grow_group(group, timed_out=True, resolve=False)
        return (await self._score_group(group, timed_out=True, resolve=False))[0]

    # -- scoring --------------------------------------------------------------------------------
    async def _score_group(self, group: _Group, timed_out: bool, resolve: bool = True) -> list[GroupOutcome]:
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


class MemoryService(_GroupCollector):
    """Collects rollouts by uid and scores complete groups with the artifact's predictor.

    Args:
        artifact: the loaded warm-up artifact (memory, model, config).
        embedder: the embedder whose ``model_id`` matches the memory's.
        rule: how a group's probabilities become rewards.
        cfg: collection and growth settings.
        clock: monotonic clock (tests substitute a fake).
        oracle: labels of bought groups with ``acquire`` (default: :class:`VerifierOracle`,
            the verifiers against the ground truth the samples carry).
        acquire: online label acquisition (None or ``strategy=None``: off).

    Online acquisition (``acquire``, :class:`AcquisitionDesk`): every group (a timed-out one
    with what arrived; not a straggler) whose samples carry a ground truth is offered once scored, as a
    GroupView of its probabilities, pseudo rewards, answer clusters and features. A bought group
    gets the oracle's rewards and joins the memory as labelled at the next step boundary, so every
    group of a step is scored with the same memory; its prompt keeps ground truth in later steps
    (``acquisition_reuse``). A group that is not bought gets its predicted rewards; only the oracle
    reads ground truth, and only for bought groups and prompts.

    Raises:
        ArtifactError: when the embedder differs from the one the memory was built with.
    """

    def __init__(
        self,
        artifact: Artifact,
        embedder: Embedder,
        rule: RewardRule | None = None,
        cfg: CollectOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        oracle: LabelOracle | None = None,
        acquire: AcquireOptions | None = None,
    ) -> None:
        if embedder.model_id != artifact.memory.model_id:
            raise ArtifactError(
                f"the artifact's memory was embedded with {artifact.memory.model_id!r}, "
                f"the embedder is {embedder.model_id!r}"
            )
        super().__init__(rule or RewardRule(), cfg or CollectOptions(), clock, acquire)
        self.artifact = artifact
        self.embedder = embedder
        self.predictor = artifact.predictor()
        self.labelled_ids = frozenset(artifact.labelled_ids)
        self.busy_s: Counter[str] = Counter()  # seconds the worker thread spent embedding / scoring
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}
        self._queue: list[str] = []
        self._drainer: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="memreward-score")
        self._refit_executor = ThreadPoolExecutor(1, thread_name_prefix="memreward-refit")
        self._refit_running = False
        self.desk = self._make_desk(oracle, lambda pending: self._executor.submit(self._join_acquired, pending))
        if self.desk is not None and self.acquire.warm_start and not self.desk.restored:
            if self.desk.acquirer.strategy.learns:
                self.desk.acquirer.warm_start(self._validation_examples())

    def stats(self) -> dict[str, float]:
        """Counters (samples, groups, timeouts, stragglers, texts embedded and reused, growth, refits),
        open groups, memory size, and the seconds spent embedding (``embed_busy_s``) and scoring
        (``score_busy_s``)."""
        busy = {f"{k}_busy_s": round(v, 3) for k, v in self.busy_s.items()}
        acq = self.desk.metrics() if self.desk is not None else {}
        return {**super().stats(), **busy, **acq, "memory_queries": self.predictor.memory.num_queries}

    def acquisition_state(self) -> dict[str, object]:
        """Online acquisition so far (see :meth:`AcquisitionDesk.state`), plus the bought groups
        that joined the memory (``joined``); empty when acquisition is off."""
        if self.desk is None:
            return {}
        return {**self.desk.state(), "joined": [q for q in self.predictor.memory.labelled_ids if "#acq" in q]}

    def describe(self) -> dict[str, object]:
        return {
            "labelled_ids": sorted(self.labelled_ids),
            "model_id": self.embedder.model_id,
            "memory_queries": self.predictor.memory.num_queries,
        }

    def close(self) -> None:
        if self.desk is not None:
            self.desk.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._refit_executor.shutdown(wait=False, cancel_futures=True)

    # -- scoring --------------------------------------------------------------------------------
    def _on_arrival(self, sample: RewardSample) -> asyncio.Future:
        return asyncio.ensure_future(self._embed_on_arrival(sample))

    async def _decide(self, group: _Group, timed_out: bool) -> list[GroupOutcome]:
        loop = asyncio.get_running_loop()
        # A timed-out group is offered with the rollouts that arrived; a straggler never is (it may
        # still get the oracle's reward when its prompt was bought before).
        offer = self.desk is not None and not group.straggler
        if offer:  # before scoring: a new step's purchases join the memory first (same thread, FIFO)
            self.desk.boundary(group.samples)
        prob, clusters, feats = await loop.run_in_executor(self._executor, self._predict_sync, group.samples)
        rewards, abstained = self.rule.group_rewards(prob, clusters, group.samples[0].domain)
        n = len(group.samples)
        info = AcquisitionInfo()
        if self.desk is not None:
            rewards, info = await self.desk.decide(group.uid, group.samples, prob, rewards, clusters, feats, offer)
        return [
            GroupOutcome(float(r), float(p), abstained and not info.acquired, timed_out, False, n, info)
            for r, p in zip(rewards, prob)
        ]

    def _validation_examples(self) -> list[tuple[GroupView, np.ndarray]]:
        """The artifact's validation groups as held-out examples: predicted in one pass with all of
        their labels hidden (as the fit validated them), viewed as a stream group would be."""
        from memreward_verl.fit import predict_memory

        memory = self.predictor.memory
        g = memory.groups
        index = {q: i for i, q in enumerate(g.query_ids)}
        val = [index[q] for q in self.artifact.metrics.get("val_query_ids", []) if q in index]
        if not val:
            return []
        slices = g.group_slices()
        clusters = g.cluster_ids(self.artifact.cfg.graph.agreement_cosine)

        def predict(labels: np.ndarray) -> np.ndarray:
            known = {g.query_ids[q] for q in np.unique(g.rollout_query[labels >= 0])}
            hidden = ExperienceMemory(g, sorted(known & set(memory.labelled_ids)), memory.cfg)
            return predict_memory(self.artifact.model, hidden, self.artifact.cfg)

        def view(q: int, probs: np.ndarray) -> GroupView:
            sl, domain = slices[q], g.domains[q]
            pseudo, _ = self.rule.group_rewards(probs[sl], clusters[sl], domain)
            return GroupView(g.query_ids[q], probs[sl], np.asarray(pseudo, dtype=np.float64), clusters[sl],
                             g.feats[sl], bool(single_answer([domain])[0]))  # fmt: skip

        examples = held_out_examples(val, memory.labels, slices, predict, view, jointly=True)
        logger.info("acquisition warm start: %d validation groups of the artifact", len(examples))
        return examples

    def _join_acquired(self, groups: list[tuple[list[RewardSample], list[float]]]) -> None:
        """Add bought groups to the memory as labelled (the grow path); errors are logged and counted."""
        for samples, labels in groups:
            try:
                self._grow_sync(samples, labels, kind="acq")
            except Exception:
                self.counters["acq_join_errors"] += 1
                logger.exception("bought group uid=%r could not join the memory", samples[0].uid)

    def _encode(self, samples: list[RewardSample], labels: list[float] | None, query_id: str) -> EncodedGroups:
        """The group as :class:`EncodedGroups`, through the offline path; ground truth never enters."""
        first = samples[0]
        rollouts = [
            Rollout(text=s.response, label=None if labels is None else int(labels[i] >= 0.5))
            for i, s in enumerate(samples)
        ]
        query = Query(query_id, first.domain, first.data_source, first.question, None, rollouts)
        embedder = _CachedEmbedder(self.embedder, self._cache, self.cfg.embed_batch_size)
        return encode_groups([query], embedder, self.artifact.cfg)

    def _predict_sync(self, samples: list[RewardSample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(probabilities, answer clusters, group features)`` of one group."""
        start = time.perf_counter()
        groups = self._encode(samples, None, samples[0].query_id or str(samples[0].uid))
        prob = self.predictor.predict_groups(groups)
        clusters = groups.cluster_ids(self.artifact.cfg.graph.agreement_cosine)
        self.busy_s["score"] += time.perf_counter() - start
        return prob, clusters, groups.feats

    # -- embedding on arrival -------------------------------------------------------------------
    def _texts(self, sample: RewardSample) -> list[str]:
        cfg = self.artifact.cfg.text
        node = build_node_text(sample.question, sample.response, cfg)
        return [build_node_text(sample.question, "", cfg).query, node.think, node.answer]

    async def _embed_on_arrival(self, sample: RewardSample) -> None:
        loop = asyncio.get_running_loop()
        waits = []
        for text in self._texts(sample):
            if text in self._cache:
                self._cache.move_to_end(text)
                self.counters["embed_cache_hits"] += 1
                continue
            fut = self._pending.get(text)
            if fut is None:
                fut = self._pending[text] = loop.create_future()
                self._queue.append(text)
            waits.append(fut)
        if self._queue and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.ensure_future(self._drain())
        if waits:
            await asyncio.gather(*waits)

    async def _drain(self) -> None:
        """Embed queued texts, a chunk per turn of the worker thread, until the queue is empty."""
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue[: self.cfg.embed_chunk], self._queue[self.cfg.embed_chunk :]
            try:
                emb = await loop.run_in_executor(self._executor, self._embed_sync, batch)
            except Exception as exc:  # every waiter must learn about it
                for text in batch:
                    self._pending.pop(text).set_exception(exc)
                continue
            for text, vec in zip(batch, emb):
                self._cache[text] = vec
                self._pending.pop(text).set_result(None)
            while len(self._cache) > self.cfg.max_cached_texts:
                self._cache.popitem(last=False)
            self.counters["embedded_texts"] += len(batch)
            self.counters["embed_calls"] += 1

    def _embed_sync(self, texts: list[str]) -> np.ndarray:
        start = time.perf_counter()
        emb = self.embedder.encode(texts, batch_size=self.cfg.embed_batch_size)
        self.busy_s["embed"] += time.perf_counter() - start
        return emb

    # -- memory growth --------------------------------------------------------------------------
    async def _grow_group(self, group: _Group, timed_out: bool, resolve: bool = True) -> GroupOutcome:
        await asyncio.gather(*group.embeds)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._grow_sync, group.samples, group.labels)
        out = GroupOutcome(float("nan"), float("nan"), timed_out=timed_out, group_size=len(group.samples))
        if resolve and not group.future.done():
            group.future.set_result([out] * len(group.samples))
        return out

    def _grow_sync(self, samples: list[RewardSample], labels: list[float], kind: str = "grow") -> None:
        """Append one verified group (``kind="grow"``: of a labelled prompt, ``"acq"``: bought); refresh
        or refit; save the state. ``refit_every`` counts both kinds."""
        counter = "grown_groups" if kind == "grow" else "acq_joined"
        n_kind = self.counters[counter] + 1
        qid = f"{samples[0].query_id or samples[0].uid}#{kind}{n_kind}"
        new = self._encode(samples, labels, qid)
        memory = self.predictor.memory
        grown = ExperienceMemory(concat_groups(memory.groups, new), [*memory.labelled_ids, qid], memory.cfg)
        self.artifact = Artifact(self.artifact.cfg, grown, self.artifact.model, self.artifact.metrics)
        self.predictor = self.artifact.predictor()
        self.counters[counter] = n_kind
        n_grown = self.counters["grown_groups"] + self.counters["acq_joined"]
        if self.cfg.refit_every and n_grown % self.cfg.refit_every == 0 and not self._refit_running:
            self._refit_running = True
            self._refit_executor.submit(self._refit, grown)
        else:
            self._save_state()

    def _refit(self, memory: ExperienceMemory) -> None:
        from memreward_verl.fit import fit_gnn

        try:
            result = fit_gnn(memory, self.artifact.cfg)
            current = self.predictor.memory  # may have grown during the fit: keep it, take the new model
            self.artifact = Artifact(self.artifact.cfg, current, result.model, result.metrics)
            self.predictor = self.artifact.predictor()
            self.counters["refits"] += 1
            logger.info("refitted the GNN on %d memory queries: %s", memory.num_queries, result.metrics.get("val_auc"))
            self._save_state()
        except Exception:
            self.counters["refit_errors"] += 1
            logger.exception("refit of the GNN failed; keeping the previous model")
        finally:
            self._refit_running = False

    def _save_state(self) -> None:
        if self.cfg.state_dir:
            save_artifact(self.cfg.state_dir, self.artifact)


class MajorityVoteService(_GroupCollector):
    """TTRL-style pseudo-labels: each group votes on its normalised answers; no memory, GNN or embedder.

    With ``acquire`` (the CARE paper's setting), complete groups are offered as in
    :class:`MemoryService` with the vote shares as probabilities and equal answers as clusters; a
    bought group gets the oracle's rewards instead of its vote.

    A rollout's answer is the answer part of its node text (text.py) normalised by
    :func:`memreward_verl.answers.answer_key` for its domain, the same keys the GNN's group
    features use; the rule (ties, unparseable answers) is :func:`memreward_verl.reward.majority_vote_rewards`.
    Without an embedder, an answer that has no key (long free text, empty output) is unparseable;
    it is not matched by embedding as the offline features do. A straggler (arrived after its group
    closed) is compared with the plurality answers its group had; ``pred_prob`` is the share of the
    group giving the rollout's answer.

    Args:
        labelled_ids: query ids whose rollouts get ground truth instead (routed by the managers).
        rule: only ``abstain_reward`` is used (neutral timeouts).
        cfg: collection settings (``grow_memory`` must be off).
        text: how responses are split into thinking and answer (an artifact's, or the default).
        clock: monotonic clock (tests substitute a fake).
        oracle: labels of bought groups with ``acquire`` (default: :class:`VerifierOracle`).
        acquire: online label acquisition (None or ``strategy=None``: off).
    """

    def __init__(
        self,
        labelled_ids: frozenset[str] | set[str] | list[str] = frozenset(),
        rule: RewardRule | None = None,
        cfg: CollectOptions | None = None,
        text: TextConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        oracle: LabelOracle | None = None,
        acquire: AcquireOptions | None = None,
    ) -> None:
        super().__init__(rule or RewardRule("majority_vote"), cfg or CollectOptions(), clock, acquire)
        if self.cfg.grow_memory:
            raise ValueError("'grow_memory' needs a memory; reward mode 'majority_vote' has none")
        self.labelled_ids = frozenset(labelled_ids)
        self.text = text or TextConfig()
        # uid -> (answer counts, group size) of closed groups, for stragglers
        self._votes: OrderedDict[str, tuple[Counter[str], int]] = OrderedDict()
        self.desk = self._make_desk(oracle, None)  # no memory: purchases only reward their own group

    def stats(self) -> dict[str, float]:
        acq = self.desk.metrics() if self.desk is not None else {}
        return {**super().stats(), **acq}

    def close(self) -> None:
        if self.desk is not None:
            self.desk.close()

    def answer_key(self, sample: RewardSample) -> str | None:
        """The normalised answer of one rollout (None: unparseable)."""
        return answer_key(build_node_text(sample.question, sample.response, self.text).answer, sample.domain)

    async def _decide(self, group: _Group, timed_out: bool) -> list[GroupOutcome]:
        # Equivalent answers (1/2 and 0.5) count as one, as in the offline vote's clusters.
        keys = unify_keys(
            [self.answer_key(s) for s in group.samples], group.samples[0].domain if group.samples else None
        )
        n = len(keys)
        offer = self.desk is not None and not group.straggler  # as in MemoryService._decide
        if offer:
            self.desk.boundary(group.samples)
        if group.straggler and group.uid in self._votes:
            counts, size = self._votes[group.uid]
            top = max(counts.values(), default=0)
            key = keys[0]
            rewards = [float(key is not None and counts[key] == top > 0)]
            shares = [counts[key] / size if key is not None else 0.0]
            self.counters["vote_stragglers_compared"] += 1
        else:
            rewards, shares, plurality = majority_vote_rewards(keys)
            if not group.straggler:
                self._votes[group.uid] = (Counter(k for k in keys if k is not None), n)
                while len(self._votes) > self.cfg.max_closed_uids:
                    self._votes.popitem(last=False)
            self.counters["vote_groups_no_answer"] += int(not plurality)
            self.counters["vote_groups_tied"] += int(len(plurality) > 1)
        info = AcquisitionInfo()
        if self.desk is not None:
            # Answer clusters = equal keys; an unparseable answer is a cluster of its own.
            ids = {k: i for i, k in enumerate(dict.fromkeys(k for k in keys if k is not None))}
            clusters = np.array([ids[k] if k is not None else len(ids) + i for i, k in enumerate(keys)])
            pseudo = np.asarray(rewards, dtype=np.float64)
            rewards, info = await self.desk.decide(
                group.uid, group.samples, np.asarray(shares), pseudo, clusters, None, offer
            )
        return [GroupOutcome(float(r), float(p), False, timed_out, False, n, info) for r, p in zip(rewards, shares)]


def read_labelled_ids_file(path: str | Path) -> list[str]:
    """The ``query_ids`` of a labelled-ids JSON file (``{"ratio": .., "seed": .., "query_ids": [...]}``).

    Raises:
        ValueError: a missing, empty or unreadable file, or ``query_ids`` that is not a list of distinct,
            non-empty strings (the message names the file and what is wrong).
    """
    try:
        data = read_json(path, dict, ("query_ids",))
    except FileFormatError as exc:
        raise ValueError(f"labelled_ids_file: {exc} (`memreward prepare` writes {{'query_ids': [...]}})") from None
    ids = data["query_ids"]
    if not isinstance(ids, list) or not all(isinstance(q, str) and q.strip() for q in ids):
        shown = ids if not isinstance(ids, list) else [q for q in ids if not (isinstance(q, str) and q.strip())][:3]
        raise ValueError(
            f"labelled_ids_file {str(path)!r}: 'query_ids' must be a list of non-empty query id strings "
            f"(as `memreward prepare` writes it); got {shown!r}"
        )
    dupes = sorted(q for q, c in Counter(ids).items() if c > 1)
    if dupes:
        raise ValueError(f"labelled_ids_file {str(path)!r}: 'query_ids' lists {dupes[:5]} more than once")
    return ids


def load_vote_service(
    artifact_dir: str | Path | None,
    labelled_ids_file: str | Path | None,
    rule: RewardRule,
    cfg: CollectOptions,
    acquire: AcquireOptions | None = None,
) -> MajorityVoteService:
    """A :class:`MajorityVoteService` whose labelled prompts come from an artifact, a file, or nowhere.

    With ``artifact_dir``, its labelled prompts keep their ground truth and its text settings split
    responses; with ``labelled_ids_file``, the file's ``query_ids`` are labelled; with neither,
    every training prompt is pseudo-labelled.

    Raises:
        ArtifactError: an artifact that cannot be loaded.
        ValueError: both sources given, or a bad ``labelled_ids_file``.
    """
    if artifact_dir and labelled_ids_file:
        raise ValueError("give artifact_dir or labelled_ids_file, not both: each names the labelled prompts")
    if artifact_dir:
        artifact = load_artifact(artifact_dir)
        return MajorityVoteService(artifact.labelled_ids, rule, cfg, artifact.cfg.text, acquire=acquire)
    ids = read_labelled_ids_file(labelled_ids_file) if labelled_ids_file else []
    return MajorityVoteService(ids, rule, cfg, acquire=acquire)


def load_service(
    artifact_dir: str | Path, rule: RewardRule, cfg: CollectOptions, acquire: AcquireOptions | None = None
) -> MemoryService:
    """Load the artifact (or, with ``grow_memory``, the last saved state) and its embedder.

    Raises:
        ArtifactError: a missing, corrupt or mismatched artifact (the message names the path and cause).
    """
    path = Path(artifact_dir)
    grows = cfg.grow_memory or (acquire is not None and acquire.enabled)
    if grows and cfg.state_dir and (Path(cfg.state_dir) / "artifact.json").is_file():
        logger.info("resuming from the saved memory state at %s", cfg.state_dir)
        path = Path(cfg.state_dir)
    artifact = load_artifact(path)
    try:
        embedder = load_embedder(artifact.cfg.embed)
    except (FileNotFoundError, OSError) as exc:
        raise ArtifactError(
            f"artifact at {path}: cannot load its embedder {artifact.cfg.embed.model_name!r}: {exc}"
        ) from exc
    if embedder.model_id != artifact.memory.model_id:
        raise ArtifactError(
            f"artifact at {path} was embedded with {artifact.memory.model_id!r}, but its embedder config gives "
            f"{embedder.model_id!r}"
        )
    return MemoryService(artifact, embedder, rule, cfg, acquire=acquire)
