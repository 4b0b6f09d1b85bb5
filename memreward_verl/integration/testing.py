"""Builders for the tests, benchmarks and CPU demo of the verl integration: a tokenizer, verl samples, configs.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on the texts at hand (exact
round trip, so decoded responses equal the originals), and the job config is verl's own
``ppo_trainer.yaml`` composed with hydra plus overrides.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memreward_verl.rollouts import Query

__all__ = [
    "build_tokenizer",
    "make_batch",
    "compose_verl_config",
    "queries_to_specs",
    "build_small_artifact",
    "SampleSpec",
]

SampleSpec = dict[str, Any]


def build_tokenizer(texts: Sequence[str], out_dir: str | Path, vocab_size: int = 2000) -> str:
    """Train a byte-level BPE tokenizer on ``texts`` and save it as a Hugging Face tokenizer folder.

    Returns:
        The folder, loadable with ``AutoTokenizer.from_pretrained`` (and verl's ``hf_tokenizer``).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(list(texts), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
    fast.chat_template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return str(out_dir)


def queries_to_specs(
    queries: Sequence[Query],
    data_source: str = "openai/gsm8k",
    split: str = "train",
    uids: Sequence[str] | None = None,
) -> list[SampleSpec]:
    """One spec per rollout: the fields verl puts in a streamed sample (one uid per query)."""
    specs = []
    for qi, q in enumerate(queries):
        uid = uids[qi] if uids is not None else str(uuid.uuid4())
        for r in q.rollouts:
            specs.append(
                {
                    "question": q.question,
                    "response": r.text,
                    "uid": uid,
                    "data_source": data_source,
                    "ground_truth": q.ground_truth,
                    "extra_info": {"split": split, "index": qi, "query_id": q.query_id},
                }
            )
    return specs


def make_batch(specs: Sequence[SampleSpec], tokenizer: Any, meta_info: dict[str, Any] | None = None):
    """A verl ``DataProto`` as the agent loop builds it (prompts left-padded, responses right-padded).

    Each spec has ``question``, ``response``, ``data_source`` and optionally ``uid``,
    ``ground_truth``, ``extra_info``, ``global_steps`` (a missing key is left out of the sample, to
    test malformed input).
    """
    from verl import DataProto

    prompts = [tokenizer.encode(s["question"], add_special_tokens=False) for s in specs]
    responses = [tokenizer.encode(s["response"], add_special_tokens=False) for s in specs]
    lp = max(1, max(len(p) for p in prompts))
    lr = max(1, max(len(r) for r in responses))
    pad = tokenizer.pad_token_id
    b = len(specs)
    prompt_t = torch.full((b, lp), pad, dtype=torch.long)
    resp_t = torch.full((b, lr), pad, dtype=torch.long)
    mask = torch.zeros((b, lp + lr), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        if p:
            prompt_t[i, lp - len(p) :] = torch.tensor(p)
        if r:
            resp_t[i, : len(r)] = torch.tensor(r)
        mask[i, lp - len(p) : lp + len(r)] = 1
    input_ids = torch.cat([prompt_t, resp_t], dim=1)
    position_ids = (torch.cumsum(mask, dim=1) - 1).clamp(min=0)
    non_tensor: dict[str, np.ndarray] = {}

    def column(key: str, values: list[Any]) -> None:
        arr = np.empty(b, dtype=object)
        arr[:] = values
        non_tensor[key] = arr

    column("data_source", [s.get("data_source") for s in specs])
    column("raw_prompt", [[{"role": "user", "content": s["question"]}] for s in specs])
    column("ability", [s.get("ability", "math") for s in specs])
    column("reward_model", [{"style": "rule", "ground_truth": s.get("ground_truth")} for s in specs])
    column("extra_info", [dict(s.get("extra_info", {})) for s in specs])
    if all("uid" in s for s in specs):
        column("uid", [s["uid"] for s in specs])
    if any("global_steps" in s for s in specs):  # as verl's V1 trainer tags every sample
        non_tensor["global_steps"] = np.array([int(s.get("global_steps", -1)) for s in specs], dtype=np.int64)
    return DataProto.from_dict(
        tensors={
            "prompts": prompt_t,
            "responses": resp_t,
            "attention_mask": mask,
            "input_ids": input_ids,
            "position_ids": position_ids,
        },
        non_tensors=non_tensor,
        meta_info=meta_info or {},
    )


def compose_verl_config(tokenizer_dir: str, reward_kwargs: dict[str, Any], overrides: Sequence[str] = ()):
    """verl's ``ppo_trainer.yaml`` with the memreward manager and ``reward.reward_kwargs`` set."""
    import verl
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    base = [
        f"actor_rollout_ref.model.path={tokenizer_dir}",
        "reward.reward_manager.source=importlib",
        "reward.reward_manager.name=MemRewardManager",
        "reward.reward_manager.module.path=pkg://memreward_verl.reward_manager",
    ]
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose("ppo_trainer", overrides=[*base, *overrides])
    with open_dict(cfg):
        cfg.reward["reward_kwargs"] = dict(reward_kwargs)
    return cfg


def build_small_artifact(
    groups, labelled_ids: Sequence[str], out_dir: str | Path, epochs: int = 40, embed_model: str | None = None
) -> str:
    """A warm-up artifact trained briefly (one seed) on CPU: same code paths as a real warm-up.

    ``embed_model`` is the embedder model name ``groups`` were embedded with (default: the float MiniLM).
    """
    from memreward_verl.artifact import build_artifact
    from memreward_verl.config import MemRewardConfig

    cfg = MemRewardConfig()
    if embed_model is not None:
        cfg.embed.model_name = embed_model
    cfg.fit.epochs = epochs
    cfg.fit.patience = 10
    cfg.fit.seeds = (0,)
    build_artifact(groups, list(labelled_ids), cfg, out_dir=out_dir)
    return str(out_dir)
