"""Canonical answer keys for answer agreement (self-consistency) within a group.

A key is a short normalised string: two rollouts with equal keys reached the same final answer.
``None`` means no answer could be read; such rollouts agree with nobody by key (embedding
similarity may still link them, see features.py). This is clustering, not grading: the verifiers
decide correctness; here speed and a stable canonical form matter.
"""

from __future__ import annotations

import re

__all__ = ["answer_key", "math_key", "choice_key", "code_key", "text_key"]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_HASHES = re.compile(r"####\s*(.+)")
_ANSWER_IS = re.compile(r"answer\s*(?:is|:)\s*[:\s]*(.+)", re.IGNORECASE)
_CHOICE_PATTERNS = (
    re.compile(r"answer\s*(?:is|:)?\s*[:\s]*\(?\*{0,2}([A-J])\b\)?", re.IGNORECASE),
    re.compile(r"####\s*\(?([A-J])\b"),
    re.compile(r"\\boxed\{\s*\(?([A-J])\)?\s*\}"),
    re.compile(r"^\s*\(?([A-J])\)?\s*(?:[.):]|$)"),
    re.compile(r"\boption\s*\(?([A-J])\b"),
)
_CODE_COMMENT = re.compile(r"#[^\n]*")
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


def _boxed_contents(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    start = matches[-1].end()
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return text[start:]


def _canon_number(token: str) -> str | None:
    tok = token.replace(",", "").strip()
    try:
        if "/" in tok:
            num, den = tok.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(tok)
    except (ValueError, ZeroDivisionError):
        return None
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _canon_expr(expr: str) -> str:
    expr = expr.strip().strip("$").strip()
    expr = re.sub(r"\\(?:text|mathrm|mbox)\{[^}]*\}", "", expr)
    expr = re.sub(r"\\[,!;: ]|\\left|\\right|\\dfrac|\\tfrac", lambda m: "\\frac" if "frac" in m.group() else "", expr)
    expr = expr.replace("^\\circ", "").replace("^{\\circ}", "").replace("\\%", "").replace("%", "")
    expr = re.sub(r"\s+", "", expr).rstrip(".")
    numbers = _NUMBER.fullmatch(expr.replace("$", ""))
    if numbers:
        canon = _canon_number(expr.replace("$", ""))
        if canon is not None:
            return canon
    return expr.lower()


def math_key(text: str) -> str | None:
    """Final math answer: ``\\boxed{}``, then ``#### X``, then "the answer is X", then the last number."""
    if not text:
        return None
    boxed = _boxed_contents(text)
    if boxed is not None and boxed.strip():
        return _canon_expr(boxed)
    for pattern in (_HASHES, _ANSWER_IS):
        found = pattern.findall(text)
        if found:
            tail = found[-1].strip()
            nums = _NUMBER.findall(tail.split("\n")[0])
            if nums:
                return _canon_number(nums[0])
            line = tail.split("\n")[0].strip().rstrip(".")
            if line:
                return _canon_expr(line)
    nums = _NUMBER.findall(text)
    if nums:
        return _canon_number(nums[-1])
    return None


def choice_key(text: str) -> str | None:
    """Option letter A-J from the usual phrasings; ``None`` if none is stated."""
    if not text:
        return None
    stripped = text.strip()
    if len(stripped) == 1 and stripped.upper() in "ABCDEFGHIJ":
        return stripped.upper()
    for pattern in _CHOICE_PATTERNS:
        found = pattern.findall(stripped)
        if found:
            return found[-1].upper()
    return None


def code_key(text: str) -> str | None:
    """Code with comments, blank lines and indentation noise removed (syntactic identity)."""
    if not text or not text.strip():
        return None
    blocks = _FENCE.findall(text)
    code = blocks[-1] if blocks else text
    code = _CODE_COMMENT.sub("", code)
    lines = [" ".join(line.split()) for line in code.splitlines()]
    canon = "\n".join(line for line in lines if line)
    return canon or None


def text_key(text: str) -> str | None:
    """Short free-text answers: lower-cased, punctuation-free; long texts give ``None``."""
    canon = re.sub(r"[^\w\s]", "", text.lower())
    canon = " ".join(canon.split())
    if not canon or len(canon) > 80:
        return None
    return canon


def answer_key(answer: str, domain: str) -> str | None:
    """Canonical key of an answer text for ``domain`` (math, qa, code, or anything else)."""
    if domain == "qa":
        return choice_key(answer)
    if domain == "code":
        return code_key(answer)
    if domain == "math":
        return math_key(answer)
    return math_key(answer) or text_key(answer)
