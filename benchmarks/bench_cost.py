"""Cost of online scoring against memories of 1e3 to 1e5 queries, and embedder throughput.

Usage::

    python benchmarks/bench_cost.py --sizes 1000,10000,100000 --repeats 5 --out benchmarks/results/cost.json

Part 1 (synthetic, no text): memories of ``Q`` queries x 8 rollouts with unit-norm 384-d float32
embeddings (queries scattered around shared topic centres), answer keys drawn from a few values
per query, exact group features and labels on 20% of the queries. For each size it times the
memory build (faiss index included), the one-off ``Predictor`` construction (``refresh``: full
memory graph + cached query states) and ``Predictor.predict_groups`` on 128 new groups x 8
rollouts, split into kNN search (``memory.index.search``) and the rest (graph + GNN). All sizes are
built first and their calls are then timed round-robin, so that load from other processes hits
every size alike; median and minimum are reported. The target of issue 2: GNN+graph time per call
at 1e5 queries <= 1.5x the time at 1e3.

Part 2: ``SentenceTransformerEmbedder.encode`` against the raw ``SentenceTransformer.encode`` of the
same model object on the same 256-token texts (same batch size, normalised), in the same run.

Timings of library internals come from wrapping module functions at run time (``build_graph``,
``query_knn_edges``, ``agreement_edges``, the memory's ``index.search``); no library file changes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

import memreward_verl.graph as graph_mod
import memreward_verl.predict as predict_mod
from memreward_verl.config import EmbedConfig, MemRewardConfig
from memreward_verl.ensemble import FoldEnsemble
from memreward_verl.features import GROUP_FEATURES, answer_clusters, group_features
from memreward_verl.gnn import MemRewardGNN
from memreward_verl.groups import EncodedGroups
from memreward_verl.memory import ExperienceMemory, QueryIndex
from memreward_verl.predict import Predictor

DIM = 384
MODEL_ID = "synthetic/unit-random-384"
TARGET_RATIO = 1.5
SENTENCES = (
    "The committee met on Tuesday to review the budget for the coming year.",
    "Rain is expected across the northern valleys by the end of the week.",
    "She solved the equation by isolating the variable on one side.",
    "Every prime number greater than two is odd, but not every odd number is prime.",
    "The library extended its opening hours during the examination period.",
    "A train leaves the station at nine and travels at sixty miles per hour.",
    "Researchers measured the temperature of the samples every ten minutes.",
    "The recipe calls for two cups of flour, one egg and a pinch of salt.",
    "He argued that the evidence did not support the original conclusion.",
    "Old bridges in the city are inspected for cracks twice a year.",
    "The function returns the sum of the squares of its arguments.",
    "Migrating birds use the position of the sun to find their way south.",
    "The contract was signed after several weeks of careful negotiation.",
    "If the triangle has sides three, four and five, it is a right triangle.",
    "Volunteers planted more than a thousand trees along the river bank.",
    "The answer depends on whether the interest is compounded monthly or yearly.",
)


# -- timing helpers ------------------------------------------------------------------------------
class Timers:
    """Accumulated seconds per label, filled by wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, fn, label: str):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        return timed

    def reset(self) -> None:
        self.seconds.clear()


@contextlib.contextmanager
def patched(timers: Timers, targets: list[tuple[Any, str, str]]):
    """Replace ``module.name`` by a timed wrapper for the duration of the block."""
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in targets]
    try:
        for obj, name, label in targets:
            setattr(obj, name, timers.wrap(getattr(obj, name), label))
        yield timers
    finally:
        for obj, name, original in saved:
            setattr(obj, name, original)


def rss_gib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in GiB."""
    current = peak = 0.0
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 2**20
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 2**20
    if not peak:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return round(current, 2), round(peak, 2)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# -- synthetic groups ----------------------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x


def topic_centres(n_topics: int = 256, seed: int = 12345) -> np.ndarray:
    """Shared topic centres, so new queries have real neighbours in every memory."""
    rng = np.random.default_rng(seed)
    return _unit(rng.standard_normal((n_topics, DIM), dtype=np.float32))


def vectorised_features(
    clusters: np.ndarray, parsed: np.ndarray, lengths: np.ndarray, answer_emb: np.ndarray, think_emb: np.ndarray
) -> np.ndarray:
    """``group_features`` for equal-size groups at once: ``float32 [Q * n, F]``.

    Args:
        clusters: ``[Q, n]`` answer-cluster ids per group (from ``answer_clusters``).
        parsed: ``[Q, n]`` the rollout has an answer key.
        lengths: ``[Q, n]`` response lengths in characters (all > 0).
        answer_emb, think_emb: ``[Q * n, d]`` unit-norm embeddings.
    """
    q, n = clusters.shape
    sizes = (clusters[:, :, None] == np.arange(n)).sum(1)  # [Q, n]: size of cluster j
    own = np.take_along_axis(sizes, clusters, 1).astype(np.float64)
    matched = (parsed | (own > 1)).astype(np.float64)
    top = own.max(1, keepdims=True)
    probs = sizes / n
    plogp = np.where(sizes > 0, probs * np.log(np.where(sizes > 0, probs, 1.0)), 0.0)
    entropy = -plogp.sum(1, keepdims=True) / np.log(n)
    soft = np.empty((q, n), np.float64)
    think = np.empty((q, n), np.float64)
    chunk = 8192
    for a in range(0, q, chunk):
        b = min(q, a + chunk)
        for emb, out in ((answer_emb, soft), (think_emb, think)):
            e = emb[a * n : b * n].reshape(b - a, n, -1)
            sims = e @ e.transpose(0, 2, 1)
            out[a:b] = (sims.sum(2) - np.diagonal(sims, axis1=1, axis2=2)) / (n - 1)
    lengths = lengths.astype(np.float64)
    std = lengths.std(1, keepdims=True)
    length_z = np.where(std > 0, (lengths - lengths.mean(1, keepdims=True)) / np.where(std > 0, std, 1.0), 0.0)
    full = np.ones((q, n))
    cols = [
        own / n * matched,
        (own == top) * matched,
        parsed.astype(np.float64),
        full * parsed.mean(1, keepdims=True),
        full * (clusters.max(1, keepdims=True) + 1) / n,
        full * entropy,
        full * top / n,
        soft,
        think,
        np.clip(length_z, -3, 3),
        np.log1p(lengths) / 10.0,
        np.zeros((q, n)),  # empty: every synthetic response has text
        np.zeros((q, n)),  # exec_ran, exec_score: no programs here
        np.zeros((q, n)),
    ]
    return np.stack(cols, axis=2).reshape(q * n, len(GROUP_FEATURES)).astype(np.float32)


def synthetic_groups(
    n_queries: int,
    centres: np.ndarray,
    n_rollouts: int = 8,
    labelled_share: float = 0.2,
    seed: int = 0,
    prefix: str = "m",
    check: int = 32,
) -> tuple[EncodedGroups, list[str]]:
    """Synthetic encoded groups and the ids of the labelled queries.

    Query embeddings sit around shared topic centres (cosine ~0.5 between queries of a topic);
    thinking embeddings near their query; answers near one embedding per distinct answer value,
    so equal answers agree by key and by embedding. 5% of the answers have no key. The correct
    value appears with a per-query rate in [0.05, 0.95]; labels are kept on ``labelled_share`` of
    the queries only (-1 elsewhere). The first ``check`` groups' features are checked against
    ``group_features``.
    """
    rng = np.random.default_rng(seed)
    q, n, d = n_queries, n_rollouts, centres.shape[1]
    topic = rng.integers(0, len(centres), q)
    p_correct = rng.uniform(0.05, 0.95, q)
    correct = rng.random((q, n)) < p_correct[:, None]
    value_idx = np.where(correct, 0, rng.integers(1, 3, (q, n)))
    parsed = rng.random((q, n)) >= 0.05
    base = rng.integers(0, 10**6, q)
    offsets = rng.integers(1, 50, (q, 2))
    values = np.stack([base, base + offsets[:, 0], base - offsets[:, 1]], axis=1)
    lengths = (rng.lognormal(6.5, 0.6, (q, n)) + 20).astype(np.int64)

    query_emb = np.empty((q, d), np.float32)
    think_emb = np.empty((q * n, d), np.float32)
    answer_emb = np.empty((q * n, d), np.float32)
    scale = np.float32(1.0 / np.sqrt(d))
    chunk = 4096
    for a in range(0, q, chunk):
        b = min(q, a + chunk)
        m = b - a
        qe = centres[topic[a:b]] + rng.standard_normal((m, d), dtype=np.float32) * scale
        query_emb[a:b] = _unit(qe)
        qq = np.repeat(query_emb[a:b], n, axis=0)
        think_emb[a * n : b * n] = _unit(qq + rng.standard_normal((m * n, d), dtype=np.float32) * scale)
        value_base = _unit(
            0.5 * query_emb[a:b, None, :] + rng.standard_normal((m, 3, d), dtype=np.float32) * scale
        )  # [m, 3, d]
        ans = value_base[np.arange(m)[:, None], value_idx[a:b]].reshape(m * n, d)
        own = _unit(rng.standard_normal((m * n, d), dtype=np.float32))
        ans = np.where(parsed[a:b].reshape(-1, 1), ans, own)
        answer_emb[a * n : b * n] = _unit(ans + rng.standard_normal((m * n, d), dtype=np.float32) * (0.15 * scale))

    flat_values = values[np.arange(q)[:, None], value_idx].ravel().tolist()
    keys: list[str | None] = [str(v) if p else None for v, p in zip(flat_values, parsed.ravel().tolist())]
    clusters = np.empty((q, n), np.int64)
    for i in range(q):
        clusters[i] = answer_clusters(keys[i * n : (i + 1) * n], answer_emb[i * n : (i + 1) * n], 0.95)
    feats = vectorised_features(clusters, parsed, lengths, answer_emb, think_emb)
    for i in range(min(check, q)):
        sl = slice(i * n, (i + 1) * n)
        texts = ["x" * int(L) for L in lengths[i]]
        ref = group_features(keys[sl], texts, answer_emb[sl], think_emb[sl], cosine=0.95)
        if not np.allclose(ref, feats[sl], atol=1e-4):
            raise AssertionError(f"synthetic features of group {i} differ from group_features")

    n_labelled = int(round(labelled_share * q))
    is_labelled = np.zeros(q, bool)
    is_labelled[rng.choice(q, n_labelled, replace=False)] = True
    labels = np.where(is_labelled[:, None], (correct & parsed).astype(np.int8), np.int8(-1)).ravel()
    query_ids = [f"{prefix}{i}" for i in range(q)]
    groups = EncodedGroups(
        model_id=MODEL_ID,
        query_ids=query_ids,
        domains=["math"] * q,
        query_emb=query_emb,
        think_emb=think_emb,
        answer_emb=answer_emb,
        feats=feats,
        rollout_query=np.repeat(np.arange(q, dtype=np.int64), n),
        labels=labels.astype(np.int8),
        answer_keys=keys,
    )
    return groups, [query_ids[i] for i in np.flatnonzero(is_labelled)]


# -- part 1: predictor cost ----------------------------------------------------------------------
def bench_size(
    size: int, cfg: MemRewardConfig, model: FoldEnsemble, new: EncodedGroups, centres: np.ndarray, args
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "memory_queries": size,
        "memory_rollouts": size * args.rollouts,
        "load_before": load_average(),
    }
    start = time.perf_counter()
    groups, labelled = synthetic_groups(size, centres, args.rollouts, 0.2, seed=args.seed + size, prefix="m")
    out["synthetic_data_s"] = round(time.perf_counter() - start, 2)
    out["labelled_queries"] = len(labelled)

    start = time.perf_counter()
    memory = ExperienceMemory(groups, labelled, cfg.memory)
    out["memory_build_s"] = round(time.perf_counter() - start, 2)
    out["index"] = "exact (IndexFlatIP)" if memory.index.exact else f"IVF (nlist {memory.index.index.nlist})"
    start = time.perf_counter()
    QueryIndex(groups.query_emb, cfg.memory)  # the index part of the memory build, timed again alone
    out["memory_index_s"] = round(time.perf_counter() - start, 2)
    out["rss_after_memory_gib"] = rss_gib()
    print(f"[{size}] data {out['synthetic_data_s']} s, memory {out['memory_build_s']} s", flush=True)

    timers = Timers()
    targets = [
        (predict_mod, "build_graph", "build_graph"),
        (graph_mod, "query_knn_edges", "query_knn_edges"),
        (graph_mod, "agreement_edges", "agreement_edges"),
        (graph_mod, "structural_edges", "structural_edges"),
    ]
    try:
        with patched(timers, targets):
            start = time.perf_counter()
            predictor = Predictor(model, memory, cfg)
            total = time.perf_counter() - start
    except (MemoryError, RuntimeError) as exc:  # a full memory graph too large for this machine
        out["predictor_error"] = f"{type(exc).__name__}: {exc}"
        print(f"[{size}] Predictor construction failed: {out['predictor_error']}", flush=True)
        return out
    refresh = {k: round(v, 2) for k, v in timers.seconds.items()}
    refresh["total"] = round(total, 2)
    refresh["gnn_layers_and_rest"] = round(total - timers.seconds["build_graph"], 2)
    out["predictor_refresh_s"] = refresh
    out["rss_after_refresh_gib"] = rss_gib()
    print(f"[{size}] Predictor construction {refresh}", flush=True)

    timers = Timers()
    memory.index.search = timers.wrap(memory.index.search, "knn_search")
    _, nbrs = memory.index.search(new.query_emb, cfg.graph.query_knn)
    out["distinct_memory_neighbours"] = int(len(np.unique(nbrs[nbrs >= 0])))
    out["_predictor"], out["_timers"], out["calls"] = predictor, timers, []
    return out


def time_calls(results: list[dict[str, Any]], new: EncodedGroups, args) -> None:
    """Timed ``predict_groups`` calls, sizes interleaved so that load changes hit every size alike."""
    live = [r for r in results if "_predictor" in r]
    for i in range(args.warmup + args.repeats):
        for r in live:
            timers = r["_timers"]
            with patched(timers, [(predict_mod, "agreement_edges", "agreement_edges")]):
                timers.reset()
                start = time.perf_counter()
                probs = r["_predictor"].predict_groups(new)
                total = time.perf_counter() - start
            if probs.shape != (new.num_rollouts,) or not np.all(np.isfinite(probs)):
                raise AssertionError("predict_groups returned bad probabilities")
            if i >= args.warmup:
                search = timers.seconds["knn_search"]
                r["calls"].append(
                    {
                        "total_ms": round(total * 1e3, 3),
                        "knn_search_ms": round(search * 1e3, 3),
                        "gnn_graph_ms": round((total - search) * 1e3, 3),
                        "agreement_edges_ms": round(timers.seconds["agreement_edges"] * 1e3, 3),
                    }
                )
    for r in live:
        calls = r["calls"]
        r["median_ms"] = {k: round(statistics.median(c[k] for c in calls), 3) for k in calls[0]}
        r["min_ms"] = {k: round(min(c[k] for c in calls), 3) for k in calls[0]}
        r["load_after"] = load_average()
        del r["_predictor"], r["_timers"]
        print(f"[{r['memory_queries']}] predict_groups median {r['median_ms']} min {r['min_ms']}", flush=True)
    gc.collect()


# -- part 2: embedder throughput -----------------------------------------------------------------
def long_texts(tokenizer, n: int, tokens: int, seed: int = 0) -> list[str]:
    """``n`` distinct English texts of about ``tokens`` tokens (special tokens included)."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        order = rng.permutation(len(SENTENCES))
        words = f"Note {i}. " + " ".join(SENTENCES[j] for j in np.concatenate([order, order[::-1]]))
        ids = tokenizer(words, add_special_tokens=False)["input_ids"][: tokens - 2]
        texts.append(tokenizer.decode(ids))
    return texts


def bench_embedder(args) -> dict[str, Any]:
    from memreward_verl.embed import load_embedder

    cfg = EmbedConfig()
    embedder = load_embedder(cfg)
    raw = embedder.model  # the very SentenceTransformer our embedder wraps: same weights, same settings
    texts = long_texts(raw.tokenizer, args.embed_texts, cfg.max_seq_length)
    n_tokens = [len(raw.tokenizer(t)["input_ids"]) for t in texts]
    half = texts[: len(texts) // 2]
    duplicated = half + half

    def raw_encode(items: list[str]) -> np.ndarray:
        return raw.encode(
            items,
            batch_size=cfg.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )

    raw_encode(texts[:64])  # warm-up
    embedder.encode(texts[:64])
    runs: dict[str, list[float]] = defaultdict(list)
    load_before = load_average()
    for r in range(args.embed_repeats):
        order = [("raw", raw_encode), ("ours", embedder.encode)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            emb = fn(texts)
            runs[name].append(time.perf_counter() - start)
            if name == "raw":
                ref = emb
            else:
                ours = emb
        for name, fn in (("raw_duplicated", raw_encode), ("ours_duplicated", embedder.encode)):
            start = time.perf_counter()
            fn(duplicated)
            runs[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in runs.items()}
    n = len(texts)
    return {
        "model": embedder.model_id,
        "texts": n,
        "tokens_per_text": {"min": min(n_tokens), "mean": round(float(np.mean(n_tokens)), 1), "max": max(n_tokens)},
        "batch_size": cfg.batch_size,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.embed_repeats,
        "seconds": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        "raw_texts_per_s": round(n / med["raw"], 1),
        "ours_texts_per_s": round(n / med["ours"], 1),
        "overhead_pct": round(100 * (med["ours"] / med["raw"] - 1), 1),
        "duplicated_half": {
            "raw_texts_per_s": round(n / med["raw_duplicated"], 1),
            "ours_texts_per_s": round(n / med["ours_duplicated"], 1),
        },
        "max_abs_diff_vs_raw": float(np.abs(ours - ref).max()),
        "load_before": load_before,
        "load_after": load_average(),
    }


# -- report --------------------------------------------------------------------------------------
def print_table(results: list[dict[str, Any]], ratios: dict[str, Any], emb: dict[str, Any] | None) -> None:
    head = (
        f"{'queries':>8} {'rollouts':>9} {'index':>19} {'memory s':>9} {'refresh s':>10} {'peak GiB':>9} "
        f"{'nbrs':>5} {'call ms med/min':>16} {'kNN ms med/min':>15} {'GNN+graph ms med/min':>21}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        refresh = r.get("predictor_refresh_s", {}).get("total", "fail")
        med, low = r.get("median_ms", {}), r.get("min_ms", {})
        peak = r.get("rss_after_refresh_gib", r.get("rss_after_memory_gib"))[1]

        def pair(key: str, med=med, low=low) -> str:
            return f"{med[key]:.1f}/{low[key]:.1f}" if key in med else "-"

        print(
            f"{r['memory_queries']:>8} {r['memory_rollouts']:>9} {r['index']:>19} {r['memory_build_s']:>9} "
            f"{refresh:>10} {peak:>9} {r.get('distinct_memory_neighbours', '-'):>5} "
            f"{pair('total_ms'):>16} {pair('knn_search_ms'):>15} {pair('gnn_graph_ms'):>21}"
        )
    for key, val in ratios.items():
        print(f"{key}: {val}")
    if emb:
        print(
            f"embedder ({emb['texts']} texts, ~{emb['tokens_per_text']['mean']} tokens): raw "
            f"{emb['raw_texts_per_s']} texts/s, ours {emb['ours_texts_per_s']} texts/s, "
            f"overhead {emb['overhead_pct']}%; half duplicated: raw {emb['duplicated_half']['raw_texts_per_s']}, "
            f"ours {emb['duplicated_half']['ours_texts_per_s']} texts/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="memory sizes in queries, comma separated")
    parser.add_argument("--repeats", type=int, default=5, help="timed predict_groups calls per size (>= 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed predict_groups calls first")
    parser.add_argument("--new-queries", type=int, default=128)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--embed-texts", type=int, default=512)
    parser.add_argument("--embed-repeats", type=int, default=3)
    parser.add_argument("--skip-embedder", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch and faiss threads")
    parser.add_argument("--members", type=int, default=1, help="served fold models (fit.folds: what a fit serves)")
    parser.add_argument(
        "--anchor-only", action="store_true", help="members without a residual (an anchor served alone: no GNN)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/cost.json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    torch.set_num_threads(args.threads)
    import faiss

    faiss.omp_set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = MemRewardConfig()
    # untrained: weights do not change cost; a nonzero residual, as a fit that keeps it serves (a zero residual
    # skips message passing: --anchor-only)
    members = [MemRewardGNN(DIM, len(GROUP_FEATURES), cfg.gnn) for _ in range(args.members)]
    if not args.anchor_only:
        for member in members:
            torch.nn.init.normal_(member.head[-1].weight, std=0.1)
    model = FoldEnsemble(members).eval()
    centres = topic_centres()
    new, _ = synthetic_groups(args.new_queries, centres, args.rollouts, 0.0, seed=args.seed + 1, prefix="new")

    report: dict[str, Any] = {
        "command": "python benchmarks/bench_cost.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if not isinstance(v, bool))
        + "".join(f" --{k.replace('_', '-')}" for k, v in vars(args).items() if v is True),
        "machine": {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "faiss": faiss.__version__,
            "threads": args.threads,
        },
        "load_at_start": load_average(),
        "config": {
            "new_queries": args.new_queries,
            "members": args.members,
            "anchor_only": args.anchor_only,
            "rollouts": args.rollouts,
            "dim": DIM,
            "labelled_share": 0.2,
            "graph": vars(cfg.graph),
            "gnn": vars(cfg.gnn),
            "memory": vars(cfg.memory),
        },
    }
    results = [bench_size(size, cfg, model, new, centres, args) for size in sizes]
    time_calls(results, new, args)
    report["sizes"] = results
    ok = [r for r in results if "median_ms" in r]
    ratios: dict[str, Any] = {}
    if len(ok) >= 2:
        lo, hi = ok[0], ok[-1]
        for stat in ("median_ms", "min_ms"):
            for key in ("gnn_graph_ms", "total_ms", "knn_search_ms"):
                ratio = hi[stat][key] / lo[stat][key]
                ratios[f"{stat[:-3]} {key[:-3]} t({hi['memory_queries']})/t({lo['memory_queries']})"] = round(ratio, 2)
        gnn_ratio = hi["median_ms"]["gnn_graph_ms"] / lo["median_ms"]["gnn_graph_ms"]
        ratios[f"target: median GNN+graph ratio <= {TARGET_RATIO}"] = "met" if gnn_ratio <= TARGET_RATIO else "NOT met"
    report["ratios"] = ratios
    report["embedder"] = None if args.skip_embedder else bench_embedder(args)
    report["load_at_end"] = load_average()
    print_table(results, ratios, report["embedder"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
