"""memreward warmup with the real packaged tiny LLM (SmolLM2-135M) on CPU: artifact, resume, errors."""

from __future__ import annotations

import copy
import dataclasses
import json

import pandas as pd
import pytest

from memreward_verl.artifact import load_artifact
from memreward_verl.config import MemRewardConfig
from memreward_verl.cpu.precision import native_bf16
from memreward_verl.demo.tasks import arithmetic_tasks
from memreward_verl.rollouts import read_rollouts
from memreward_verl.verify import verify
from memreward_verl.warmup import SamplingConfig, TransformersGenerator, WarmupConfig, run_warmup
from memreward_verl.warmup.cache import CacheMismatchError, GenerationCache
from memreward_verl.warmup.generate import ModelLoadError
from memreward_verl.warmup.pipeline import choose_labelled_rows, generate_rollouts
from memreward_verl.warmup.prompts import PromptRow, read_prompt_rows
from memreward_verl.warmup.sampling import verl_generation_config

SAMPLING = SamplingConfig(n=4, temperature=1.0, top_p=1.0, max_prompt_length=128, max_response_length=12, seed=3)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("gguf")
    from memreward_verl.demo.tiny_llm import TinyLLMError, ensure_tiny_llm

    try:
        return ensure_tiny_llm(tmp_path_factory.mktemp("llm") / "smollm2")
    except TinyLLMError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def generator(tiny_model):
    return TransformersGenerator(tiny_model, SAMPLING, batch_prompts=4, threads=2)


@pytest.fixture(scope="module")
def train_parquet(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.parquet"
    pd.DataFrame(arithmetic_tasks(20, seed=1)).to_parquet(path, index=False)
    return path


def _small_cfg() -> MemRewardConfig:
    cfg = MemRewardConfig()
    cfg.fit.epochs = 20
    cfg.fit.seeds = (0,)
    return cfg


@pytest.fixture(scope="module")
def warm(tmp_path_factory, train_parquet, generator, tiny_model):
    out = tmp_path_factory.mktemp("warm") / "artifact"
    cfg = WarmupConfig(
        train=str(train_parquet),
        out=str(out),
        model_path=tiny_model,
        label_ratio=0.4,
        sampling=SAMPLING,
        backend="transformers",
        hidden_eval=True,
        verify_jobs=1,
        memreward=_small_cfg(),
        progress=False,
    )
    return cfg, run_warmup(cfg, generator=generator)


def test_artifact_holds_only_labelled_labels(warm, train_parquet):
    """The artifact loads; only the labelled prompts carry labels, and they are the verifier's verdicts."""
    cfg, result = warm
    rows = read_prompt_rows(train_parquet)
    labelled = set(choose_labelled_rows(rows, 0.4, SAMPLING.seed))
    art = load_artifact(result.artifact_dir)
    assert set(art.labelled_ids) == labelled and len(labelled) == 8
    stored = read_rollouts(result.artifact_dir / "rollouts.jsonl")
    assert len(stored) == 20 and all(len(q.rollouts) == SAMPLING.n for q in stored)
    for q in stored:
        labels = [r.label for r in q.rollouts]
        if q.query_id in labelled:
            assert labels == [int(verify("math", r.text, q.ground_truth)) for r in q.rollouts]
        else:
            assert labels == [None] * SAMPLING.n
    known = art.memory.labels >= 0
    assert int(known.sum()) == 8 * SAMPLING.n  # no hidden truth entered the memory


def test_metrics_written(warm):
    _, result = warm
    m = json.loads((result.artifact_dir / "warmup.json").read_text())
    assert m["queries"] == 20 and m["rollouts"] == 80 and m["labelled_queries"] == 8
    assert m["sampling"] == SAMPLING.to_dict()
    assert "val_auc" in m["fit"]
    model_id = json.loads((result.artifact_dir / "artifact.json").read_text())["model_id"]
    assert m["embedder"] == {"model_id": model_id, "compute_dtype": "bf16" if native_bf16() else "fp32"}
    assert m["hidden_eval"]["rollouts"] == 12 * SAMPLING.n or "note" in m["hidden_eval"]
    assert (result.artifact_dir / "warmup.png").stat().st_size > 10_000


def test_rerun_uses_cache(warm, generator):
    """A second run generates nothing: every prompt is in the cache."""
    cfg, result = warm
    calls = []
    original = generator.generate

    def counting(prompts, seed):
        calls.append(len(prompts))
        return original(prompts, seed)

    generator.generate = counting
    try:
        again = run_warmup(cfg, generator=generator)
    finally:
        del generator.generate
    assert calls == []
    assert [r.text for q in again.queries for r in q.rollouts] == [r.text for q in result.queries for r in q.rollouts]


def test_resume_after_torn_write_regenerates_the_same(tmp_path, generator, train_parquet):
    """A torn last line is dropped and that batch regenerated identically (seeded by its position)."""
    rows = read_prompt_rows(train_parquet)[:8]
    cache = GenerationCache(tmp_path / "gen", generator.model_path, generator.sampling)
    first, skipped = generate_rollouts(rows, generator, cache, progress=False)
    assert skipped == []
    path = tmp_path / "gen" / "generations.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    resumed_cache = GenerationCache(tmp_path / "gen", generator.model_path, generator.sampling)
    assert resumed_cache.torn_lines == 1 and rows[-1].query_id not in resumed_cache
    second, _ = generate_rollouts(rows, generator, resumed_cache, progress=False)
    assert [[r.text for r in q.rollouts] for q in second] == [[r.text for r in q.rollouts] for q in first]


def test_cache_refuses_other_settings(tmp_path, generator):
    GenerationCache(tmp_path / "gen", generator.model_path, SAMPLING)
    with pytest.raises(CacheMismatchError, match="temperature"):
        GenerationCache(tmp_path / "gen", generator.model_path, dataclasses.replace(SAMPLING, temperature=0.7))


def test_cache_of_an_older_sampler_is_refused(tmp_path):
    """Generations sampled before the transformers backend sampled like verl's rollout (no sampler_version
    in meta.json) are refused, not silently mixed with new ones."""
    folder = tmp_path / "gen"
    GenerationCache(folder, "m", SAMPLING)
    meta = json.loads((folder / "meta.json").read_text())
    del meta["sampler_version"]
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CacheMismatchError, match="sampler_version"):
        GenerationCache(folder, "m", SAMPLING)


def test_overlong_prompts_are_skipped_and_counted(tmp_path, generator, train_parquet):
    rows = read_prompt_rows(train_parquet)[:4]
    short = copy.copy(generator)  # the same loaded model, another max_prompt_length
    short.sampling = dataclasses.replace(SAMPLING, max_prompt_length=5)
    cache = GenerationCache(tmp_path / "gen", short.model_path, short.sampling)
    queries, skipped = generate_rollouts(rows, short, cache, progress=False)
    assert queries == [] and skipped == [r.query_id for r in rows]


def test_errors_name_the_fault(tmp_path, train_parquet, generator, tiny_model):
    with pytest.raises(ModelLoadError, match="does not exist"):
        TransformersGenerator(str(tmp_path / "no_model"), SAMPLING)
    empty = tmp_path / "empty.parquet"
    pd.DataFrame(arithmetic_tasks(1)).iloc[:0].to_parquet(empty, index=False)
    base = dict(out=str(tmp_path / "a"), model_path=tiny_model, sampling=SAMPLING, progress=False)
    with pytest.raises(ValueError, match="no rows"):
        run_warmup(WarmupConfig(train=str(empty), label_ratio=0.2, **base), generator=generator)
    with pytest.raises(ValueError, match="no labelled prompt"):
        run_warmup(WarmupConfig(train=str(train_parquet), label_ratio=0.01, **base), generator=generator)
    ids = tmp_path / "labelled.json"
    ids.write_text(json.dumps({"query_ids": ["demo/add/99-99-0"]}))
    with pytest.raises(ValueError, match="not in"):
        run_warmup(WarmupConfig(train=str(train_parquet), labelled=str(ids), **base), generator=generator)
    bad = tmp_path / "bad.parquet"
    rows = arithmetic_tasks(2)
    rows[1]["extra_info"] = {"split": "train", "index": 1}
    pd.DataFrame(rows).to_parquet(bad, index=False)
    with pytest.raises(ValueError, match="bad.parquet row 1.*query_id"):
        read_prompt_rows(bad)
    with pytest.raises(ValueError, match="exactly one"):
        WarmupConfig(train="x", out="y", model_path="z")


# --- GPU-path defects: prompt length under transformers 5, greedy with n > 1, verl-like sampling ---


def test_prompt_length_counts_tokens_not_keys(random_llm, llm_words):
    """transformers 5's apply_chat_template(tokenize=True) is a BatchEncoding (len 2): a long prompt is long."""
    from memreward_verl.warmup.generate import chat_prompt_ids

    gen = TransformersGenerator(random_llm, dataclasses.replace(SAMPLING, max_prompt_length=16))
    short = [{"role": "user", "content": "the cat"}]
    long = [{"role": "user", "content": " ".join(llm_words * 10)}]
    rendered = gen.tokenizer.apply_chat_template(long, add_generation_prompt=True, tokenize=False)
    expected = len(gen.tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert chat_prompt_ids(gen.tokenizer, long) == gen.tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert gen.prompt_length(long) == expected > 100
    assert 2 < gen.prompt_length(short) < 16
    rows = [PromptRow(qid, "demo", "math", msgs, "1") for qid, msgs in (("short", short), ("long", long))]
    cache = GenerationCache(random_llm + ".cache", gen.model_path, gen.sampling)
    queries, skipped = generate_rollouts(rows, gen, cache, progress=False)
    assert skipped == ["long"] and [q.query_id for q in queries] == ["short"]


def test_greedy_with_several_rollouts_is_rejected(random_llm):
    """temperature 0 with n > 1: vLLM 0.24 and transformers both raise, so SamplingConfig does, naming the keys."""
    from transformers import AutoTokenizer

    with pytest.raises(ValueError, match=r"temperature=0.*n=4.*actor_rollout_ref\.rollout\.temperature.*ROLLOUT_N"):
        SamplingConfig(n=4, temperature=0.0)
    tok = AutoTokenizer.from_pretrained(random_llm)
    cfg = SamplingConfig(n=1, temperature=0.0).generation_config(tok)
    assert cfg.do_sample is False and cfg.num_return_sequences == 1 and cfg.top_k == 0
    # the per-request form a rollout server uses: verl's top_k=-1 is "off"; greedy with n > 1 is refused too
    assert verl_generation_config(tok, temperature=0.7, top_p=0.9, max_new_tokens=5, top_k=-1).top_k == 0
    assert verl_generation_config(tok, temperature=0.7, top_p=0.9, max_new_tokens=5, top_k=20).top_k == 20
    with pytest.raises(ValueError, match="n=2"):
        verl_generation_config(tok, temperature=0.0, top_p=1.0, max_new_tokens=5, n=2)


def test_transformers_backend_samples_like_verl_rollout(random_llm):
    """The model's generation_config (top_k=1, temperature 0.01, repetition_penalty, min_p) does not reach
    generate(): the effective config is the rollout's (top_k off, penalty 1.0, no min_p), and samples vary."""
    sampling = SamplingConfig(n=6, temperature=1.0, top_p=1.0, max_prompt_length=64, max_response_length=8, seed=0)
    gen = TransformersGenerator(random_llm, sampling)
    cfg = gen.generation_config()
    got = {k: getattr(cfg, k) for k in ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty", "min_p")}
    assert got == {
        "do_sample": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 0,
        "repetition_penalty": 1.0,
        "min_p": None,
    }
    assert cfg.typical_p == 1.0 and cfg.max_new_tokens == 8 and cfg.num_return_sequences == 6
    assert cfg.pad_token_id == gen.tokenizer.pad_token_id
    assert cfg.eos_token_id == [gen.tokenizer.eos_token_id, gen.tokenizer.pad_token_id]  # the model's stop ids kept
    texts = gen.generate([[{"role": "user", "content": "the cat sat"}]], seed=1)[0]
    assert len(texts) == 6 and len(set(texts)) > 1, texts  # top_k=1 / temperature 0.01 would give one text
    eff = gen.model.generation_config  # what generate() merged the None fields from
    assert (eff.top_k, eff.repetition_penalty, eff.min_p, eff.temperature) == (0, 1.0, None, 1.0)
