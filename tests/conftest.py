"""Shared fixtures: the real packaged embedder and small real inputs, built once per session."""

from __future__ import annotations

import pytest
import torch

from memreward_verl.config import MemRewardConfig
from memreward_verl.testing import arithmetic_rollouts, shared_data_dir

torch.set_num_threads(2)

WORDS = "the cat sat on a mat and then it ran to the red house near blue hills with many trees".split()


@pytest.fixture(scope="session")
def llm_words() -> list[str]:
    """The words the random_llm fixture's tokenizer was trained on."""
    return list(WORDS)


@pytest.fixture(scope="session")
def embedder():
    from memreward_verl.embed import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def arith_queries():
    return arithmetic_rollouts(n_queries=60, n_rollouts=8, seed=0)


@pytest.fixture(scope="session")
def arith_groups(arith_queries, embedder):
    from memreward_verl.groups import encode_groups

    return encode_groups(arith_queries, embedder, MemRewardConfig())


@pytest.fixture()
def fast_cfg():
    """Training settings small enough for tests, same code paths."""
    cfg = MemRewardConfig()
    cfg.fit.epochs = 40
    cfg.fit.patience = 10
    cfg.fit.seeds = (0,)
    return cfg


@pytest.fixture(scope="session")
def shared_data():
    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent")
    return path


@pytest.fixture(scope="session")
def random_llm(tmp_path_factory):
    """A tiny random Llama with a local tokenizer whose generation_config.json sets Qwen2.5-like defaults
    (plus top_k=1 and a near-zero temperature: if generate() used them, all samples would be one text)."""
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    from memreward_verl.integration.testing import build_tokenizer

    folder = tmp_path_factory.mktemp("random_llm") / "model"
    build_tokenizer([" ".join(WORDS)] * 20, folder, vocab_size=300)
    tok = AutoTokenizer.from_pretrained(folder)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id,
    )
    model = LlamaForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        do_sample=True,
        temperature=0.01,
        top_p=0.8,
        top_k=1,
        repetition_penalty=1.05,
        min_p=0.9,
        eos_token_id=[tok.eos_token_id, tok.pad_token_id],
    )
    model.save_pretrained(folder)
    return str(folder)
