"""Label a rollout file with the ground-truth verifiers, in parallel.

Every rollout of a query that has a ``ground_truth`` gets ``label`` 0/1 (and, optionally, the
verifier's status in ``meta["verify"]``). Queries without ground truth are kept untouched with
null labels and counted, never dropped: they are exactly what the reward predictor must fill.

Work runs in a pool of worker *processes* (started with ``spawn``): math-verify's timer needs a
main thread, and a crashing or hanging verification must not take the caller down.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memreward_verl.rollouts import Query, read_rollouts, write_rollouts
from memreward_verl.verify.code_verifier import CodeConfig, CodeVerifier

__all__ = ["LabelConfig", "LabelReport", "label_queries", "label_file"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelConfig:
    """Options of :func:`label_queries`.

    Attributes:
        jobs: worker processes (``None``: one per CPU; ``1``: run in this process).
        only_missing: keep labels that are already set and verify only null ones.
        record_status: store ``{"status", "answer"}`` of each verification in ``rollout.meta["verify"]``
            (the answer is omitted for code, where it would duplicate the program).
        progress: show a tqdm progress bar on stderr.
        code: sandbox limits for code verification (``None``: the defaults).
    """

    jobs: int | None = None
    only_missing: bool = False
    record_status: bool = True
    progress: bool = True
    code: CodeConfig | None = None

    def __post_init__(self) -> None:
        if self.jobs is not None and self.jobs < 1:
            raise ValueError(f"LabelConfig.jobs must be >= 1 or None (got {self.jobs!r})")


@dataclass
class LabelReport:
    """What a labelling run did.

    Attributes:
        n_queries: queries read.
        n_queries_labelled: queries with a ground truth (their rollouts were verified).
        n_queries_without_ground_truth: queries left with null labels.
        n_rollouts_verified: rollouts verified in this run.
        n_rollouts_kept: rollouts whose existing label was kept (``only_missing``).
        n_rollouts_unlabelled: rollouts left null (no ground truth).
        n_correct: verified rollouts labelled 1.
        statuses: verification status counts.
        by_domain: per-domain ``{"verified": n, "correct": n}``.
        wall_s: wall-clock seconds of the verification.
    """

    n_queries: int = 0
    n_queries_labelled: int = 0
    n_queries_without_ground_truth: int = 0
    n_rollouts_verified: int = 0
    n_rollouts_kept: int = 0
    n_rollouts_unlabelled: int = 0
    n_correct: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    by_domain: dict[str, dict[str, int]] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def pass_rate(self) -> float:
        return self.n_correct / self.n_rollouts_verified if self.n_rollouts_verified else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["pass_rate"] = self.pass_rate
        return out


# A unit of work: (data_source, domain, response, ground_truth, extra_info).
_Task = tuple[str, str, str, str, dict[str, Any]]
_WORKER_CODE: CodeConfig | None = None


def _init_worker(code: CodeConfig | None) -> None:
    global _WORKER_CODE
    _WORKER_CODE = code


def _verify_task(task: _Task) -> tuple[float, str, str | None, str | None]:
    """Verify one rollout; returns (score, status, answer, error message)."""
    from memreward_verl.verify import resolve

    data_source, domain, response, ground_truth, extra = task
    try:
        verifier = resolve(data_source, domain)
        if _WORKER_CODE is not None and isinstance(verifier, CodeVerifier):
            verifier = CodeVerifier(_WORKER_CODE)
        res = verifier.verify(response, ground_truth, extra)
    except (KeyError, ValueError) as exc:
        return 0.0, "error", None, str(exc)
    answer = None if verifier.domain == "code" else res.answer
    return res.score, res.status.value, answer, None


def _results(tasks: Sequence[_Task], config: LabelConfig) -> Iterator[tuple[float, str, str | None, str | None]]:
    jobs = config.jobs or os.cpu_count() or 1
    if jobs == 1 or len(tasks) <= 1:
        _init_worker(config.code)
        try:
            yield from map(_verify_task, tasks)
        finally:
            _init_worker(None)
        return
    chunk = max(1, min(16, len(tasks) // (jobs * 8)))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=(config.code,)) as pool:
        yield from pool.map(_verify_task, tasks, chunksize=chunk)


def label_queries(queries: Sequence[Query], config: LabelConfig | None = None) -> LabelReport:
    """Fill the labels of ``queries`` in place.

    Args:
        queries: queries in the canonical rollout format.
        config: parallelism and bookkeeping options.

    Returns:
        A :class:`LabelReport`.

    Raises:
        ValueError: naming the query when its data source is unknown or its ground truth malformed.
    """
    cfg = config or LabelConfig()
    report = LabelReport(n_queries=len(queries))
    tasks: list[_Task] = []
    slots: list[tuple[int, int]] = []
    for qi, q in enumerate(queries):
        if q.ground_truth is None:
            report.n_queries_without_ground_truth += 1
            report.n_rollouts_unlabelled += len(q.rollouts)
            continue
        report.n_queries_labelled += 1
        # The record's own fields (e.g. "options") too: the vote reads the same (answers.rollout_key).
        extra = {**q.extra, "question": q.question, "prompt": q.question, "ability": q.domain}
        for ri, r in enumerate(q.rollouts):
            if cfg.only_missing and r.label is not None:
                report.n_rollouts_kept += 1
                continue
            tasks.append((q.data_source, q.domain, r.text, q.ground_truth, extra))
            slots.append((qi, ri))
    logger.info(
        "verifying %d rollouts of %d queries (%d queries have no ground truth and stay unlabelled)",
        len(tasks),
        report.n_queries_labelled,
        report.n_queries_without_ground_truth,
    )
    statuses: Counter[str] = Counter()
    start = time.monotonic()
    bar = _progress(len(tasks), cfg.progress)
    try:
        for (qi, ri), (score, status, answer, error) in zip(slots, _results(tasks, cfg)):
            q = queries[qi]
            if error is not None:
                raise ValueError(f"query {q.query_id!r} (data source {q.data_source!r}): {error}")
            rollout = q.rollouts[ri]
            rollout.label = 1 if score >= 1.0 else 0
            if cfg.record_status:
                rollout.meta["verify"] = {"status": status} if answer is None else {"status": status, "answer": answer}
            statuses[status] += 1
            dom = report.by_domain.setdefault(q.domain, {"verified": 0, "correct": 0})
            dom["verified"] += 1
            dom["correct"] += rollout.label
            report.n_correct += rollout.label
            report.n_rollouts_verified += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    report.statuses = dict(statuses)
    report.wall_s = time.monotonic() - start
    return report


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="rollout", desc="verifying", smoothing=0.05)


def label_file(
    in_path: str | os.PathLike, out_path: str | os.PathLike, config: LabelConfig | None = None
) -> LabelReport:
    """Read a rollout file, label it, and write the result (atomically).

    Args:
        in_path: input rollout file (``.jsonl`` or ``.jsonl.gz``).
        out_path: where to write the labelled file.
        config: see :class:`LabelConfig`.

    Returns:
        The :class:`LabelReport`.

    Raises:
        FileNotFoundError: if ``in_path`` does not exist.
        ValueError: on a malformed file, an unknown data source or a malformed ground truth.
    """
    if not Path(in_path).is_file():
        raise FileNotFoundError(f"rollout file not found: {in_path}")
    queries = read_rollouts(in_path)
    report = label_queries(queries, config)
    write_rollouts(queries, out_path)
    return report
