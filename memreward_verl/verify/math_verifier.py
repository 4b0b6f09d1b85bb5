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
from typing import Any

from memreward_verl.verify.base import VERIFIERS, Status, Verifier, VerifyResult, strip_reasoning

__all__ = ["MathConfig", "MathVerifier", "extract_math_answer", "math_equal"]

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

_BOX_CMD = re.compile(r"\\(?:boxed|fbox)\s*")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=)\s*(?:is\s*)?:?\s*([^\n]+)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_INLINE_MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_UNIT_WORDS = re.compile(r"^([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?)\s*([A-Za-z][A-Za-z\s\-/]*)$")
_NOT_UNITS = {"pi", "i", "e", "sqrt", "x", "y", "n", "k"}


def _balanced(text: str, open_idx: int) -> str | None:
    """Content of the brace group starting at ``text[open_idx] == '{'``, or None if unbalanced."""
    depth = 0
    for i in range(open_idx, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_idx + 1 : i]
    return None


def last_boxed(text: str) -> str | None:
    """The last non-empty ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed N`` content."""
    for m in reversed(list(_BOX_CMD.finditer(text))):
        end = m.end()
        if end < len(text) and text[end] == "{":
            inner = _balanced(text, end)
        else:
            tail = re.match(r"([^\s$]+)", text[end:])
            inner = tail.group(1) if tail else None
        if inner is not None and inner.strip():
            return inner.strip()
    return None


def _clean_answer(ans: str) -> str:
    """Strip delimiters, trailing punctuation and plain-word units from an answer string."""
    ans = ans.strip()
    m = _INLINE_MATH.search(ans)
    if m and "\\boxed" not in ans:
        ans = next(g for g in m.groups() if g is not None)
    boxed = last_boxed(ans)
    if boxed is not None:
        ans = boxed
    ans = ans.strip().rstrip(".,;:!").strip()
    if ans.startswith("$") and ans.count("$") == 1:  # "$18" means eighteen dollars, not math mode
        ans = ans[1:]
    if ans.endswith("$") and ans.count("$") == 1:
        ans = ans[:-1]
    unit = _UNIT_WORDS.match(ans)
    if unit and unit.group(1) and "\\" not in ans and unit.group(2).strip().lower() not in _NOT_UNITS:
        ans = unit.group(1)
    ans = re.sub(r"(?<!\\)%", r"\\%", ans)
    return ans.strip()


def _answer_sentence(captured: str) -> str:
    """Cut an "answer is ..." capture at the end of its sentence, keeping inline math whole."""
    captured = captured.strip()
    inner = _ANSWER_IS.search(captured)  # "Final Answer: The final answer is $5$." -> the inner one
    while inner:
        captured = inner.group(1).strip()
        inner = _ANSWER_IS.search(captured)
    m = _INLINE_MATH.search(captured)
    if m:
        return m.group(0)
    cut = re.split(r"\.\s|;\s|\s\(|,\s(?:so|which|and|because)\b", captured, maxsplit=1)[0]
    return cut


def extract_math_answer(text: str, *, last_number_fallback: bool = True) -> str | None:
    """Extract the final answer of a math response.

    Priority: the last ``\\boxed{}``; then the last ``#### X``; then the last "answer is X" /
    "Answer: X"; then (optionally) the last number. Reasoning inside ``<think>...</think>`` is
    skipped when an answer follows it.

    Args:
        text: the model response.
        last_number_fallback: use the last number when no explicit answer marker exists.

    Returns:
        The cleaned answer string (e.g. ``"\\frac{3}{4}"``, ``"72"``), or ``None`` if none found.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    body = strip_reasoning(text)
    boxed = last_boxed(body)
    if boxed is not None:
        return _clean_answer(boxed) or None
    hashes = _HASHES.findall(body)
    if hashes:
        found = _clean_answer(hashes[-1])
        if found:
            return found
    stated = _ANSWER_IS.findall(body)
    for captured in reversed(stated):
        found = _clean_answer(_answer_sentence(captured))
        if found:
            return found
    if last_number_fallback:
        numbers = _NUMBER.findall(body)
        if numbers:
            return re.sub(r"\s+", "", numbers[-1])
    return None


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
def _parse_gold(gold: str) -> tuple:
    return tuple(_parse(gold))


def _equal_now(pred: str, gold: str) -> bool:
    mv = _math_verify()
    gold_parsed = list(_parse_gold(gold))
    pred_parsed = _parse(pred)
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

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, _ = signal.setitimer(signal.ITIMER_REAL, timeout_s)
    started = time.monotonic()
    try:
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
            return VerifyResult.wrong(Status.TIMEOUT, answer, f"comparison took over {self.config.timeout_s:g}s")
        if same:
            return VerifyResult.right(answer)
        return VerifyResult.wrong(Status.WRONG_ANSWER, answer, f"{answer!r} is not equivalent to {gold!r}")

    def __repr__(self) -> str:
        return f"MathVerifier({self.config})"


DEFAULT_MATH = MathVerifier()
VERIFIERS.register(MATH_SOURCES[0], aliases=MATH_SOURCES[1:] + MATH_ALIASES)(DEFAULT_MATH)
