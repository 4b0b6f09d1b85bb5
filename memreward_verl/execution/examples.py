"""Stated examples of a code prompt: calls of the solution function with the results it gives.

Static: the prompt is parsed with :mod:`ast` only; the argument lists and expected values it
yields (data expressions, see data_expr.py) are evaluated later inside the sandbox. The doctest
reader is shared with the response side (response.py).
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass

from memreward_verl.execution.data_expr import _args_source, _longest_data_prefix, _parse, is_data_expression

__all__ = ["SOLUTION_CLASS", "Example", "prompt_entry_point", "prompt_examples", "solution_methods"]

#: The class LeetCode-style starter code wraps the solution in; a method of it is called on an instance.
SOLUTION_CLASS = "Solution"

# Separators between a call and its stated result in prose/docstrings: f(x) == y, f(x) -> y, ...
_SEPARATOR = re.compile(
    r"\s*(?:#\s*)?(==>|==|-->|->|=>|➞|→|⇒|should\s+return|returns|should\s+be|=(?!=))\s*"  # "f(x)  # returns 2"
)
# Examples stated by parameter bindings: "For lst = [1,2,3] the output should be 14" (HumanEval),
# "Input: nums = [2,7,11,15], target = 9" then "Output: [0,1]" on the next line (LeetCode style).
_BINDINGS = (
    re.compile(
        r"\bfor\b[ \t]*(?P<binds>[A-Za-z_]\w*[ \t]*=[^\n]+?)[ \t]*,?[ \t]*"
        r"(?:the\s+)?(?:output|result)[ \t]*(?::|should\s+be|will\s+be|is)[ \t]*(?P<out>[^\n]+)",
        re.IGNORECASE,
    ),
    re.compile(
        r"\binput[ \t]*:[ \t]*(?P<binds>[^\n]+?)[ \t]*\n[ \t]*output[ \t]*:[ \t]*(?P<out>[^\n]+)", re.IGNORECASE
    ),
)
# JSON spellings in stated results ("=> true"): the Python values they mean.
_JSON_WORDS = {"true": "True", "false": "False", "null": "None"}
_NOT_SOLUTION_CALLS = {"print", "len", "assert", "range", "list", "str", "int", "float", "sorted", "set", "dict"}


@dataclass(frozen=True)
class Example:
    """One call of the solution function, with the result stated for it when there is one.

    Attributes:
        args: source of the argument list, as written between the call's parentheses (``"[1, 2], 3"``).
        expected: source of the stated result (``"[1, 2]"``), or ``None`` for a bare call (input only).
        kind: ``"value"`` (compare the return value with the evaluated ``expected``), ``"printed"``
            (the response printed the call: ``str(result)`` may also match the text verbatim) or
            ``"stdout"`` (a stdin program's sample test: ``args`` is the stdin text, ``expected`` the
            output, judged as the code verifier judges stdin tests; see stdio.py).
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


_FENCED = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_CODE_START = re.compile(r"^(?:class|def)\s+\w+", re.MULTILINE)


def _starter_module(question: str) -> tuple[ast.Module, bool] | None:
    """The prompt's code and whether it is the whole prompt.

    The whole prompt when it parses (HumanEval: signature + docstring); else its last fenced Python
    block or the code that ends it (a LeetCode statement followed by ``class Solution:`` starter
    code), given a ``pass`` body where its last ``def`` has none, as the model is asked to write it.
    """
    whole = _parse(question)
    if isinstance(whole, ast.Module):
        return whole, True
    starts = [m.start() for m in _CODE_START.finditer(question)]
    for src in [*reversed(_FENCED.findall(question)), *(question[i:] for i in dict.fromkeys(starts[:1] + starts[-1:]))]:
        tree = _parse(src)
        lines = [ln for ln in src.rstrip().splitlines() if ln.strip()]
        if tree is None and lines and lines[-1].rstrip().endswith(":"):
            indent = lines[-1][: len(lines[-1]) - len(lines[-1].lstrip())]
            tree = _parse(src.rstrip() + "\n" + indent + "    pass\n")
        if isinstance(tree, ast.Module):
            return tree, False
    return None


def _is_stub(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A body the model is asked to write: only a docstring, ``pass`` or ``...``."""
    return all(
        isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in fn.body
    )


@functools.lru_cache(maxsize=256)
def _entry_def(question: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function a prompt's code asks for: its last top-level ``def``, else the last public method
    of its ``class Solution`` (LeetCode starter code; called on an instance, see the harness). Code
    found inside a prose prompt counts only as a stub to fill (code shown for reference does not).
    Cached: a group asks for its prompt's entry point and examples several times (read-only nodes)."""
    found = _starter_module(question or "")
    if found is None:
        return None
    tree, whole = found
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if not defs:
        classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == SOLUTION_CLASS]
        defs = [m for cls in classes for m in solution_methods(cls)]
    if not defs or not (whole or _is_stub(defs[-1])):
        return None
    return defs[-1]


def solution_methods(cls: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Public methods of a ``class Solution`` that take ``self`` (the ones a judge calls)."""
    return [
        m
        for m in cls.body
        if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
        and not m.name.startswith("_")
        and (m.args.posonlyargs + m.args.args)[:1]
        and (m.args.posonlyargs + m.args.args)[0].arg == "self"
    ]


def prompt_entry_point(question: str) -> str | None:
    """The function a code prompt asks for: the last top-level ``def`` when the prompt is code
    (HumanEval style: signature + docstring; earlier defs are given helpers), else ``None``."""
    fn = _entry_def(question)
    return fn.name if fn else None


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
            expected = _expected(line[sep.end() :])
            if args is None or expected is None:
                continue
            out.append(Example(args, expected, "value", source, origin, name))
    return out


def _entry_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[list[str], int] | None:
    """Positional parameter names of the entry point (a method's ``self`` left out) and how many have
    no default (None when it takes ``*args``, ``**kwargs`` or keyword-only parameters)."""
    if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs:
        return None
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if params[:1] == ["self"]:
        params = params[1:]
    return params, len(params) - len(fn.args.defaults)


def _binding_examples(text: str, entry: str, params: list[str], required: int) -> list[Example]:
    """Examples stated by binding the entry point's parameters (``For lst = [1, 2] the output should
    be 5``; ``Input: a = 1, b = 2`` / ``Output: 3``; ``Input: [4, 2]`` / ``Output: [2, 1]``), as
    positional calls in the signature's order. Names must be the signature's first parameters, each
    once, and (as bare values) fill at least those without defaults (a model's program keeps the
    prompt's signature; anything else is prose, not an example)."""
    out: list[Example] = []
    for pattern in _BINDINGS:
        for m in pattern.finditer(text):
            call = _parse(f"f({m.group('binds').strip().rstrip(',')})", "eval")
            if call is None or not isinstance(call.body, ast.Call) or _args_source(call.body) is None:
                continue
            args, kwargs = call.body.args, {k.arg: k.value for k in call.body.keywords}
            if args and kwargs:
                continue
            if kwargs:
                if set(kwargs) != set(params[: len(kwargs)]):
                    continue
                args = [kwargs[p] for p in params[: len(kwargs)]]
            if not required <= len(args) <= len(params):
                continue
            expected = _expected(m.group("out"))
            if expected is not None:
                out.append(Example(", ".join(ast.unparse(a) for a in args), expected, "value", "prompt", None, entry))
    return out


def _expected(text: str) -> str | None:
    """The stated result at the start of ``text`` as a data expression (``true`` read as ``True``)."""
    word = re.match(r"(true|false|null)\b", text.strip())
    return _JSON_WORDS[word.group(1)] if word else _longest_data_prefix(text)


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
    ``f(x) -> y``, ``f(x) => y``, ``f(x) ==> y``, ``f(x) ➞ y``, ``f(x) = y``, ``f(x) should return
    y``. When the prompt is code (HumanEval), only calls of its entry point count, and its parameters
    may also be bound by name (``For lst = [1, 2] the output should be 5``; ``Input: a = 1, b = 2``
    then ``Output: 3``); for a prose prompt (MBPP) any called name does. Argument lists and results
    must be data expressions.

    Args:
        question: the prompt text.

    Returns:
        The examples in order of appearance, duplicates removed; every one has ``expected`` set.
    """
    if not isinstance(question, str) or not question.strip():
        return []
    fn = _entry_def(question)
    names = {fn.name} if fn else None
    found = _doctest_examples(question, names, "prompt", None) + _inline_examples(question, names, "prompt", None)
    signature = _entry_params(fn) if fn else None
    if signature and signature[0]:
        found += _binding_examples(question, fn.name, *signature)
    return _dedup([ex for ex in found if ex.expected is not None])
