"""Warm-up: sample rollouts from the initial policy, verify the labelled ones, build the artifact.

Stages, in data-flow order: :mod:`.prompts` (verl parquet -> prompt rows), :mod:`.sampling`
(the RL run's rollout settings), :mod:`.generate` (vLLM or transformers), :mod:`.cache`
(resumable generations), :mod:`.pipeline` (verify -> embed -> memory -> GNN -> artifact).
"""

from memreward_verl.warmup.generate import Generator, TransformersGenerator, VLLMGenerator, make_generator
from memreward_verl.warmup.pipeline import WarmupConfig, WarmupResult, run_warmup
from memreward_verl.warmup.prompts import PromptRow, read_labelled_ids, read_prompt_rows
from memreward_verl.warmup.sampling import SamplingConfig

__all__ = [
    "SamplingConfig",
    "PromptRow",
    "read_prompt_rows",
    "read_labelled_ids",
    "Generator",
    "TransformersGenerator",
    "VLLMGenerator",
    "make_generator",
    "WarmupConfig",
    "WarmupResult",
    "run_warmup",
]
