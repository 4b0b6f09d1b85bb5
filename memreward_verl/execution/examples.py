"""Static (never executed here) analysis of prompts and responses: stated examples, programs, calls.

Everything in this module parses text with :mod:`ast`/:mod:`tokenize` only; the sources it returns
(programs, argument lists, expected values) are evaluated later inside the sandbox.

*Data expressions*: argument lists and expected values are accepted only when they are literal-like
(constants, containers, unary/binary arithmetic on small numbers, and calls of a few pure builtins
such as ``range``/``list``/``set``/``float``) after substituting variables assigned earlier in the
same example code. A call with ``Node(1)`` or ``my_var`` left over is not transferable between
programs and is skipped.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

from memreward_verl.verify.code_verifier import extract_code

__all__ = [
    "Example",
    "ResponseProgram",
    "prompt_entry_point",
    "prompt_examples",
    "parse_response",
    "is_data_expression",
]

_MAX_EXPR_CHARS = 2000
_SAFE_CALLS = {"range", "list", "tuple", "set", "frozenset", "dict", "str", "int", "float", "bool", "sorted", "abs"}
_SAFE_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON = {"", "python", "python3", "py", "py3", "pycon", "ipython"}
# Separators between a call and its stated result in prose/docstrings: f(x) == y, f(x) -> y, ...
_SEPARATOR = re.compile(r"\s*(==|->|=>|➞|→|⇒|should\s+return|returns|should\s+be|=(?!=))\s*")
# Prefixes of a trailing comment that states a result: "# Output: [1, 2]", "# returns 3", "# => 3".
_COMMENT_PREFIX = re.compile(
    r"^#+\s*(?:(?:expected\s+)?(?:output|result|returns?|prints?|answer)s?\s*(?:is|will\s+be|should\s+be)?\s*:?|"
    r"=>|->|➞|→|==)?\s*",
    re.IGNORECASE,
)
_HELPER_NAMES = re.compile(r"^(?:test\w*|check|main|example\w*|demo\w*|run\w*)$")
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


# ---------------------------------------------------------------------------------------------- AST helpers


def _parse(src: str, mode: str = "exec") -> ast.AST | None:
    if len(src) > 200_000:
        return None
    try:
        return ast.parse(src, mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _data_node(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, bytes) or len(node.value) < 1000
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_data_node(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _data_node(k) for k in node.keys) and all(_data_node(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub | ast.UAdd | ast.Not) and _data_node(node.operand)
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, _SAFE_BINOPS) or not (_data_node(node.left) and _data_node(node.right)):
            return False
        if isinstance(node.op, ast.Pow):  # 10 ** 10 ** 9 would hang the evaluation
            right = node.right
            return isinstance(right, ast.Constant) and type(right.value) in (int, float) and abs(right.value) <= 64
        if isinstance(node.op, ast.Mult):  # [0] * 10 ** 9 would exhaust memory
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and type(side.value) is int and abs(side.value) > 100_000:
                    return False
        return True
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _SAFE_CALLS):
            return False
        return all(_data_node(a) for a in node.args) and all(_data_node(k.value) for k in node.keywords)
    return False


def is_data_expression(src: str) -> bool:
    """Whether ``src`` is a literal-like expression (see the module docstring)."""
    if not src or len(src) > _MAX_EXPR_CHARS:
        return False
    tree = _parse(src, "eval")
    return tree is not None and _data_node(tree.body)


def _args_source(call: ast.Call) -> str | None:
    """Source of the call's arguments, or None when one is not a data expression."""
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    if not all(_data_node(a) for a in call.args) or not all(_data_node(k.value) for k in call.keywords):
        return None
    parts = [ast.unparse(a) for a in call.args] + [f"{k.arg}={ast.unparse(k.value)}" for k in call.keywords]
    src = ", ".join(parts)
    return src if len(src) <= _MAX_EXPR_CHARS else None


class _Substitute(ast.NodeTransformer):
    def __init__(self, env: dict[str, ast.AST]) -> None:
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.AST:
        value = self.env.get(node.id)
        return ast.copy_location(_copy(value), node) if value is not None else node


def _copy(node: ast.AST) -> ast.AST:
    return ast.parse(ast.unparse(node), mode="eval").body


def _substituted(node: ast.AST, env: dict[str, ast.AST]) -> ast.AST:
    if not env:
        return node
    return _Substitute(env).visit(_copy(node))


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


def _longest_data_prefix(text: str) -> str | None:
    """The longest prefix of ``text`` (cut at a space or punctuation) that is a data expression."""
    text = text.strip()
    if len(text) > 400:
        text = text[:400]
    cuts = [len(text)] + [i for i in range(len(text) - 1, 0, -1) if text[i] in " ,.;:" and text[i - 1] != "\\"]
    for cut in cuts:
        piece = text[:cut].strip().rstrip(".,;:")
        if piece and is_data_expression(piece):
            return piece
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
