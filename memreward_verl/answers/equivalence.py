"""Answer equivalence within ONE group: keys that are the same mathematical answer share a cluster.

The comparison is the math verifier's own (math-verify), so ``x=3`` and ``3`` agree in the vote
exactly when the verifier would grade them alike. It is bounded and cached, so it never hangs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

# Equivalence bounds: beyond these, clustering falls back to key equality.
MAX_EQUIVALENCE_KEYS = 64  # distinct keys in one group
MAX_EQUIVALENCE_CHARS = 120  # characters of one key
EQUIVALENCE_TIMEOUT_S = 1.0  # one math-verify comparison
EQUIVALENCE_BUDGET_S = 3.0  # all comparisons of one group

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _looks_math(key: str) -> bool:
    """Whether a key of an unknown domain is a math expression worth comparing with math-verify.

    Dates, option letters, code, words and phrases are compared by equality only (math-verify reads
    ``2002-11-22`` as a subtraction and ``paris`` as a product of symbols).
    """
    if _ISO_DATE.fullmatch(key) or "\n" in key:
        return False
    if not re.search(r"[\d\\]", key):
        return False
    return not re.search(r"[A-Za-z]{3,}", re.sub(r"\\[A-Za-z]+", "", key))


def _eligible(key: str, domain: str | None) -> bool:
    if len(key) > MAX_EQUIVALENCE_CHARS or "\n" in key:
        return False
    # In math too: identifiers and words ("dollars_per_day", the variable a program answer printed)
    # would reach sympy as products of symbols, which is slow and never a meaningful equivalence.
    return _looks_math(key)


@functools.lru_cache(maxsize=4096)
def _math_classes(keys: tuple[str, ...]) -> tuple[int, ...]:
    from memreward_verl.verify.math_verifier import math_equivalence_classes

    return tuple(math_equivalence_classes(list(keys), EQUIVALENCE_TIMEOUT_S, EQUIVALENCE_BUDGET_S))


def equivalent_keys(keys: Sequence[str | None], domain: str | None = None) -> list[int]:
    """Cluster id per key of ONE group: equal keys, and keys the math verifier calls equal, share one.

    Args:
        keys: canonical answer keys (:func:`answer_key`); ``None`` = no answer.
        domain: ``"math"``: every key (up to :data:`MAX_EQUIVALENCE_CHARS`) is compared with
            :func:`memreward_verl.verify.math_verifier.math_equal`; ``"qa"`` / ``"code"``: key
            equality only; any other value (``None`` included): only keys that look like math
            expressions (digits or LaTeX, no words, no dates) are compared.

    Returns:
        Cluster ids ``0..k-1`` numbered in order of first appearance; ``-1`` for a ``None`` key.
        With more than :data:`MAX_EQUIVALENCE_KEYS` distinct keys, equality only.
    """
    distinct = list(dict.fromkeys(k for k in keys if k is not None))
    cls = {k: i for i, k in enumerate(distinct)}
    if domain not in ("qa", "code") and 2 <= len(distinct) <= MAX_EQUIVALENCE_KEYS:
        cands = [k for k in distinct if _eligible(k, domain)]
        if len(cands) >= 2:
            classes = _math_classes(tuple(cands))
            first: dict[int, str] = {}
            for k, c in zip(cands, classes):
                rep = first.setdefault(c, k)
                cls[k] = cls[rep]
    renumber: dict[int, int] = {}
    return [-1 if k is None else renumber.setdefault(cls[k], len(renumber)) for k in keys]


def unify_keys(keys: Sequence[str | None], domain: str | None = None) -> list[str | None]:
    """Each key replaced by the first key of its :func:`equivalent_keys` cluster (for a key-count vote)."""
    ids = equivalent_keys(keys, domain)
    rep: dict[int, str] = {}
    for k, c in zip(keys, ids):
        if k is not None:
            rep.setdefault(c, k)
    return [None if k is None else rep[c] for k, c in zip(keys, ids)]
