"""Label-free behavioural agreement for code groups (CodeT-style dual execution agreement).

Syntactic agreement (``answers.code_key``) almost never matches two different correct programs.
Here every program of a group is *run* on the same inputs and programs are clustered by what they
do. No ground-truth test is ever used: inputs come from

* the prompt: doctest ``>>> f(x)`` lines and ``f(x) == y`` / ``-> y`` / ``=> y`` / ``➞ y`` example
  lines (:func:`prompt_examples`), with their stated results;
* the group's own responses: calls of the solution function in their example/test code, with the
  result they state (``assert f(x) == y``, ``print(f(x))  # Output: y``, doctests) when there is
  one (CodeT's model-generated tests);
* when those give fewer than ``ExecutionConfig.target_inputs``, inputs generated from the
  solution's signature (:mod:`memreward_verl.execution.inputs`), kept only where most programs
  accept them.

Competitive-programming prompts (Codeforces, AtCoder, APPS, CodeContests: a script reads stdin)
state sample tests instead (:func:`~memreward_verl.execution.stdio.stdio_samples`); where most of a
group's programs read stdin, each whole program runs once per sample input and its behaviour is
what it prints. LeetCode-style ``class Solution`` starter code names a method, called on an instance.

:func:`run_group` runs a whole group in one sandboxed process (one forked worker per program, a
timer per call), and reports per program a behaviour signature, its cluster and cluster share, the
fraction of prompt / response examples it passes, the dual agreement score (cluster size x stated
examples the cluster passes, normalised in the group) and a combined score.
:func:`run_groups` does many groups with a thread pool of sandboxes.
"""

from memreward_verl.execution.data_expr import is_data_expression
from memreward_verl.execution.examples import Example, prompt_entry_point, prompt_examples
from memreward_verl.execution.group import (
    STATUSES,
    ExecutionConfig,
    GroupBehaviour,
    ProgramBehaviour,
    combine,
    run_group,
    run_groups,
)
from memreward_verl.execution.response import ResponseProgram, parse_response

__all__ = [
    "Example",
    "ResponseProgram",
    "ExecutionConfig",
    "GroupBehaviour",
    "ProgramBehaviour",
    "STATUSES",
    "combine",
    "is_data_expression",
    "parse_response",
    "prompt_entry_point",
    "prompt_examples",
    "run_group",
    "run_groups",
]
