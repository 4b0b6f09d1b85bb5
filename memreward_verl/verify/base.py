"""The verifier contract: a result type, a status vocabulary and the one verifier registry.

A verifier turns ``(response, ground_truth)`` into a :class:`VerifyResult`. The result keeps the
extracted answer and, on failure, *why* (no answer, timeout, runtime error, ...) so labelling runs
can be audited instead of trusted blindly.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from memreward_verl.registry import Registry

__all__ = [
    "Status",
    "VerifyResult",
    "Verifier",
    "FunctionVerifier",
    "VERIFIERS",
    "register_verifier",
    "strip_reasoning",
]

logger = logging.getLogger(__name__)


class Status(str, Enum):
    """Why a response got its score."""

    CORRECT = "correct"
    WRONG_ANSWER = "wrong_answer"
    NO_ANSWER = "no_answer"  # nothing answer-like (or no code) could be extracted
    SYNTAX_ERROR = "syntax_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"  # the response's program ran out of time (a verdict on the response)
    # The verifier ran out of ITS time budget (math-verify on a busy machine, a process pool starting):
    # not a verdict. Scored 0 by verify_detailed for offline statistics; verify() retries, then raises.
    UNDECIDED = "undecided"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INCOMPLETE = "incomplete"  # the program exited before its tests finished (sys.exit, os._exit)
    SANDBOX_ERROR = "sandbox_error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verifying one response.

    Attributes:
        score: reward in [0, 1] (1.0 for a correct response).
        status: the :class:`Status` explaining the score.
        answer: the extracted answer (math/QA) or a short description of the extracted program.
        reason: human-readable detail for failures (the failing test, the exception, ...).
    """

    score: float
    status: Status
    answer: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"VerifyResult.score must be in [0, 1] (got {self.score!r})")

    @property
    def correct(self) -> bool:
        return self.status is Status.CORRECT

    @classmethod
    def right(cls, answer: str | None = None) -> VerifyResult:
        return cls(1.0, Status.CORRECT, answer)

    @classmethod
    def wrong(cls, status: Status, answer: str | None = None, reason: str | None = None) -> VerifyResult:
        return cls(0.0, status, answer, reason)

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "status": self.status.value, "answer": self.answer, "reason": self.reason}


class Verifier(abc.ABC):
    """Scores a response against a ground truth for one family of data sources.

    Attributes:
        domain: ``"math"``, ``"qa"`` or ``"code"`` (or a user-defined domain).
    """

    domain: str = "unknown"

    @abc.abstractmethod
    def verify(self, response: str, ground_truth: str, extra_info: Mapping[str, Any] | None = None) -> VerifyResult:
        """Score ``response`` against ``ground_truth``.

        Args:
            response: the model's full response text.
            ground_truth: the dataset's reference, in the format documented for the domain.
            extra_info: optional per-example metadata; never required for grading.

        Returns:
            A :class:`VerifyResult`.

        Raises:
            ValueError: if ``ground_truth`` is malformed for this verifier.
        """


class FunctionVerifier(Verifier):
    """Adapts a plain ``fn(response, ground_truth, extra_info) -> float | bool | VerifyResult``.

    Args:
        fn: the scoring function.
        domain: the domain reported for it.
    """

    def __init__(self, fn: Callable[..., Any], domain: str = "custom") -> None:
        self.fn = fn
        self.domain = domain

    def verify(self, response: str, ground_truth: str, extra_info: Mapping[str, Any] | None = None) -> VerifyResult:
        out = self.fn(response, ground_truth, extra_info)
        if isinstance(out, VerifyResult):
            return out
        if isinstance(out, bool | int | float):
            score = float(out)
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"verifier function {self.fn!r} returned {out!r}, outside [0, 1]")
            return VerifyResult(score, Status.CORRECT if score >= 1.0 else Status.WRONG_ANSWER)
        raise TypeError(f"verifier function {self.fn!r} returned {type(out).__name__}; expected float or VerifyResult")

    def __repr__(self) -> str:
        return f"FunctionVerifier({getattr(self.fn, '__qualname__', self.fn)!r}, domain={self.domain!r})"


VERIFIERS: Registry[Verifier] = Registry("verifier")


def strip_reasoning(text: str) -> str:
    """The part of a response after its reasoning trace (``</think>``), when an answer follows it.

    Reasoning models think aloud before answering; numbers and letters inside the trace are not
    the answer. Without a closing tag (or with nothing after it) the whole text is kept.
    """
    head, sep, tail = text.rpartition("</think>")
    return tail if sep and tail.strip() else text


def register_verifier(
    name: str, verifier: Verifier | Callable[..., Any], *, aliases: tuple[str, ...] = (), domain: str = "custom"
) -> Verifier:
    """Register a verifier (or a plain scoring function) for a data source name.

    Args:
        name: the data source name routed to it (matched case-insensitively, ``-`` == ``_``).
        verifier: a :class:`Verifier` or a function ``fn(response, ground_truth, extra_info)``.
        aliases: further data source names for the same verifier.
        domain: domain reported when ``verifier`` is a plain function.

    Returns:
        The registered :class:`Verifier`.

    Raises:
        ValueError: if a name is already registered to a different verifier.
        TypeError: if ``verifier`` is neither a Verifier nor callable.
    """
    if not isinstance(verifier, Verifier):
        if not callable(verifier):
            raise TypeError(f"register_verifier({name!r}): expected a Verifier or a callable, got {verifier!r}")
        verifier = FunctionVerifier(verifier, domain=domain)
    VERIFIERS.register(name, aliases=aliases)(verifier)
    return verifier
