"""Math answers: what :class:`~memreward_verl.verify.MathVerifier` grades, read and cleaned.

The verifier and the vote call the same :func:`extract_math_answer`, so on one rollout they read
the same answer.
"""

from __future__ import annotations

import re

from memreward_verl.answers.markers import (
    _ANSWER_IS,
    _HASHES,
    _INLINE_MATH,
    _answer_sentence,
    _strip_reasoning,
    last_boxed,
)

_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_UNIT_WORDS = re.compile(r"^([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?)\s*([A-Za-z][A-Za-z\s\-/]*)$")
_NOT_UNITS = {"pi", "i", "e", "sqrt", "x", "y", "n", "k"}


def clean_math_answer(ans: str) -> str:
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


def extract_math_answer(text: str, *, last_number_fallback: bool = True) -> str | None:
    """Extract the final answer of a math response (what :class:`MathVerifier` grades).

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
    body = _strip_reasoning(text)
    boxed = last_boxed(body)
    if boxed is not None:
        return clean_math_answer(boxed) or None
    hashes = _HASHES.findall(body)
    if hashes:
        found = clean_math_answer(hashes[-1])
        if found:
            return found
    stated = _ANSWER_IS.findall(body)
    for captured in reversed(stated):
        found = clean_math_answer(_answer_sentence(captured))
        if found:
            return found
    if last_number_fallback:
        numbers = _NUMBER.findall(body)
        if numbers:
            return re.sub(r"\s+", "", numbers[-1])
    return None
