"""The offline CPU demo end to end, small: real tiny LLM, warm-up, verl's RewardLoopManager + Ray."""

from __future__ import annotations

import json

import pytest

from memreward_verl.warmup import SamplingConfig

pytest.importorskip("ray")
pytest.importorskip("verl")
pytest.importorskip("gguf")


def _small(out):
    """2 labelled + 2 unlabelled training prompts and 2 unseen ones in the step, n=4, 12 new tokens."""
    from memreward_verl.demo import DemoConfig

    return DemoConfig(
        out_dir=str(out),
        train_prompts=16,
        label_ratio=0.5,
        step_train_prompts=4,
        step_new_prompts=2,
        sampling=SamplingConfig(n=4, max_prompt_length=128, max_response_length=12),
        batch_prompts=8,
        progress=False,
    )


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    from memreward_verl.demo import run_demo
    from memreward_verl.demo.tiny_llm import TinyLLMError

    out = tmp_path_factory.mktemp("demo")
    cfg = _small(out)
    try:
        return out, run_demo(cfg)
    except TinyLLMError as exc:
        pytest.skip(str(exc))


def test_rewards_come_from_the_right_source(demo_report):
    """2 labelled step prompts get the verifier, 2 unlabelled + 2 unseen prompts the GNN (n=4 each)."""
    out, report = demo_report
    assert report["step"]["rollouts"] == 24
    assert report["step"]["reward_sources"] == {"ground_truth": 8, "predicted": 16}
    saved = json.loads((out / "report.json").read_text())
    assert saved["step"]["reward_sources"] == report["step"]["reward_sources"]
    assert (out / "demo.png").is_file()
    assert (out / "artifact" / "artifact.json").is_file()


def test_rerun_is_cached(demo_report):
    """A rerun reuses the generations: no generation time, same step rewards."""
    from memreward_verl.demo import run_demo

    out, first = demo_report
    cfg = _small(out)
    again = run_demo(cfg)
    assert again["times_s"]["warmup_generation"] < 1.0 and again["times_s"]["step_generation"] < 1.0
    assert again["step"]["reward_sources"] == first["step"]["reward_sources"]
    assert again["step"]["policy_accuracy"] == first["step"]["policy_accuracy"]


def test_rerun_with_acquisition_buys_within_budget(demo_report):
    """--acquisition uncertainty --budget 0.5 on the cached step: 2 of its 4 unlabelled groups are bought
    (8 rollouts, the verifier's rewards, checked inside run_demo); the labelled ones keep ground truth."""
    import dataclasses

    from memreward_verl.demo import run_demo

    out, first = demo_report
    cfg = dataclasses.replace(_small(out), acquisition="uncertainty", budget=0.5)
    report = run_demo(cfg)
    acq = report["step"]["acquisition"]
    assert (acq["groups_offered"], acq["groups_bought"]) == (4, 2)
    assert report["step"]["reward_sources"] == {"acquired": 8, "ground_truth": 8, "predicted": 8}
    assert len(acq["real_cag_bought"]) == 2 and all(c >= 0 for c in acq["real_cag_bought"])
    assert report["step"]["policy_accuracy"] == first["step"]["policy_accuracy"]
