"""The rollout settings shared by the warm-up and the RL run (the reference sampled them differently)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["SamplingConfig"]


@dataclass(frozen=True)
class SamplingConfig:
    """How rollouts are sampled; pass the SAME values to verl's ``actor_rollout_ref.rollout``.

    Attributes:
        n: rollouts per prompt (``rollout.n``).
        temperature: sampling temperature (``rollout.temperature``); 0 means greedy.
        top_p: nucleus mass (``rollout.top_p``).
        max_prompt_length: prompts with more tokens are skipped and counted, as verl's
            ``data.filter_overlong_prompts=True`` drops them (``data.max_prompt_length``).
        max_response_length: new tokens per rollout (``data.max_response_length``).
        seed: base seed; a prompt's rollouts depend only on it and the prompt's position.
    """

    n: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    max_prompt_length: int = 1024
    max_response_length: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"SamplingConfig.n must be >= 1 (got {self.n})")
        if self.temperature < 0:
            raise ValueError(f"SamplingConfig.temperature must be >= 0 (got {self.temperature})")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"SamplingConfig.top_p must be in (0, 1] (got {self.top_p})")
        if self.max_prompt_length < 1 or self.max_response_length < 1:
            raise ValueError("SamplingConfig.max_prompt_length and max_response_length must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
