"""A response turned into something runnable: its program, its solution function, the calls it states.

Static (never executed here): responses are parsed with :mod:`ast`/:mod:`tokenize` only; the
programs, argument lists and expected values returned are run later inside the sandbox.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from memreward_verl.execution.data_expr import _args_source, _data_node, _parse, _substituted, is_data_expression
from memreward_verl.execution.examples import SOLUTION_CLASS, Example, _dedup, _doctest_examples, solution_methods
from memreward_verl.verify.code_verifier import extract_code

__all__ = ["ResponseProgram", "parse_response"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON = {"", "python", "python3", "py", "py3", "pycon", "ipython"}
# Prefixes of a trailing comment that states a result: "# Output: [1, 2]", "# returns 3", "# => 3".
_COMMENT_PREFIX = re.compile(
    r"^#+\s*(?:(?:expected\s+)?(?:output|result|returns?|prints?|answer)s?\s*(?:is|will\s+be|should\s+be)?\s*:?|"
    r"=>|->|➞|→|==)?\s*",
    re.IGNORECASE,
)
_HELPER_NAMES = re.compile(r"^(?:test\w*|check|main|example\w*|demo\w*|run\w*)$")


@dataclass
class ResponseProgram:
    """A response turned into something runnable.

    Attributes:
        code: the program to execute (``None`` when the response holds no parsable code).
        function: the callable the inputs are applied to (``None`` when the program defines none).
        arity: ``(min, max)`` positional parameters of ``function`` (max ``None`` for ``*args``).
        params: parameter names of ``function`` with their annotation source (``""`` when absent).
        examples: calls of ``function`` found in the response's own example/test code.
        note: why ``code`` or ``function`` is missing (``"no_code"``, ``"syntax_error"``, ``"no_function"``).
    """

    code: str | None
    function: str | None = None
    arity: tuple[int, int | None] = (0, 0)
    params: list[tuple[str, str]] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    note: str | None = None


# ---------------------------------------------------------------------------------------- response side


def _python_blocks(text: str) -> list[str]:
    return [code for lang, code in _FENCE.findall(text) if lang.lower() in _PYTHON and code.strip()]


def _parse_trimmed(src: str, max_trim: int = 40) -> tuple[ast.Module | None, str]:
    """Parse ``src``; when it fails (a truncated answer), drop trailing lines until it parses."""
    tree = _parse(src)
    if tree is not None:
        return tree, src
    lines = src.splitlines()
    for k in range(1, min(max_trim, len(lines))):
        cut = "\n".join(lines[:-k])
        tree = _parse(cut)
        if tree is not None:
            return tree, cut
    return None, src


def _comments(src: str) -> dict[int, str]:
    """Line number -> comment text (``#`` included) of a parsable source."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _segment(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign):  # module constants (MOD = 10**9 + 7)
        value = node.value
        return value is not None and _data_node(value)
    if isinstance(node, ast.Try):  # try: import x / except ImportError: ...
        return all(isinstance(n, ast.Import | ast.ImportFrom | ast.Pass) for n in node.body)
    return False


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _main_function(funcs: list[ast.FunctionDef], usage_calls: set[str], entry: str | None) -> ast.FunctionDef | None:
    """The solution function of a program.

    Rule: the prompt's entry point when the program defines it; otherwise, among top-level functions
    that no *other* top-level function calls (helpers are called by the solution) and that are not
    named like test/driver code (``test*``, ``check``, ``main``, ``example*``, ...), the one the
    response's own example code calls (the last such), else the last one; if every function is a
    helper or driver, the last function defined.
    """
    if not funcs:
        return None
    by_name = {f.name: f for f in funcs}
    if entry and entry in by_name:
        return by_name[entry]
    called_by_others: set[str] = set()
    for f in funcs:
        called_by_others |= _called_names(f) - {f.name}
    candidates = [f for f in funcs if f.name not in called_by_others and not _HELPER_NAMES.match(f.name)]
    if not candidates:
        candidates = [f for f in funcs if not _HELPER_NAMES.match(f.name)] or funcs
    used = [f for f in candidates if f.name in usage_calls]
    return (used or candidates)[-1]


def _arity(func: ast.FunctionDef) -> tuple[tuple[int, int | None], list[tuple[str, str]]]:
    a = func.args
    positional = a.posonlyargs + a.args
    if positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    required = len(positional) - len(a.defaults)
    params = [(p.arg, ast.unparse(p.annotation) if p.annotation is not None else "") for p in positional]
    return (max(0, required), None if a.vararg else len(positional)), params


def _usage_statements(tree: ast.Module, solution: set[str]) -> list[ast.stmt]:
    """Example/test code of a module: top-level statements that are not definitions, the body of
    ``if __name__ == "__main__":`` and of test/driver functions, in source order."""
    out: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name not in solution and _HELPER_NAMES.match(node.name):
                out.extend(node.body)
        elif isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            out.extend(node.body)
        elif not _is_definition(node) or isinstance(node, ast.Assign | ast.AnnAssign):
            out.append(node)  # assignments too: example code binds its arguments to variables
    return out


def _comment_text(comment: str | None) -> str | None:
    if not comment:
        return None
    text = _COMMENT_PREFIX.sub("", comment, count=1).strip()
    return text or None


def _mine_calls(
    stmts: list[ast.stmt], names: set[str], comments: dict[int, str], lines: list[str], origin: int
) -> list[Example]:
    """Calls of ``names`` in example code, with results stated by asserts or trailing comments."""
    env: dict[str, ast.AST] = {}
    results: dict[str, str] = {}  # variable -> args of the call whose result it holds
    out: list[Example] = []

    def comment_after(node: ast.stmt) -> str | None:
        same = comments.get(node.end_lineno)
        if same:
            return _comment_text(same)
        nxt = node.end_lineno  # a comment-only line right below the statement
        if nxt < len(lines) and lines[nxt].strip().startswith("#"):
            return _comment_text(lines[nxt].strip())
        return None

    def call_args(node: ast.AST) -> str | None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            return _args_source(_substituted(node, env))
        return None

    def value_expected(node: ast.AST) -> str | None:
        src = ast.unparse(_substituted(node, env))
        return src if is_data_expression(src) else None

    for stmt in stmts:
        found: list[Example] = []
        if isinstance(stmt, ast.Assert):
            test, want = stmt.test, "True"
            if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                test, want = test.operand, "False"
            if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq | ast.Is):
                args = call_args(test.left)
                exp = value_expected(test.comparators[0]) if args is not None else None
                if args is None:  # assert y == f(x)
                    args = call_args(test.comparators[0])
                    exp = value_expected(test.left) if args is not None else None
                if args is not None:
                    found.append(Example(args, exp, "value", "response", origin))
            elif (args := call_args(test)) is not None:
                found.append(Example(args, want, "value", "response", origin))
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target = stmt.targets[0].id
            args = call_args(stmt.value)
            if args is not None:
                results[target] = args
                exp = _comment_text(comments.get(stmt.end_lineno))
                exp = exp if exp and is_data_expression(exp) else None
                found.append(Example(args, exp, "value", "response", origin))
            else:
                results.pop(target, None)
                value = _substituted(stmt.value, env)
                if _data_node(value):
                    env[target] = value
                else:
                    env.pop(target, None)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            if isinstance(call.func, ast.Name) and call.func.id == "print" and len(call.args) == 1:
                inner = call.args[0]
                args = call_args(inner)
                if args is None and isinstance(inner, ast.Name) and inner.id in results:
                    args = results[inner.id]
                if args is not None:
                    found.append(Example(args, comment_after(stmt), "printed", "response", origin))
            elif (args := call_args(call)) is not None:
                exp = comment_after(stmt)
                found.append(
                    Example(args, exp if exp and is_data_expression(exp) else None, "value", "response", origin)
                )
        for node in ast.walk(stmt):  # other calls (in loops, f-strings, ...): inputs only
            if isinstance(node, ast.Call) and (args := call_args(node)) is not None:
                if not any(ex.args == args for ex in found):
                    found.append(Example(args, None, "value", "response", origin))
        out.extend(found)
    return out


def parse_response(text: str, entry_point: str | None = None, origin: int = 0) -> ResponseProgram:
    """Turn a response into a program, its solution function and the examples it states.

    Chat answers with fenced blocks: the program is every top-level definition (imports, functions,
    classes, constant assignments) of every Python block, in order; the other top-level statements
    (example usage, prints, asserts) are only mined for calls, never run. Unfenced answers
    (completions such as HumanEval bodies) are run whole, as a test harness would run them.

    Args:
        text: the response.
        entry_point: the function named by the prompt, if any (see :func:`prompt_entry_point`).
        origin: the response's index in its group (recorded in the examples).

    Returns:
        A :class:`ResponseProgram` (``code is None`` with a ``note`` when nothing runnable was found).
    """
    if not isinstance(text, str) or not text.strip():
        return ResponseProgram(None, note="no_code")
    blocks = _python_blocks(text)
    units: list[tuple[ast.Module, str]] = []
    if not blocks and _FENCE.search(text):
        return ResponseProgram(None, note="no_code")  # fenced code, but in another language
    if blocks:
        for block in blocks:
            tree, src = _parse_trimmed(block)
            if tree is not None:
                units.append((tree, src))
        if not units:
            return ResponseProgram(None, note="syntax_error")
        definitions = []
        for tree, src in units:
            lines = src.splitlines()
            definitions += [_segment(lines, n) for n in tree.body if _is_definition(n)]
        code = "\n\n".join(definitions) + "\n"
    else:
        code = extract_code(text, entry_point)
        if code is None:
            return ResponseProgram(None, note="no_code")
        tree, src = _parse_trimmed(code)
        if tree is None:
            return ResponseProgram(None, note="syntax_error")
        units.append((tree, src))
        if src != code:  # truncated: it would not run as given; still mined for calls
            code = None
    funcs = [n for tree, _ in units for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    methods = [
        m
        for tree, _ in units
        for n in tree.body
        if isinstance(n, ast.ClassDef) and n.name == SOLUTION_CLASS
        for m in solution_methods(n)
    ]
    if methods and (not funcs or (entry_point in {m.name for m in methods} - {f.name for f in funcs})):
        funcs = funcs + methods  # LeetCode style: the harness calls the method on Solution()
    usage_calls: set[str] = set()
    for tree, _ in units:
        for stmt in _usage_statements(tree, set()):
            usage_calls |= _called_names(stmt)
    main = _main_function(funcs, usage_calls, entry_point)
    if main is None:
        return ResponseProgram(code, note="syntax_error" if code is None else "no_function")
    arity, params = _arity(main)
    names = {main.name}
    if entry_point:
        names.add(entry_point)
    examples: list[Example] = []
    for tree, src in units:
        lines = src.splitlines()
        stmts = _usage_statements(tree, {main.name})
        for f in tree.body:  # def check(candidate): assert candidate(...) == ...
            if isinstance(f, ast.FunctionDef) and f.name == "check" and f.args.args:
                names.add(f.args.args[0].arg)
        examples += _mine_calls(stmts, names, _comments(src), lines, origin)
    examples += _doctest_examples(text, names, "response", origin)
    examples = [Example(ex.args, ex.expected, ex.kind, "response", origin, main.name) for ex in examples]
    note = "syntax_error" if code is None else None
    return ResponseProgram(code, main.name if code else None, arity, params, _dedup(examples), note)
