"""Data expressions: the argument lists and stated results that may be carried between programs.

Argument lists and expected values are accepted only when they are literal-like (constants,
containers, unary/binary arithmetic on small numbers, and calls of a few pure builtins such as
``range``/``list``/``set``/``float``) after substituting variables assigned earlier in the same
example code. A call with ``Node(1)`` or ``my_var`` left over is not transferable between programs
and is skipped. Checked with :mod:`ast` only (never executed here): the sources are evaluated
later inside the sandbox.
"""

from __future__ import annotations

import ast

__all__ = ["is_data_expression"]

_MAX_EXPR_CHARS = 2000
_SAFE_CALLS = {"range", "list", "tuple", "set", "frozenset", "dict", "str", "int", "float", "bool", "sorted", "abs"}
_SAFE_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


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
