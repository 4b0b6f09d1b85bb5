"""Inputs generated from the solution's signature, when the prompt and responses state too few.

Types come from the parameter annotations (prompt signature first, else the group's programs),
else from default values, else from the parameter name (``n``/``k``/``num`` -> int, ``s``/``text``
-> str, ``arr``/``nums``/``lst`` -> list of ints, ...), else a mixed pool. Values come from small
fixed pools per type; combinations are drawn with a seed derived from the question, so the inputs
of a group are reproducible. Inputs that most programs reject are dropped later (see
``ExecutionConfig.min_valid_share``), which also removes wrongly guessed types.
"""

from __future__ import annotations

import random
import re
import zlib

__all__ = ["generated_inputs", "param_type"]

_POOLS: dict[str, list[str]] = {
    "int": ["0", "1", "2", "3", "5", "7", "10", "12", "-1", "4", "15", "100"],
    "float": ["0.0", "1.5", "2.0", "-3.25", "10.5", "0.1", "7.0"],
    "str": ["''", "'a'", "'abc'", "'Hello World'", "'racecar'", "'aBc dE'", "'hello world foo'", "'12321'", "'xyz'"],
    "bool": ["True", "False"],
    "list_int": ["[]", "[1]", "[1, 2, 3]", "[3, 1, 2]", "[5, -2, 0, 7, 3]", "[1, 1, 2, 2, 3]", "[10, 20, 30, 40]"],
    "list_float": ["[]", "[1.0, 2.0, 3.0]", "[1.5, -0.5, 2.25]", "[0.1, 0.2, 0.3, 0.4]", "[5.0]"],
    "list_str": ["[]", "['a']", "['abc', 'de', 'f']", "['hello', 'world']", "['b', 'a', 'c']"],
    "list_list": ["[]", "[[1, 2], [3, 4]]", "[[1], [2, 3], [4, 5, 6]]", "[[0, 1, 0], [1, 0, 1]]"],
    "tuple": ["()", "(1, 2)", "(3, 4, 5)", "(1,)"],
    "dict": ["{}", "{'a': 1, 'b': 2}", "{'x': 'y', 'B': 'z'}", "{1: 'one', 2: 'two'}"],
}
_POOLS["any"] = ["0", "3", "10", "'abc'", "'Hello World'", "[1, 2, 3]", "[5, -2, 0, 7, 3]", "1.5"]

_NAME_TYPES = (
    (
        r"^(n|m|k|x|y|z|a|b|c|i|j|num\d*|number\d*|val|value|base|count|size|limit|start|end|low|high|"
        r"year|day|month|digit|index|idx|target|total|amount|length|width|height|radius|r|h|w|p|q|d)$",
        "int",
    ),
    (r"^(s\d*|string\d*|str\d*|text|txt|word|sentence|st|name|char|ch|letter|pattern|sub|substring)$", "str"),
    (r"^(words|strings|names|sentences|str_list|string_list)$", "list_str"),
    (r"^(matrix|grid|board|mat|rows|lists|nested\w*)$", "list_list"),
    (
        r"^(lst\d*|list\d*|arr\d*|array\d*|nums\d*|numbers|l\d*|a_list|items|values|data|seq|sequence|"
        r"input_list|my_list|li|test_list|test_tup|tup\d*)$",
        "list_int",
    ),
    (r"^(d|dict\d*|dictionary|mapping|test_dict)$", "dict"),
)


def param_type(name: str, annotation: str = "", default: str | None = None) -> str:
    """The value pool used for a parameter (a key of the pools above)."""
    ann = annotation.replace("typing.", "").replace(" ", "")
    ann = re.sub(r"^Optional\[(.*)\]$", r"\1", ann)
    low = ann.lower()
    if low:
        if low.startswith(("list[list", "list[tuple", "list[set")):
            return "list_list"
        if low.startswith(("list[", "sequence[", "iterable[")) or low in ("list", "sequence"):
            inner = low.split("[", 1)[1] if "[" in low else "int"
            return {"float": "list_float", "str": "list_str"}.get(inner.rstrip("]"), "list_int")
        if low.startswith("tuple"):
            return "tuple"
        if low.startswith("dict"):
            return "dict"
        if low in _POOLS:
            return low
    if default is not None:
        for kind, pattern in (("bool", r"^(True|False)$"), ("float", r"^-?\d+\.\d*$"), ("int", r"^-?\d+$")):
            if re.match(pattern, default):
                return kind
        if default[:1] in "'\"":
            return "str"
        if default[:1] == "[":
            return "list_int"
    for pattern, kind in _NAME_TYPES:
        if re.match(pattern, name.lower()):
            return kind
    return "any"


def generated_inputs(params: list[tuple[str, str]], question: str, count: int) -> list[str]:
    """Up to ``count`` argument-list sources for a function with ``params`` ``[(name, annotation)]``."""
    if count <= 0:
        return []
    pools = [_POOLS[param_type(name, ann)] for name, ann in params]
    if not pools:
        return ["" for _ in range(1)]  # a nullary function: one call
    rng = random.Random(zlib.crc32((question or "").encode("utf-8", "replace")))
    out: list[str] = []
    seen: set[str] = set()
    if len(pools) == 1:
        values = list(pools[0])
        rng.shuffle(values)
        return values[:count]
    tries = 0
    while len(out) < count and tries < count * 20:
        tries += 1
        args = ", ".join(rng.choice(pool) for pool in pools)
        if args not in seen:
            seen.add(args)
            out.append(args)
    return out
