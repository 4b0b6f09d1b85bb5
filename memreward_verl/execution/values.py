"""Canonical text of a value a program returned, and the equality of two returned values.

Standard library only and free of package imports: :mod:`memreward_verl.execution.harness` sends
this module's source into the sandbox ahead of its own program, so the harness and in-process
callers (tests) share one definition.

Canonical form: ``None``/bools/ints/strings as ``repr``; floats as ``%.9g`` (integral floats as
ints, so ``2.0`` agrees with ``2``); lists ``[..]``, tuples ``(..)``, sets and dicts sorted;
generators/iterators ``iter[..]`` (materialised, bounded); numpy arrays ``array[..]``; other objects
``<TypeName>`` (never a repr with an address). :func:`shorten` hashes texts over 300 characters.
"""

import hashlib
import math

MAX_ITEMS = 1000  # items taken from an iterator a program returns
MAX_NODES = 20000  # values visited to write one canonical text


def canonical(x, budget, depth=0):
    """Canonical text of ``x``; ``budget`` is a one-item list counting the values visited so far."""
    budget[0] += 1
    if budget[0] > MAX_NODES or depth > 30:
        raise OverflowError("output too large to compare")
    t = type(x)
    if x is None or t is bool:
        return repr(x)
    if t is int:
        return str(x) if abs(x) < 10**300 else "int:" + hashlib.sha1(str(x).encode()).hexdigest()[:16]
    if t is float:
        if math.isnan(x) or math.isinf(x):
            return repr(x)
        if x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.9g}"
    if t is str or t is bytes:
        return repr(x)
    if t is complex:
        return f"complex({canonical(x.real, budget, depth + 1)},{canonical(x.imag, budget, depth + 1)})"
    if t is list:
        return "[" + ",".join(canonical(v, budget, depth + 1) for v in x) + "]"
    if t is tuple:
        return "(" + ",".join(canonical(v, budget, depth + 1) for v in x) + ")"
    if t in (set, frozenset):
        return "{" + ",".join(sorted(canonical(v, budget, depth + 1) for v in x)) + "}"
    if isinstance(x, dict):
        items = sorted(canonical(k, budget, depth + 1) + ":" + canonical(v, budget, depth + 1) for k, v in x.items())
        return "{" + ",".join(items) + "}"
    if getattr(t, "__module__", "") == "numpy" and hasattr(x, "tolist"):
        return ("array" if hasattr(x, "shape") and x.shape else "") + canonical(x.tolist(), budget, depth + 1)
    if isinstance(x, int):  # IntEnum, bool subclasses
        return str(int(x))
    if isinstance(x, float):
        return canonical(float(x), budget, depth)
    if isinstance(x, str):
        return repr(str(x))
    if isinstance(x, list | tuple):
        return canonical(list(x) if isinstance(x, list) else tuple(x), budget, depth)
    if t is range or hasattr(x, "__next__"):
        items = []
        for v in x:
            items.append(canonical(v, budget, depth + 1))
            if len(items) > MAX_ITEMS:
                raise OverflowError("iterator too long")
        return "iter[" + ",".join(items) + "]"
    return "<" + t.__name__ + ">"


def shorten(text):
    """``text`` itself up to 300 characters, else a hash of it (outputs are compared, not read)."""
    if len(text) <= 300:
        return text
    return "h:" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def same_value(a, b, depth=0):
    """Whether a returned value equals an expected one: numbers within 1e-6 relative, containers by item."""
    if depth > 30:
        return False
    num = (int, float)
    if type(a) in num and type(b) in num:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if type(a) is bool or type(b) is bool:
        return a is b or (type(a) in num and type(b) in num and a == b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same_value(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same_value(a[k], b[k], depth + 1) for k in a)
    if hasattr(a, "tolist") and type(a).__module__ == "numpy":
        return same_value(a.tolist(), b, depth + 1)
    try:
        return bool(a == b)
    except BaseException:  # noqa: BLE001 - a foreign __eq__ may raise anything
        return False


def materialise(iterator):
    """The items of an iterator a program returned, at most :data:`MAX_ITEMS`."""
    items = []
    for v in iterator:
        items.append(v)
        if len(items) > MAX_ITEMS:
            raise OverflowError("iterator too long")
    return items
