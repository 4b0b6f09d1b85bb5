"""memreward warmup with the real packaged tiny LLM (SmolLM2-135M) on CPU: artifact, resume, errors."""

from __future__ import annotations

import copy
import dataclasses
import json

import pandas as pd
import pytest

from memreward_verl.artifact import load_artifact
from memreward_verl.config import MemRewardConfig
from memreward_verl.demo.tasks import arithmetic_tasks
from memreward_verl.rollouts import read_rollouts
from memreward_verl.verify import verify
from memreward_verl.warmup import SamplingConfig, TransformersGenerator, WarmupConfig, run_warmup
from memreward_verl.warmup.cache import CacheMismatchError, GenerationCache
from memreward_verl.warmup.generate import ModelLoadError
from memreward_verl.warmup.pipeline import choose_labelled_rows, generate_rollouts
from memreward_verl.warmup.prompts import read_prompt_rows

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
