"""Numeric answer parsing shared by the GSM8K-style converters.

Predicted answers arrive as ``"18"``, ``"$5,000"``, ``"3 bolts"``, ``"44/5"`` or free prose; gold
answers as a worked solution ending in ``#### 18`` or ``A: 18``. Labels are computed by numeric
equality so ``"18.0"`` and ``"$18"`` both match ``18``.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["final_answer", "last_number", "numbers_match", "parse_number"]

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# A number optionally followed by a unit made of letters only ("3 bolts", "1.5 hours"); any
# further digit ("2 hours and 20 minutes") makes the answer ambiguous and unparseable.
_WITH_UNIT = re.compile(rf"({_NUMBER})(?:\s+[A-Za-z][A-Za-z .'-]*)?")
_FRACTION = re.compile(rf"({_NUMBER})\s*/\s*({_NUMBER})")
_ANY_NUMBER = re.compile(_NUMBER)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d)")


def parse_number(value: Any) -> float | None:
    """Parse a predicted answer field as one number.

    Strips whitespace, ``$``, ``%``, thousands commas and a trailing full stop, then accepts a
    plain number, a number followed by a digit-free unit, or a fraction ``a/b``.

    Args:
        value: the raw answer (str, int or float).

    Returns:
        The value as a float, or None when the field is not a single number (prose, an
        expression with variables, ``"[invalid]"``, ``"None"``, booleans, NaN).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    text = str(value).replace("$", "").replace("%", "").replace(",", "").strip().rstrip(".").strip()
    match = _WITH_UNIT.fullmatch(text)
    if match:
        number = float(match.group(1))
        return number if math.isfinite(number) else None
    match = _FRACTION.fullmatch(text)
    if match and float(match.group(2)) != 0:
        return float(match.group(1)) / float(match.group(2))
    return None


def last_number(text: Any) -> float | None:
    """Return the last number appearing anywhere in ``text`` (thousands commas removed), else None."""
    found = _ANY_NUMBER.findall(_THOUSANDS.sub("", str(text)))
    if not found:
        return None
    number = float(found[-1])
    return number if math.isfinite(number) else None


def numbers_match(pred: float | None, gold: float | None, rel_tol: float = 1e-6) -> bool:
    """True when both numbers exist and agree within ``rel_tol`` (relative; 1e-9 absolute near 0)."""
    if pred is None or gold is None:
        return False
    return math.isclose(pred, gold, rel_tol=rel_tol, abs_tol=1e-9)


def final_answer(solution: str, marker: str, where: str) -> str:
    """Extract the final answer after ``marker`` (``"####"`` or ``"A:"``) on the solution's last marked line.

    Thousands commas are removed (``"1,000"`` -> ``"1000"``) so graders do not read a tuple.

    Args:
        solution: a worked solution whose last answer line starts with ``marker``.
        marker: the prefix introducing the final answer.
        where: location used in the error message.

    Returns:
        The answer string, e.g. ``"18"``.

    Raises:
        ValueError: if no line starts with ``marker`` or the answer after it is empty.
    """
    for line in reversed(solution.strip().splitlines()):
        line = line.strip()
        if line.startswith(marker):
            answer = _THOUSANDS.sub("", line[len(marker) :].strip())
            if answer:
                return answer
            break
    raise ValueError(f"{where}: no final answer line starting with {marker!r} in the gold solution")
