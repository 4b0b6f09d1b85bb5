"""Label oracles: given a group, return its ground-truth rewards, at a cost.

The default, :class:`VerifierOracle`, is research mode: the verifiers (math, choice, sandboxed
code) against the ground truth the data carries. :class:`RecordedLabelOracle` returns labels
already in a rollout file (the verifiers' output of ``memreward label``), which is what the
offline simulation uses so that bought rewards and evaluation truth are the same numbers. Plug in
your own (a human, an expensive judge) by subclassing :class:`LabelOracle` and implementing
``label``.

Every oracle keeps a ledger (which groups were asked, total cost), so tests and reports can show
that only chosen groups ever saw ground truth.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memreward_verl.rollouts import Query

__all__ = ["OracleRequest", "LabelOracle", "VerifierOracle", "RecordedLabelOracle", "request_from_query"]


@dataclass(frozen=True)
class OracleRequest:
    """Everything an oracle may need to label one group."""

    group_id: str
    data_source: str
    domain: str
    ground_truth: str | None
    responses: Sequence[str]
    extra_info: Mapping[str, Any] | None = None


def request_from_query(query: Query) -> OracleRequest:
    """The oracle request of a rollout-file record."""
    return OracleRequest(
        group_id=query.query_id,
        data_source=query.data_source,
        domain=query.domain,
        ground_truth=query.ground_truth,
        responses=[r.text for r in query.rollouts],
    )


class LabelOracle(abc.ABC):
    """Base class: ``oracle(request) -> rewards [n]`` with a thread-safe cost ledger.

    Args:
        cost_per_group: cost charged per labelled group.
        cost_per_rollout: cost charged per rollout of a labelled group.
    """

    def __init__(self, cost_per_group: float = 1.0, cost_per_rollout: float = 0.0) -> None:
        self.cost_per_group = cost_per_group
        self.cost_per_rollout = cost_per_rollout
        self._lock = threading.Lock()
        self.asked: list[str] = []
        self.spent = 0.0

    def cost(self, request: OracleRequest) -> float:
        return self.cost_per_group + self.cost_per_rollout * len(request.responses)

    @abc.abstractmethod
    def label(self, request: OracleRequest) -> np.ndarray:
        """Ground-truth rewards ``[n]`` in [0, 1] of the request's responses."""

    def __call__(self, request: OracleRequest) -> np.ndarray:
        rewards = np.asarray(self.label(request), dtype=np.float64)
        if rewards.shape != (len(request.responses),):
            raise ValueError(
                f"oracle returned {rewards.shape} rewards for {len(request.responses)} responses"
                f" of {request.group_id!r}"
            )
        with self._lock:
            self.asked.append(request.group_id)
            self.spent += self.cost(request)
        return rewards


class VerifierOracle(LabelOracle):
    """Research mode: the package's verifiers against the data's ground truth.

    Raises (on call):
        ValueError: when the group has no ground truth (there is nothing to buy).
    """

    def label(self, request: OracleRequest) -> np.ndarray:
        from memreward_verl.verify import verify

        if request.ground_truth is None:
            raise ValueError(f"group {request.group_id!r} has no ground truth to verify against")
        return np.array(
            [
                verify(request.data_source, text, request.ground_truth, request.extra_info, ability=request.domain)
                for text in request.responses
            ]
        )


class RecordedLabelOracle(LabelOracle):
    """Labels already recorded in rollout-file records (``memreward label`` output).

    Args:
        queries: the records; only the labels of groups that are asked for are ever read.
    """

    def __init__(self, queries: Sequence[Query], cost_per_group: float = 1.0, cost_per_rollout: float = 0.0):
        super().__init__(cost_per_group, cost_per_rollout)
        self._queries = {q.query_id: q for q in queries}

    def label(self, request: OracleRequest) -> np.ndarray:
        q = self._queries[request.group_id]
        if any(r.label is None for r in q.rollouts):
            raise ValueError(f"group {request.group_id!r} has unlabelled rollouts; label the file first")
        return np.array([float(r.label) for r in q.rollouts])
