"""One prompt template per domain, each asking for an answer format OUR verifiers grade and OUR
node-text splitter (memreward_verl/text.py) cuts at the right place.

* math: reasoning, then a last line ``#### <answer>``. ``####`` is the splitter's first marker after
  ``</think>`` and the math verifier reads the last ``#### X`` (a ``\\boxed{}`` would also be read).
* qa: the options listed one per line as ``A. text`` (what ``parse_options`` reads), reasoning, then
  a last line ``#### <letter>`` (the choice verifier's ``#### C`` pattern; same splitter marker).
* code: the stub (signature + docstring, never tests) in a fenced block; the reply is the whole
  function in one fenced ``python`` block, which the code verifier extracts and the splitter takes
  as the answer.
"""

from __future__ import annotations

import ast
import json
import re

from memreward_verl.prepare.records import Example, RecordError
from memreward_verl.verify.choice_verifier import LETTERS

__all__ = [
    "DOMAINS",
    "MATH_INSTRUCTION",
    "QA_INSTRUCTION",
    "CODE_INSTRUCTION",
    "build_prompt",
    "format_question",
    "code_stub",
    "leaked_test",
]

DOMAINS = ("math", "qa", "code")

MATH_INSTRUCTION = (
    "Solve the problem step by step. Then write the final answer alone on the last line, "
    'in the form "#### <answer>" (a number or a LaTeX expression, without units).'
)
QA_INSTRUCTION = (
    "Think step by step, then write the letter of the correct option alone on the last line, "
    'in the form "#### X" where X is one of {letters}.'
)
CODE_INSTRUCTION = (
    "Complete the Python function below. Reply with the complete function (its def line and any "
    "imports it needs) in a single ```python fenced code block."
)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def format_question(ex: Example, domain: str) -> str:
    """The dataset content of the prompt (the question, with lettered options for QA)."""
    if domain == "qa":
        if not 2 <= len(ex.choices) <= len(LETTERS):
            raise RecordError(f"{ex.query_id}: a QA record needs 2..{len(LETTERS)} options (got {len(ex.choices)})")
        lines = [f"{LETTERS[i]}. {_one_line(text)}" for i, text in enumerate(ex.choices)]
        return ex.question.strip() + "\n\n" + "\n".join(lines)
    if domain == "code":
        return "```python\n" + ex.question.lstrip("\n").rstrip() + "\n```"
    return ex.question.strip()


def build_prompt(ex: Example, domain: str) -> str:
    """The user message for one example: the question, then the domain's answer-format instruction."""
    if domain == "math":
        return f"{format_question(ex, domain)}\n\n{MATH_INSTRUCTION}"
    if domain == "qa":
        letters = ", ".join(LETTERS[: len(ex.choices)])
        return f"{format_question(ex, domain)}\n\n{QA_INSTRUCTION.format(letters=letters)}"
    if domain == "code":
        return f"{CODE_INSTRUCTION}\n\n{format_question(ex, domain)}"
    raise ValueError(f"unknown domain {domain!r}; domains: {', '.join(DOMAINS)}")


def code_stub(description: str, code: str, entry_point: str, where: str) -> str:
    """A signature + docstring stub for a task given as text plus a reference solution.

    The signature is read off the reference's ``def`` (argument names only, no body); ``assert``
    lines in the description are dropped, since they are tests.

    Raises:
        RecordError: naming ``where`` when the reference does not parse or defines no ``entry_point``.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise RecordError(f"{where}: reference solution does not parse ({exc.msg}, line {exc.lineno})") from None
    fn = next(
        (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == entry_point),
        None,
    )
    if fn is None:
        raise RecordError(f"{where}: reference solution defines no function {entry_point!r}")
    text = "\n".join(ln for ln in description.splitlines() if not ln.strip().startswith("assert"))
    text = text.replace('"""', "").strip()
    if not text:
        raise RecordError(f"{where}: empty task description")
    prefix = "async def" if isinstance(fn, ast.AsyncFunctionDef) else "def"
    body = "\n".join(("    " + ln).rstrip() for ln in text.splitlines())
    return f'{prefix} {fn.name}({ast.unparse(fn.args)}):\n    """\n{body}\n    """\n'


_ASSERT = re.compile(r"^\s*assert\b.*$", re.MULTILINE)


def leaked_test(prompt: str, ground_truth: str) -> str | None:
    """The first test statement of a code ground truth that appears in ``prompt``, else ``None``."""
    obj = json.loads(ground_truth)
    pieces = list(obj.get("asserts") or [])
    if obj.get("test"):
        pieces.append(obj["test"])
    squashed = "".join(prompt.split())
    for piece in pieces:
        for line in _ASSERT.findall(piece):
            probe = "".join(line.split())
            if len(probe) > len("assert") + 3 and probe in squashed:
                return line.strip()
    return None
