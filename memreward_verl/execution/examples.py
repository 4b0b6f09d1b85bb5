"""Stated examples of a code prompt: calls of the solution function with the results it gives.

Static: the prompt is parsed with :mod:`ast` only; the argument lists and expected values it
yields (data expressions, see data_expr.py) are evaluated later inside the sandbox. The doctest
reader is shared with the response side (response.py).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from memreward_verl.execution.data_expr import _args_source, _longest_data_prefix, _parse, is_data_expression

__all__ = ["Example", "prompt_entry_point", "prompt_examples"]

# Separators between a call and its stated result in prose/docstrings: f(x) == y, f(x) -> y, ...
_SEPARATOR = re.compile(r"\s*(==|->|=>|➞|→|⇒|should\s+return|returns|should\s+be|=(?!=))\s*")
_NOT_SOLUTION_CALLS = {"print", "len", "assert", "range", "list", "str", "int", "float", "sorted", "set", "dict"}


@dataclass(frozen=True)
class Example:
    """One call of the solution function, with the result stated for it when there is one.

    Attributes:
        args: source of the argument list, as written between the call's parentheses (``"[1, 2], 3"``).
        expected: source of the stated result (``"[1, 2]"``), or ``None`` for a bare call (input only).
        kind: ``"value"`` (compare the return value with the evaluated ``expected``) or ``"printed"``
            (the response printed the call: ``str(result)`` may also match the text verbatim).
        source: ``"prompt"`` or ``"response"``.
        origin: index of the response it came from (``None`` for the prompt).
        func: the function name as written in the example (programs may name theirs differently).
    """

    args: str
    expected: str | None = None
    kind: str = "value"
    source: str = "prompt"
    origin: int | None = None
    func: str | None = None

    @property
    def call(self) -> str:
        return f"{self.func or 'f'}({self.args})"


def _balanced_end(text: str, start: int) -> int | None:
    """Index just after the parenthesis closing the one at ``text[start]`` (quotes respected)."""
    depth = 0
    quote = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


# ------------------------------------------------------------------------------------------ prompt side


def prompt_entry_point(question: str) -> str | None:
    """The function a code prompt asks for: the last top-level ``def`` when the prompt is code
    (HumanEval style: signature + docstring; earlier defs are given helpers), else ``None``."""
    tree = _parse(question or "")
    if not isinstance(tree, ast.Module):
        return None
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return defs[-1] if defs else None


def _doctest_examples(text: str, names: set[str] | None, source: str, origin: int | None) -> list[Example]:
    """``>>> f(args)`` lines with the output lines that follow them."""
    out: list[Example] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*>>>\s?(.*)$", line)
        if not m:
            continue
        expr = m.group(1).strip()
        result: list[str] = []
        for nxt in lines[i + 1 : i + 12]:  # the output line, continued while brackets stay open
            s = nxt.strip()
            if not s or s.startswith((">>>", '"""', "'''", "```")):
                break
            if result and (_parse(" ".join(result), "eval") is not None or "print(" in expr):
                break
            result.append(s)
        tree = _parse(expr, "eval")
        if tree is None:
            continue
        node = tree.body
        kind, expected = "value", " ".join(result) or None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print" and node.args:
            node, kind = node.args[0], "printed"
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            node, expected, kind = node.left, ast.unparse(node.comparators[0]), "value"
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if names is not None and node.func.id not in names:
            continue
        args = _args_source(node)
        if args is None:
            continue
        if expected is not None and kind == "value" and not is_data_expression(expected):
            expected = _longest_data_prefix(expected) if expected else None
        out.append(Example(args, expected, kind, source, origin, node.func.id))
    return out


def _inline_examples(text: str, names: set[str] | None, source: str, origin: int | None) -> list[Example]:
    """``f(x) == y`` / ``f(x) -> y`` / ``f(x) => y`` / ``f(x) ➞ y`` / ``assert f(x) == y`` in prose."""
    out: list[Example] = []
    call_re = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith((">>>", "def ", "async def ", "class ")):
            continue
        for m in call_re.finditer(line):
            name = m.group(1)
            if names is not None and name not in names:
                continue
            if names is None and (name in _NOT_SOLUTION_CALLS or name in ("def", "if", "for", "while", "return")):
                continue
            end = _balanced_end(line, m.end() - 1)
            if end is None:
                continue
            sep = _SEPARATOR.match(line, end)
            if not sep:
                continue
            call = _parse(line[m.start() : end], "eval")
            if call is None or not isinstance(call.body, ast.Call):
                continue
            args = _args_source(call.body)
            expected = _longest_data_prefix(line[sep.end() :])
            if args is None or expected is None:
                continue
            out.append(Example(args, expected, "value", source, origin, name))
    return out


def _dedup(examples: list[Example]) -> list[Example]:
    seen: set[tuple] = set()
    out = []
    for ex in examples:
        key = (ex.args, ex.expected, ex.kind, ex.origin)
        if key not in seen:
            seen.add(key)
            out.append(ex)
    return out


def prompt_examples(question: str) -> list[Example]:
    """Calls with expected outputs stated in a code prompt.

    Recognised: doctest ``>>> f(args)`` lines with the output line(s) after them (``>>> print(f(x))``
    gives a ``"printed"`` example), ``assert f(x) == y``, and example lines ``f(x) == y``,
    ``f(x) -> y``, ``f(x) => y``, ``f(x) ➞ y``, ``f(x) = y``, ``f(x) should return y``. When the
    prompt is code (HumanEval), only calls of its entry point count; for a prose prompt (MBPP) any
    called name does. Argument lists and results must be data expressions.

    Args:
        question: the prompt text.

    Returns:
        The examples in order of appearance, duplicates removed; every one has ``expected`` set.
    """
    if not isinstance(question, str) or not question.strip():
        return []
    entry = prompt_entry_point(question)
    names = {entry} if entry else None
    found = _doctest_examples(question, names, "prompt", None) + _inline_examples(question, names, "prompt", None)
    return _dedup([ex for ex in found if ex.expected is not None])
