"""The rollout settings shared by the warm-up and the RL run (the reference sampled them differently)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["SamplingConfig", "eos_ids", "verl_generation_config"]


def eos_ids(*sources: Any) -> list[int]:
    """The distinct end-of-sequence ids of ``sources`` (ints, lists of ints or None), in order."""
    out: list[int] = []
    for src in sources:
        items: Iterable[Any] = src if isinstance(src, (list, tuple)) else [src]
        for i in items:
            if i is not None and int(i) not in out:
                out.append(int(i))
    return out


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
        if self.temperature == 0 and self.n > 1:
            # vLLM (verl 0.9.1 pairs it with 0.24) and transformers both reject greedy decoding with n > 1,
            # and n identical rollouts would give every GRPO group zero advantage anyway.
            raise ValueError(
                f"SamplingConfig.temperature=0 (greedy) with n={self.n} > 1: vLLM and transformers reject it "
                "and the n rollouts would be identical; set temperature > 0 or n=1 "
                "(verl: actor_rollout_ref.rollout.temperature / actor_rollout_ref.rollout.n; "
                "recipes: TEMPERATURE / ROLLOUT_N; memreward warmup: --temperature / --n)"
            )
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"SamplingConfig.top_p must be in (0, 1] (got {self.top_p})")
        if self.max_prompt_length < 1 or self.max_response_length < 1:
            raise ValueError("SamplingConfig.max_prompt_length and max_response_length must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def generation_config(self, tokenizer: Any, extra_eos_ids: Iterable[int] = ()) -> Any:
        """:func:`verl_generation_config` of these settings: ``n`` sequences, ``max_response_length`` new tokens."""
        return verl_generation_config(
            tokenizer,
            temperature=self.temperature,
            top_p=self.top_p,
            max_new_tokens=self.max_response_length,
            n=self.n,
            extra_eos_ids=extra_eos_ids,
        )


def verl_generation_config(
    tokenizer: Any,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    n: int = 1,
    top_k: int = -1,
    extra_eos_ids: Iterable[int] = (),
) -> Any:
    """A ``transformers.GenerationConfig`` that samples as verl's vLLM rollout does.

    verl's rollout sends vLLM ``temperature``, ``top_p``, ``top_k`` (-1: off) and ``repetition_penalty=1.0``
    and nothing else. ``generate`` would otherwise add its own defaults (``top_k=50``) and whatever the
    model's ``generation_config.json`` sets (Qwen2.5-Instruct: ``top_k=20``, ``repetition_penalty=1.05``).
    Every field that shapes the distribution is therefore set here, and the caller must also make this
    the model's ``generation_config`` (``generate`` fills the fields left ``None``, such as ``min_p``,
    from it): see ``TransformersGenerator.generate``.

    Args:
        tokenizer: the policy tokenizer (its pad and eos ids; pad falls back to eos).
        temperature: 0 means greedy (then ``n`` must be 1, as in vLLM).
        top_p: nucleus mass in (0, 1].
        max_new_tokens: the response length.
        n: sequences per prompt (``num_return_sequences``).
        top_k: vLLM's convention: -1 or 0 is off.
        extra_eos_ids: more stop ids, e.g. the model's ``generation_config.eos_token_id`` (vLLM stops at
            those too).

    Raises:
        ValueError: ``temperature`` 0 with ``n`` > 1 (transformers and vLLM reject it).
    """
    from transformers import GenerationConfig

    if temperature == 0 and n > 1:
        raise ValueError(f"temperature=0 (greedy) with n={n} > 1: set temperature > 0 or n=1")
    eos = eos_ids(tokenizer.eos_token_id, list(extra_eos_ids))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos[0] if eos else None)
    sample = temperature > 0
    return GenerationConfig(
        do_sample=sample,
        temperature=float(temperature) if sample else 1.0,
        top_p=float(top_p) if sample else 1.0,
        top_k=max(0, int(top_k)) if sample else 0,  # 0 = off in transformers
        min_p=None,
        typical_p=1.0,
        epsilon_cutoff=0.0,
        eta_cutoff=0.0,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        min_new_tokens=0,
        num_beams=1,
        max_new_tokens=int(max_new_tokens),
        num_return_sequences=int(n),
        pad_token_id=pad,
        eos_token_id=eos if len(eos) > 1 else (eos[0] if eos else None),
    )
