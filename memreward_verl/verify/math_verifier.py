"""Math answers: extract the final answer, then compare symbolically with math-verify.

String comparison of the first number (the reference implementation) calls ``0.75`` wrong for
``\\frac{3}{4}`` and ``1,000`` wrong for ``1000``. Here the final answer is extracted (``\\boxed{}``,
``#### N``, "the answer is ...", else the last number) and math-verify decides equivalence
(fractions, LaTeX, units, percentages, thousands separators, intervals, sets, expressions).

math-verify's own timeouts use ``signal.alarm``, which only works in the main thread; we disable
them and run our own timer in the main thread, or hand the comparison to a small process pool
(whose workers run it in *their* main thread) when called from another thread.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import re
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from memreward_verl.answers.markers import _HASHES, last_boxed
from memreward_verl.answers.math_answer import clean_math_answer as _clean_answer
from memreward_verl.answers.math_answer import extract_math_answer
from memreward_verl.verify.base import VERIFIERS, Status, Verifier, VerifyResult

__all__ = [
    "MathConfig",
    "MathVerifier",
    "extract_math_answer",
    "last_boxed",
    "math_equal",
    "math_equivalence_classes",
]

logger = logging.getLogger(__name__)

MATH_SOURCES = ("openai/gsm8k", "gsm_symbolic", "math", "math500", "numina_math")
MATH_ALIASES = (
    "gsm8k",
    "apple/GSM-Symbolic",
    "lighteval/MATH",
    "DigitalLearningGmbH/MATH-lighteval",
    "hendrycks/competition_math",
    "HuggingFaceH4/MATH-500",
    "math_500",
    "math_dapo",
    "math_dapo_reasoning",
    "AI-MO/NuminaMath-CoT",
    "numina_aops_forum",
    "numina_synthetic_math",
    "numina_amc_aime",
    "numina_synthetic_amc",
    "numina_cn_k12",
    "numina_olympiads",
)


@dataclass(frozen=True)
class MathConfig:
    """Options of :class:`MathVerifier`.

    Attributes:
        timeout_s: time budget for parsing and comparing one response (a timeout scores 0).
        last_number_fallback: when no explicit final answer is marked, use the last number.
    """

    timeout_s: float = 5.0
    last_number_fallback: bool = True

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"MathConfig.timeout_s must be > 0 (got {self.timeout_s!r})")


# --------------------------------------------------------------------------------------- extraction
# The extraction is shared with the answer-agreement vote: memreward_verl/answers/math_answer.py.

# --------------------------------------------------------------------------------------- comparison


class _MathTimeout(BaseException):
    """Raised by our timer; BaseException so math-verify's ``except Exception`` cannot swallow it."""


def _silence_math_verify_timeout_warning() -> None:
    # We pass timeout=None to math-verify (its alarm-based timer clashes with ours); it then warns
    # once that the caller must provide a timeout. We do, so mark the warning as already shown.
    from math_verify import grader, parser

    for mod in (grader, parser):
        if hasattr(mod, "TIMEOUT_WARNING_SHOWN"):
            mod.TIMEOUT_WARNING_SHOWN = True


@functools.lru_cache(maxsize=1)
def _math_verify() -> Any:
    import math_verify

    _silence_math_verify_timeout_warning()
    return math_verify


def _parse(text: str) -> list:
    mv = _math_verify()
    configs = (mv.LatexExtractionConfig(), mv.ExprExtractionConfig())
    for wrapped in (f"\\boxed{{{text}}}", f"${text}$"):
        parsed = mv.parse(wrapped, configs, parsing_timeout=None)
        if any(not isinstance(p, str) for p in parsed):
            return parsed
    return mv.parse(f"\\boxed{{{text}}}", configs, parsing_timeout=None)


@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str) -> tuple:
    return tuple(_parse(text))


_parse_gold = _parse_cached  # the old name

_WORDS = re.compile(r"[A-Za-z][A-Za-z' \-]*[A-Za-z]")


def _plain_words(s: str) -> str | None:
    """``s`` is a word answer ("Evelyn", ``\\text{blue whale}``): its normalised text, else None."""
    inner = re.sub(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}", r"\1", s).strip().strip("$").strip()
    if _WORDS.fullmatch(inner) and re.search(r"[A-Za-z]{3}", inner):
        return _norm_text(inner)
    return None


def _equal_now(pred: str, gold: str) -> bool:
    # Two word answers are compared as text: sympy reads "Eveyln" as a product of symbols equal to "Evelyn".
    pred_words, gold_words = _plain_words(pred), _plain_words(gold)
    if pred_words is not None and gold_words is not None:
        return pred_words == gold_words
    mv = _math_verify()
    gold_parsed = list(_parse_cached(gold))
    pred_parsed = list(_parse_cached(pred))
    if not gold_parsed or not pred_parsed:
        return False
    if mv.verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return True
    # A bare string answer ("Evelyn", "C") that sympy could not parse: compare normalised text.
    return _norm_text(pred) == _norm_text(gold) != ""


def _norm_text(s: str) -> str:
    s = re.sub(r"\\text\{([^{}]*)\}|\\mathrm\{([^{}]*)\}", lambda m: m.group(1) or m.group(2) or "", s)
    return re.sub(r"[\s$\\{}()]", "", s).lower()


def _equal_with_timer(pred: str, gold: str, timeout_s: float) -> bool | None:
    """Compare in the main thread under an ITIMER_REAL deadline; None means it timed out."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise _MathTimeout()

    _math_verify()  # importing math-verify and sympy (seconds on a busy machine) is not the comparison's time
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    old_delay = 0.0
    try:  # the timer starts inside the try: an alarm firing at once is a timeout, not an escaped exception
        old_delay, _ = signal.setitimer(signal.ITIMER_REAL, timeout_s)
        return _equal_now(pred, gold)
    except _MathTimeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:  # re-arm a timer someone else had set (e.g. pytest-timeout)
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - started), 1e-3))


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            workers = max(1, min(4, multiprocessing.cpu_count()))
            _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
            logger.debug("started a %d-process math-verify pool for non-main threads", workers)
        return _POOL


def _pool_job(pred: str, gold: str, timeout_s: float) -> bool | None:
    return _equal_with_timer(pred, gold, timeout_s)


def math_equal(pred: str, gold: str, timeout_s: float = 5.0) -> bool | None:
    """Whether ``pred`` and ``gold`` are the same mathematical answer.

    Safe to call from any thread: outside the main thread the comparison runs in a process pool.

    Args:
        pred: the extracted answer string.
        gold: the reference answer string.
        timeout_s: time budget; exceeding it gives ``None``.

    Returns:
        True or False, or ``None`` on timeout.
    """
    if threading.current_thread() is threading.main_thread():
        return _equal_with_timer(pred, gold, timeout_s)
    future = _pool().submit(_pool_job, pred, gold, timeout_s)
    try:
        # Generous: includes queueing behind other jobs and the workers' first start.
        return future.result(timeout=timeout_s * 4 + 60)
    except FutureTimeout:
        future.cancel()
        return None


_PLAIN_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:/[1-9]\d*)?")  # 12, -3.5, .5, 7/8


def _plain_number(key: str) -> Fraction | None:
    """The exact value of a plain decimal or fraction key, else ``None`` (math-verify decides those)."""
    if not _PLAIN_NUMBER.fullmatch(key):
        return None
    num, _, den = key.partition("/")
    return Fraction(num) / (Fraction(den) if den else 1)


def _plain_equal(a: Fraction, b: Fraction) -> bool:
    """Equal as math-verify would call two numbers: exactly, or within a relative 1e-6 (rounded decimals)."""
    return a == b or abs(a - b) <= Fraction(1, 10**6) * max(1, abs(a), abs(b))


def _classes_now(keys: list[str], timeout_s: float, budget_s: float) -> list[int]:
    """Greedy clustering: each key joins the first class whose representative it equals."""
    reps: list[str] = []
    out: list[int] = []
    deadline = time.monotonic() + budget_s
    for key in keys:
        found = -1
        for c, rep in enumerate(reps):
            if key == rep:
                same: bool | None = True
            elif (a := _plain_number(key)) is not None and (b := _plain_number(rep)) is not None:
                same = _plain_equal(a, b)  # two plain numbers: no symbolic algebra needed (sympy is slow)
            elif time.monotonic() > deadline:
                break
            else:
                same = _equal_with_timer(key, rep, timeout_s)
            if same:
                found = c
                break
        if found == -1:
            reps.append(key)
            found = len(reps) - 1
        out.append(found)
    return out


def math_equivalence_classes(keys: list[str], timeout_s: float = 1.0, budget_s: float = 3.0) -> list[int]:
    """Class id per answer string: strings that :func:`math_equal` calls equal share one.

    The vote's answer clusters use this (memreward_verl/answers/equivalence.py), so the verifier and the vote
    compare answers with the same function. Each key is compared with one representative per class
    found so far (``math_equal(key, representative)``); after ``budget_s`` seconds the remaining keys
    are compared by string equality only. Outside the main thread the whole list is one job of the
    process pool.

    Args:
        keys: answer strings (distinct canonical keys of one group, typically).
        timeout_s: time budget of one comparison (a timeout counts as different).
        budget_s: time budget of all comparisons.

    Returns:
        Class ids ``0..k-1`` in order of first appearance.
    """
    keys = list(keys)
    if threading.current_thread() is threading.main_thread():
        return _classes_now(keys, timeout_s, budget_s)
    future = _pool().submit(_classes_now, keys, timeout_s, budget_s)
    try:
        return future.result(timeout=budget_s + timeout_s * 4 + 60)
    except FutureTimeout:
        future.cancel()
        ids: dict[str, int] = {}
        return [ids.setdefault(k, len(ids)) for k in keys]


def gold_answer(ground_truth: str, where: str = "math") -> str:
    """Validate a math ground truth; a full GSM8K solution is reduced to its ``#### N`` answer.

    Raises:
        ValueError: if ``ground_truth`` is not a non-empty string.
    """
    if not isinstance(ground_truth, str) or not ground_truth.strip():
        raise ValueError(f"{where}: ground truth must be a non-empty answer string (got {ground_truth!r})")
    hashes = _HASHES.findall(ground_truth)
    return _clean_answer(hashes[-1]) if hashes else ground_truth.strip()


class MathVerifier(Verifier):
    """Final-answer extraction + math-verify equivalence.

    Args:
        config: options (timeout, last-number fallback).
    """

    domain = "math"

    def __init__(self, config: MathConfig | None = None) -> None:
        self.config = config or MathConfig()

    def verify(self, response: str, ground_truth: str, extra_info: Mapping[str, Any] | None = None) -> VerifyResult:
        gold = gold_answer(ground_truth)
        answer = extract_math_answer(response or "", last_number_fallback=self.config.last_number_fallback)
        if answer is None:
            return VerifyResult.wrong(Status.NO_ANSWER, reason="no \\boxed{}, '####', 'answer is' or number found")
        same = math_equal(answer, gold, self.config.timeout_s)
        if same is None:
            return VerifyResult.wrong(Status.UNDECIDED, answer, f"comparison took over {self.config.timeout_s:g}s")
        if same:
            return VerifyResult.right(answer)
        return VerifyResult.wrong(Status.WRONG_ANSWER, answer, f"{answer!r} is not equivalent to {gold!r}")

    def __repr__(self) -> str:
        return f"MathVerifier({self.config})"


DEFAULT_MATH = MathVerifier()
VERIFIERS.register(MATH_SOURCES[0], aliases=MATH_SOURCES[1:] + MATH_ALIASES)(DEFAULT_MATH)
