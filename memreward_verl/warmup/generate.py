"""Rollout generators: vLLM on a GPU, transformers on a CPU; one interface for the warm-up.

Both render the prompt with the tokenizer's chat template (``add_generation_prompt=True``), as
verl's rollout does, and sample ``n`` responses per prompt with the :class:`SamplingConfig` of the
RL run. A prompt's responses depend only on the seed and its batch, so a resumed warm-up that
regenerates a batch gets the same texts.
"""

from __future__ import annotations

import abc
import importlib.util
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from memreward_verl.warmup.sampling import SamplingConfig, eos_ids

__all__ = [
    "Generator",
    "TransformersGenerator",
    "VLLMGenerator",
    "make_generator",
    "chat_prompt_ids",
    "BACKENDS",
    "ModelLoadError",
]

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "vllm", "transformers")
Messages = list[dict[str, str]]


class ModelLoadError(ValueError):
    """The policy model could not be loaded from the given path (the message says why)."""


def chat_prompt_ids(tokenizer: Any, messages: Messages) -> list[int]:
    """Token ids of one chat prompt rendered with ``add_generation_prompt=True``.

    ``apply_chat_template(..., tokenize=True)`` returns a flat id list in transformers 4 but a
    dict-like ``BatchEncoding`` in transformers 5 (``len()`` of it is its number of keys), and
    some tokenizers nest one prompt as a batch of one: every shape is reduced to the flat ids here.
    """
    out = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
    if isinstance(out, Mapping) or hasattr(out, "keys"):
        out = out["input_ids"]
    if hasattr(out, "tolist"):  # a tensor or an array
        out = out.tolist()
    out = list(out)
    if len(out) == 1 and isinstance(out[0], (list, tuple)):
        out = list(out[0])
    if out and not all(isinstance(i, int) for i in out):
        raise TypeError(f"apply_chat_template returned {type(out[0]).__name__} items, not token ids")
    return out


class Generator(abc.ABC):
    """Samples ``sampling.n`` responses for each chat prompt."""

    sampling: SamplingConfig
    model_path: str
    tokenizer: Any

    def prompt_length(self, messages: Messages) -> int:
        """Tokens of the rendered prompt (for the ``max_prompt_length`` filter)."""
        return len(chat_prompt_ids(self.tokenizer, messages))

    @abc.abstractmethod
    def generate(self, prompts: Sequence[Messages], seed: int) -> list[list[str]]:
        """``n`` response texts for each prompt, special tokens removed."""


def _check_model_path(model_path: str) -> None:
    """A local path must be a HF model folder; anything else is left to the hub lookup."""
    path = Path(model_path)
    local = model_path.startswith(("/", ".", "~")) or path.exists()
    if local and not path.exists():
        raise ModelLoadError(f"model path {model_path} does not exist")
    if path.exists() and not (path / "config.json").is_file():
        raise ModelLoadError(f"model path {model_path} exists but has no config.json (not a Hugging Face model folder)")


class TransformersGenerator(Generator):
    """CPU (or single-device) sampling with ``transformers.generate``; for small models and the demo.

    Samples as verl's vLLM rollout does (:meth:`SamplingConfig.generation_config`): the model's own
    ``generation_config.json`` (top_k, repetition_penalty, ...) is replaced, keeping only its stop ids.
    """

    def __init__(
        self, model_path: str, sampling: SamplingConfig, batch_prompts: int = 8, threads: int | None = None
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        _check_model_path(model_path)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_path)
            self.model = AutoModelForCausalLM.from_pretrained(model_path).eval()
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"could not load the policy model from {model_path!r}: {exc}") from exc
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.sampling = sampling
        self.model_path = model_path
        self.batch_prompts = batch_prompts
        # Only the model's stop ids are kept from its generation_config.json (vLLM stops at them too).
        self.model_eos_ids = eos_ids(getattr(self.model.generation_config, "eos_token_id", None))
        self.model.generation_config = self.generation_config()

    def generation_config(self):
        """The ``GenerationConfig`` of :attr:`sampling` (see :meth:`SamplingConfig.generation_config`)."""
        return self.sampling.generation_config(self.tokenizer, self.model_eos_ids)

    def generate(self, prompts: Sequence[Messages], seed: int) -> list[list[str]]:
        import torch

        s = self.sampling
        ids = [chat_prompt_ids(self.tokenizer, m) for m in prompts]
        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):  # left padding, as generation needs
            input_ids[i, width - len(x) :] = torch.tensor(x)
            mask[i, width - len(x) :] = 1
        cfg = self.generation_config()
        # generate() fills every field left None from the model's config: make ours that config too.
        self.model.generation_config = cfg
        torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, generation_config=cfg)
        texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        return [texts[i * s.n : (i + 1) * s.n] for i in range(len(prompts))]


class VLLMGenerator(Generator):
    """GPU sampling with vLLM (what verl's rollout uses); ``n`` samples per prompt in one request."""

    def __init__(
        self,
        model_path: str,
        sampling: SamplingConfig,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        batch_prompts: int = 256,
    ) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise ModelLoadError("backend 'vllm' needs the vllm package (pip install 'verl[vllm]'); use 'transformers'")
        from vllm import LLM

        _check_model_path(model_path)
        self.sampling = sampling
        self.model_path = model_path
        self.batch_prompts = batch_prompts
        self.llm = LLM(
            model=model_path,
            seed=sampling.seed,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=sampling.max_prompt_length + sampling.max_response_length,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: Sequence[Messages], seed: int) -> list[list[str]]:
        from vllm import SamplingParams

        s = self.sampling
        params = [
            SamplingParams(
                n=s.n,
                temperature=s.temperature,
                top_p=s.top_p,
                max_tokens=s.max_response_length,
                seed=seed + i,
            )
            for i in range(len(prompts))
        ]
        outputs = self.llm.chat([list(m) for m in prompts], sampling_params=params, use_tqdm=False)
        return [[c.text for c in o.outputs] for o in outputs]


def make_generator(
    backend: str, model_path: str, sampling: SamplingConfig, batch_prompts: int | None = None, **kwargs
) -> Generator:
    """``auto`` picks vLLM when it is installed and a GPU is visible, else transformers."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "auto":
        import torch

        has_vllm = importlib.util.find_spec("vllm") is not None
        backend = "vllm" if has_vllm and torch.cuda.is_available() else "transformers"
        logger.info("generation backend: %s", backend)
    if backend == "vllm":
        return VLLMGenerator(model_path, sampling, batch_prompts=batch_prompts or 256, **kwargs)
    return TransformersGenerator(model_path, sampling, batch_prompts=batch_prompts or 8, **kwargs)
