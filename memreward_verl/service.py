"""The graph-memory service: embedder + memory + predictor, collecting streamed rollouts by ``uid``.

verl sends each finished rollout on its own, to any reward worker, at its own time. Group features
(answer agreement) and group decisions (expected CAG, abstention) need the whole group, so this one
service (wrapped in one Ray actor per job by ``integration/actor.py``) collects the rollouts of a
``uid`` and scores the group once it is complete. Each rollout's node texts are embedded as soon as
it arrives (micro-batched), so the embedding overlaps generation and a completed group only runs the
GNN. A group still incomplete ``group_timeout_s`` after its first arrival is closed and handled as
``on_timeout`` says; stragglers that arrive after their group closed are handled the same way.

The text-to-numbers path is :func:`memreward_verl.groups.encode_groups`, exactly as offline: the
embedding cache only precomputes what it will ask for. Blocking work runs on one worker thread
(torch uses its own intra-op threads); the public coroutines run on the caller's event loop. No Ray.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memreward_verl.artifact import Artifact, ArtifactError, load_artifact, save_artifact
from memreward_verl.embed import Embedder, load_embedder
from memreward_verl.groups import EncodedGroups, encode_groups
from memreward_verl.memory import ExperienceMemory
from memreward_verl.reward import RewardRule, RewardSample
from memreward_verl.rollouts import Query, Rollout
from memreward_verl.text import build_node_text

__all__ = ["ServiceConfig", "GroupOutcome", "MemoryService", "GroupTimeoutError", "concat_groups", "load_service"]

logger = logging.getLogger(__name__)

ON_TIMEOUT = ("partial", "neutral", "error")


class GroupTimeoutError(TimeoutError):
    """A group did not complete in time and ``on_timeout="error"``."""


@dataclass
class ServiceConfig:
    """How the service collects groups and grows its memory (mirrors the verl options)."""

    group_timeout_s: float = 300.0
    on_timeout: str = "partial"
    embed_batch_size: int = 256
    grow_memory: bool = False
    refit_every: int = 0
    state_dir: str | None = None
    # Closed uids remembered to recognise stragglers.
    max_closed_uids: int = 100_000

    def __post_init__(self) -> None:
        if self.on_timeout not in ON_TIMEOUT:
            raise ValueError(f"'on_timeout' must be one of {list(ON_TIMEOUT)} (got {self.on_timeout!r})")
        if self.group_timeout_s <= 0:
            raise ValueError(f"'group_timeout_s' must be > 0 (got {self.group_timeout_s})")
        if self.grow_memory and not self.state_dir:
            raise ValueError("'state_dir' is required when grow_memory is on")


@dataclass(frozen=True)
class GroupOutcome:
    """What the service decided for one rollout of a group."""

    score: float
    prob: float
    abstained: bool = False
    timed_out: bool = False
    neutral: bool = False
    group_size: int = 0


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
    """Embedder view answering from texts embedded on arrival; misses are embedded now."""

    def __init__(self, base: Embedder, cache: dict[str, np.ndarray]) -> None:
        self.base, self.cache = base, cache
        self.model_id, self.dim = base.model_id, base.dim

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            for t, v in zip(missing, self.base.encode(missing)):
                self.cache[t] = v
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts]).astype(np.float32)


class MemoryService:
    """Collects rollouts by uid and scores complete groups with the artifact's predictor.

    Args:
        artifact: the loaded warm-up artifact (memory, model, config).
        embedder: the embedder whose ``model_id`` matches the memory's.
        rule: how a group's probabilities become rewards.
        cfg: collection and growth settings.
        clock: monotonic clock (tests substitute a fake).

    Raises:
        ArtifactError: when the embedder differs from the one the memory was built with.
    """

    def __init__(
        self,
        artifact: Artifact,
        embedder: Embedder,
        rule: RewardRule | None = None,
        cfg: ServiceConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if embedder.model_id != artifact.memory.model_id:
            raise ArtifactError(
                f"the artifact's memory was embedded with {artifact.memory.model_id!r}, "
                f"the embedder is {embedder.model_id!r}"
            )
        self.artifact = artifact
        self.embedder = embedder
        self.rule = rule or RewardRule()
        self.cfg = cfg or ServiceConfig()
        self.clock = clock
        self.predictor = artifact.predictor()
        self.labelled_ids = frozenset(artifact.labelled_ids)
        self.counters: Counter[str] = Counter()
        self._cache: dict[str, np.ndarray] = {}
        self._pending: dict[str, asyncio.Future] = {}
        self._queue: list[str] = []
        self._drainer: asyncio.Task | None = None
        self._groups: dict[tuple[str, str], _Group] = {}
        self._closed: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="memreward-score")
        self._refit_executor = ThreadPoolExecutor(1, thread_name_prefix="memreward-refit")
        self._refit_running = False

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

    def stats(self) -> dict[str, int]:
        """Counters (samples, groups, timeouts, stragglers, growth, refits) and open groups."""
        return {**self.counters, "open_groups": len(self._groups), "memory_queries": self.predictor.memory.num_queries}

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._refit_executor.shutdown(wait=False, cancel_futures=True)

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
        group.embeds.append(asyncio.ensure_future(self._embed_on_arrival(sample)))
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
        group = _Group(uid=str(sample.uid), size=1, first=self.clock(), samples=[sample])
        group.labels = [label if label is not None else float("nan")]
        group.embeds = [asyncio.ensure_future(self._embed_on_arrival(sample))]
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
            loop = asyncio.get_running_loop()
            prob, clusters = await loop.run_in_executor(self._executor, self._predict_sync, group.samples)
            rewards, abstained = self.rule.group_rewards(prob, clusters, group.samples[0].domain)
            out = [GroupOutcome(float(r), float(p), abstained, timed_out, False, n) for r, p in zip(rewards, prob)]
            self.counters["predicted_groups"] += 1
        if resolve and not group.future.done():
            group.future.set_result(out)
        return out

    def _encode(self, samples: list[RewardSample], labels: list[float] | None, query_id: str) -> EncodedGroups:
        """The group as :class:`EncodedGroups`, through the offline path; ground truth never enters."""
        first = samples[0]
        rollouts = [
            Rollout(text=s.response, label=None if labels is None else int(labels[i] >= 0.5))
            for i, s in enumerate(samples)
        ]
        query = Query(query_id, first.domain, first.data_source, first.question, None, rollouts)
        return encode_groups([query], _CachedEmbedder(self.embedder, self._cache), self.artifact.cfg)

    def _predict_sync(self, samples: list[RewardSample]) -> tuple[np.ndarray, np.ndarray]:
        groups = self._encode(samples, None, samples[0].query_id or str(samples[0].uid))
        prob = self.predictor.predict_groups(groups)
        clusters = groups.cluster_ids(self.artifact.cfg.graph.agreement_cosine)
        self._release(samples)
        return prob, clusters

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
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue[: self.cfg.embed_batch_size], self._queue[self.cfg.embed_batch_size :]
            try:
                emb = await loop.run_in_executor(self._executor, self.embedder.encode, batch)
            except Exception as exc:  # every waiter must learn about it
                for text in batch:
                    self._pending.pop(text).set_exception(exc)
                continue
            for text, vec in zip(batch, emb):
                self._cache[text] = vec
                self._pending.pop(text).set_result(None)
            self.counters["embedded_texts"] += len(batch)

    def _release(self, samples: list[RewardSample]) -> None:
        """Forget the cached texts of scored samples (query texts stay: other groups may share them)."""
        for s in samples:
            for text in self._texts(s)[1:]:
                self._cache.pop(text, None)
        if len(self._cache) > 50_000:
            self._cache.clear()

    # -- memory growth --------------------------------------------------------------------------
    async def _grow_group(self, group: _Group, timed_out: bool, resolve: bool = True) -> GroupOutcome:
        await asyncio.gather(*group.embeds)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._grow_sync, group.samples, group.labels)
        out = GroupOutcome(float("nan"), float("nan"), timed_out=timed_out, group_size=len(group.samples))
        if resolve and not group.future.done():
            group.future.set_result([out] * len(group.samples))
        return out

    def _grow_sync(self, samples: list[RewardSample], labels: list[float]) -> None:
        """Append one verified group of a labelled prompt; refresh or refit; save the state."""
        n_grown = self.counters["grown_groups"] + 1
        qid = f"{samples[0].query_id}#grow{n_grown}"
        new = self._encode(samples, labels, qid)
        self._release(samples)
        memory = self.predictor.memory
        grown = ExperienceMemory(concat_groups(memory.groups, new), [*memory.labelled_ids, qid], memory.cfg)
        self.artifact = Artifact(self.artifact.cfg, grown, self.artifact.model, self.artifact.metrics)
        self.predictor = self.artifact.predictor()
        self.counters["grown_groups"] = n_grown
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


def load_service(artifact_dir: str | Path, rule: RewardRule, cfg: ServiceConfig) -> MemoryService:
    """Load the artifact (or, with ``grow_memory``, the last saved state) and its embedder.

    Raises:
        ArtifactError: a missing, corrupt or mismatched artifact (the message names the path and cause).
    """
    path = Path(artifact_dir)
    if cfg.grow_memory and cfg.state_dir and (Path(cfg.state_dir) / "artifact.json").is_file():
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
    return MemoryService(artifact, embedder, rule, cfg)
