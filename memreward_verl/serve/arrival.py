"""Embedding each rollout's node texts as it arrives, so a completed group only runs the GNN.

verl streams rollouts one by one; embedding them on arrival overlaps the embedder with generation.
Texts queued while the embedder is busy are embedded together on its next turn, in forward passes of
at most ``embed_batch_size`` texts of similar length; texts already embedded (a prompt's question,
frequent short answers) come from a bounded cache. The cache only precomputes what the offline
text-to-numbers path (:func:`memreward_verl.groups.encode_groups`) will ask for, through
:meth:`ArrivalEmbedder.cached`. Blocking work runs on the executor the service gives, so embedding
and scoring share one worker thread; the coroutines run on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping
from concurrent.futures import Executor

import numpy as np

from memreward_verl.config import TextConfig
from memreward_verl.embed import Embedder
from memreward_verl.reward import RewardSample
from memreward_verl.serve.options import CollectOptions
from memreward_verl.text import build_node_text

__all__ = ["ArrivalEmbedder"]


class _CachedEmbedder(Embedder):
    """Embedder view answering from texts embedded on arrival; misses (evicted texts) are embedded now."""

    def __init__(self, base: Embedder, cache: Mapping[str, np.ndarray], batch_size: int) -> None:
        self.base, self.cache, self.batch_size = base, cache, batch_size
        self.model_id, self.dim, self.compute_dtype = base.model_id, base.dim, base.compute_dtype

    def encode(self, texts: list[str], show_progress: bool = False, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Read each text once: the event loop may evict entries meanwhile.
        found = {t: self.cache.get(t) for t in texts}
        missing = sorted(t for t, v in found.items() if v is None)
        if missing:
            found.update(zip(missing, self.base.encode(missing, batch_size=batch_size or self.batch_size)))
        return np.stack([found[t] for t in texts]).astype(np.float32)


class ArrivalEmbedder:
    """The text cache, its queue of texts to embed and their counters (see the module doc).

    Args:
        embedder: the memory's embedder.
        text_cfg: how a response is split into node texts (the artifact's).
        cfg: ``embed_batch_size``, ``embed_chunk`` (texts per turn of the worker thread) and
            ``max_cached_texts``.
        executor: the service's worker thread (shared with scoring).
    """

    def __init__(self, embedder: Embedder, text_cfg: TextConfig, cfg: CollectOptions, executor: Executor) -> None:
        self.embedder = embedder
        self.text_cfg = text_cfg
        self.cfg = cfg
        self.executor = executor
        self.counters: Counter[str] = Counter()  # embedded_texts, embed_calls, embed_cache_hits
        self.busy_s: float | None = None  # seconds the worker thread spent embedding (None: nothing yet)
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}
        self._queue: list[str] = []
        self._drainer: asyncio.Task | None = None

    def stats(self) -> dict[str, float]:
        """The counters and ``embed_busy_s`` (once something was embedded)."""
        busy = {} if self.busy_s is None else {"embed_busy_s": round(self.busy_s, 3)}
        return {**self.counters, **busy}

    def on_arrival(self, sample: RewardSample) -> asyncio.Future:
        """Start embedding the sample's node texts; the future is done once all are in the cache."""
        return asyncio.ensure_future(self._embed(sample))

    def cached(self) -> Embedder:
        """An embedder answering from the cache (for ``encode_groups`` on the worker thread)."""
        return _CachedEmbedder(self.embedder, self.cache, self.cfg.embed_batch_size)

    def _texts(self, sample: RewardSample) -> list[str]:
        node = build_node_text(sample.question, sample.response, self.text_cfg)
        return [build_node_text(sample.question, "", self.text_cfg).query, node.think, node.answer]

    async def _embed(self, sample: RewardSample) -> None:
        loop = asyncio.get_running_loop()
        waits = []
        for text in self._texts(sample):
            if text in self.cache:
                self.cache.move_to_end(text)
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
                emb = await loop.run_in_executor(self.executor, self._embed_sync, batch)
            except Exception as exc:  # every waiter must learn about it
                for text in batch:
                    self._pending.pop(text).set_exception(exc)
                continue
            for text, vec in zip(batch, emb):
                self.cache[text] = vec
                self._pending.pop(text).set_result(None)
            while len(self.cache) > self.cfg.max_cached_texts:
                self.cache.popitem(last=False)
            self.counters["embedded_texts"] += len(batch)
            self.counters["embed_calls"] += 1

    def _embed_sync(self, texts: list[str]) -> np.ndarray:
        start = time.perf_counter()
        emb = self.embedder.encode(texts, batch_size=self.cfg.embed_batch_size)
        self.busy_s = (self.busy_s or 0.0) + time.perf_counter() - start
        return emb
