"""verl's own trainer (``python -m verl.trainer.main_ppo``) runs GRPO on CPU with MemRewardManager.

One small demo run (the main job's code path): SmolLM2-135M warm-up -> artifact -> one real GRPO
step through main_ppo on the CPU backend, the GNN rewarding the unlabelled prompts. About 3 minutes
on 2 cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("verl")
pytest.importorskip("transfer_queue")
pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from memreward_verl.demo import DemoConfig, run_demo
    from memreward_verl.demo.tiny_llm import TinyLLMError
    from memreward_verl.train.config import CPUTrainConfig
    from memreward_verl.warmup import SamplingConfig

    out = tmp_path_factory.mktemp("trainer_cpu")
    train = CPUTrainConfig(
        steps=1,
        prompts_per_step=8,
        sampling=SamplingConfig(n=4, max_prompt_length=128, max_response_length=24),
        val_every=1,
        reward_workers=1,
        timeout_s=900,
    )
    # unlabelled="keep": the GNN rewards the unlabelled prompts even where the fit serves constant
    cfg = DemoConfig(
        out_dir=str(out),
        train_prompts=16,
        val_prompts=8,
        label_ratio=0.5,
        train=train,
        progress=False,
        unlabelled="keep",
    )
    try:
        return out, run_demo(cfg)
    except TinyLLMError as exc:
        pytest.skip(str(exc))


def _reward_log(out: Path) -> list[dict]:
    lines = (out / "train" / "reward_log.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_labelled_prompts_get_the_verifier_unlabelled_the_gnn(demo_run):
    """In the real trainer's step: every labelled prompt's rollouts have source ground_truth and the
    verifier's score (re-graded from verl's own rollout dump inside run_demo), every unlabelled one's
    source predicted; both kinds occur; all 8 x 4 rollouts were rewarded."""
    out, report = demo_run
    labelled = set(json.loads((out / "artifact" / "labelled_ids.json").read_text()))
    step = report["steps"][0]
    assert step["step"] == 1 and step["rollouts"] == 32
    assert step["sources"]["ground_truth"] > 0 and step["sources"]["predicted"] > 0
    assert sum(step["sources"].values()) == 32
    train = [r for r in _reward_log(out) if not r["validation"]]
    assert len(train) == 32
    for r in train:
        if r["query_id"] in labelled:
            assert r["reward_source"] == "ground_truth"
        else:
            assert r["reward_source"] == "predicted"
            assert 0.0 <= r["pred_prob"] <= 1.0
    # validation samples were graded by the verifier, whatever their prompt
    val = [r for r in _reward_log(out) if r["validation"]]
    assert val and all(r["reward_source"] == "validation" for r in val)


def test_no_unlabelled_prompt_got_its_ground_truth(demo_run):
    """Each predicted reward is the decision of the rule the reward log says was applied (``auto`` resolved
    to the warm-up fit's choice), never the hidden verdict: threshold -> ``p >= threshold``, constant -> 0,
    the answer-cluster rules 0/1. Checked for every predicted rollout."""
    out, report = demo_run
    fit = json.loads((out / "artifact" / "metrics.json").read_text())
    chosen, threshold = fit.get("hard_rule", "threshold"), fit.get("hard_threshold", 0.5)
    predicted = [r for r in _reward_log(out) if r["reward_source"] == "predicted"]
    assert predicted
    for r in predicted:
        assert (r["hard_rule"], r["threshold"]) == (chosen, threshold)
        if r["hard_rule"] == "threshold":
            assert r["reward"] == float(r["pred_prob"] >= threshold)
        elif r["hard_rule"] == "constant":
            assert r["reward"] == 0.0
        else:
            assert r["reward"] in (0.0, 1.0)
    g = report["steps"][0]["gnn_vs_hidden_truth"]
    assert g["n"] == len(predicted) and 0.0 <= g["accuracy"] <= 1.0


def test_the_actor_trained_and_was_saved(demo_run):
    """The checkpoint verl saved after the step differs from the initial policy; validation ran before and after."""
    import torch
    from transformers import AutoModelForCausalLM

    out, report = demo_run
    assert report["checkpoint"] and Path(report["checkpoint"]).is_dir()
    before = AutoModelForCausalLM.from_pretrained(out / "model", dtype=torch.float32).state_dict()
    after = AutoModelForCausalLM.from_pretrained(report["checkpoint"], dtype=torch.float32).state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2, f"only {len(changed)} of {len(before)} tensors changed"
    assert set(report["validation_accuracy"]) == {0, 1}
    assert (out / "learning_curve.png").is_file() and (out / "report.json").is_file()
