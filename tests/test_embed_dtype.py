"""The embedder's compute dtype: bfloat16 gives float32's vectors to rounding, under the same id."""

from __future__ import annotations

import numpy as np
import pytest

from memreward_verl.config import EmbedConfig, MemRewardConfig
from memreward_verl.cpu.precision import native_bf16
from memreward_verl.embed import load_embedder, resolve_embed_dtype
from memreward_verl.evaluate import _cache_key
from memreward_verl.testing import arithmetic_rollouts

TEXTS = [
    "Natalia sold 48 clips in April and half as many in May, so 48 + 24 = 72.\n#### 72",
    "The answer is (C).",
    "def add(a, b):\n    return a + b",
    "",
]


@pytest.fixture(scope="module")
def embedders():
    return load_embedder(EmbedConfig(dtype="fp32")), load_embedder(EmbedConfig(dtype="bf16"))


def test_bf16_vectors_are_fp32_vectors_to_rounding_under_the_same_id(embedders):
    fp32, bf16 = embedders
    assert (fp32.compute_dtype, bf16.compute_dtype) == ("fp32", "bf16")
    assert fp32.model_id == bf16.model_id == "sentence-transformers/all-MiniLM-L6-v2@256"
    a, b = fp32.encode(TEXTS), bf16.encode(TEXTS)
    assert b.dtype == np.float32 and b.shape == a.shape
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, rtol=1e-5)
    cos = (a * b).sum(1)
    assert cos.min() >= 0.9999, cos
    assert not np.array_equal(a, b)  # bfloat16 really ran: the matmuls rounded differently
    # the online worker's small length-grouped batches give the bulk pass's vectors
    np.testing.assert_allclose(bf16.encode(TEXTS, batch_size=2), b, atol=2e-3)


def test_auto_is_bf16_only_on_a_cpu_that_runs_it_natively():
    assert resolve_embed_dtype("auto", "cpu") == ("bf16" if native_bf16() else "fp32")
    assert resolve_embed_dtype("auto", "cpu:0") == resolve_embed_dtype("auto", "cpu")
    assert resolve_embed_dtype("auto", "cuda") == resolve_embed_dtype("auto", "cuda:1") == "fp32"
    assert resolve_embed_dtype("bf16", "cuda") == "bf16"
    assert resolve_embed_dtype("auto", "cpu", quantized=True) == "fp32"
    with pytest.raises(ValueError, match="does not apply to an ':int8' model"):
        resolve_embed_dtype("bf16", "cpu", quantized=True)
    with pytest.raises(ValueError, match=r"embedder dtype must be one of .*'fp16'"):
        resolve_embed_dtype("fp16", "cpu")
    with pytest.raises(ValueError, match=r"EmbedConfig.dtype must be one of"):
        EmbedConfig(dtype="half")


def test_evaluation_cache_keeps_the_dtypes_apart(embedders):
    fp32, bf16 = embedders
    queries = arithmetic_rollouts(n_queries=2, n_rollouts=2, seed=0)
    cfg = MemRewardConfig()
    assert _cache_key(queries, fp32, cfg) != _cache_key(queries, bf16, cfg)
    assert _cache_key(queries, fp32, cfg) == _cache_key(queries, load_embedder(EmbedConfig(dtype="fp32")), cfg)
