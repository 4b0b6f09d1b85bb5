"""The CPU trainer backend's parts, without Ray: platform, version gate, engine registration, rollout server."""

from __future__ import annotations

import asyncio

import pytest
import torch

pytest.importorskip("verl")


@pytest.fixture(scope="module")
def tiny_model(random_llm):
    """The shared tiny random Llama (conftest); its generation_config sets top_k=1, temperature 0.01,
    repetition_penalty and min_p, none of which the rollout may apply."""
    from transformers import AutoTokenizer

    return random_llm, AutoTokenizer.from_pretrained(random_llm)


def _rollout_config(**kw):
    from omegaconf import OmegaConf

    base = {"response_length": 8, "seed": 7, "max_num_seqs": 64, "engine_kwargs": {"cpu": {"threads": 1}}}
    return OmegaConf.create({**base, **kw})


def test_platform_is_registered_and_answers_verls_device_calls():
    """verl's registry knows 'cpu'; the device module answers torch.cuda-style calls for the host."""
    from verl.plugin.platform.platform_manager import PlatformRegistry

    from memreward_verl.cpu.platform import CPUPlatform, cpu_device

    assert PlatformRegistry.get("cpu") is CPUPlatform
    p = CPUPlatform()
    assert (p.device_name, p.communication_backend_name(), p.ray_resource_name()) == ("cpu", "gloo", "GPU")
    assert torch.ones(2).to(p.current_device()).device.type == "cpu"  # an int would mean cuda:<n>
    assert cpu_device.memory_allocated() == 0 and cpu_device.get_device_name() == "cpu"
    free, total = cpu_device.mem_get_info()
    assert 0 < free <= total
    with pytest.raises(AttributeError, match="no 'not_a_torch_call'"):
        cpu_device.not_a_torch_call  # noqa: B018


def test_auto_detection_claims_only_accelerator_free_torch(monkeypatch):
    """On this CPU build the platform is detected; a CUDA build of torch is left to verl's GPU platforms."""
    from memreward_verl.cpu.platform import CPUPlatform

    assert CPUPlatform().is_platform_available(use_smi_check=True) is (torch.version.cuda is None)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    assert CPUPlatform().is_platform_available(use_smi_check=True) is False


def test_unsupported_verl_is_a_clear_error():
    from memreward_verl.cpu.support import UnsupportedVerlError, check_verl_version

    assert check_verl_version("0.9.1") == "0.9.1"
    with pytest.raises(UnsupportedVerlError, match=r"supports verl 0\.9\.x; verl 0\.7\.1 is installed"):
        check_verl_version("0.7.1")
    with pytest.raises(UnsupportedVerlError):
        check_verl_version("0.10.0")


def test_unsupported_verl_stops_a_cpu_run_at_start_up_with_the_reason(caplog):
    """With an unsupported verl the plugin logs why at ERROR and rollout.name=cpu raises that reason."""
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from memreward_verl.cpu import plugin
    from memreward_verl.cpu.rollout import CPURolloutReplica

    try:
        with caplog.at_level("ERROR"):
            plugin.load("0.8.0")
        assert "CPU backend not installed" in caplog.text
        with pytest.raises(RuntimeError, match=r"rollout.name='cpu' is unavailable: .*verl 0\.8\.0 is installed"):
            RolloutReplicaRegistry.get("cpu")
    finally:
        plugin.load()
    assert RolloutReplicaRegistry.get("cpu") is CPURolloutReplica


def test_plugin_registered_engine_and_rollout():
    """The entry point installed the CPU FSDP engines and rollout name in this (verl-importing) process."""
    import verl  # noqa: F401  (loads the verl.plugins entry points)
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from memreward_verl.cpu.engine import CPUFSDPEngineWithLMHead
    from memreward_verl.cpu.rollout import CPURolloutReplica

    if torch.version.cuda is None:
        assert EngineRegistry._engines["language_model"]["fsdp2"]["cpu"] is CPUFSDPEngineWithLMHead
    assert RolloutReplicaRegistry.get("cpu") is CPURolloutReplica
    assert _ROLLOUT_REGISTRY[("cpu", "async")] == "memreward_verl.cpu.rollout.CPURolloutAdapter"


def test_fsdp1_is_refused_with_the_setting_to_change():
    from types import SimpleNamespace

    from memreward_verl.cpu.engine import CPUFSDPEngineWithLMHead

    fake = SimpleNamespace(engine_config=SimpleNamespace(strategy="fsdp"))
    with pytest.raises(ValueError, match="actor_rollout_ref.actor.strategy=fsdp2"):
        CPUFSDPEngineWithLMHead._build_fsdp_module(fake, torch.nn.Linear(2, 2))


def _generate_many(server, prompts, params):
    async def go():
        return await asyncio.gather(*[server.generate(p, params, request_id=str(i)) for i, p in enumerate(prompts)])

    return asyncio.run(go())


def test_server_batches_pending_requests(tiny_model, llm_words):
    """12 concurrent requests with one sampling setting run as ONE generate call; each output is at most
    response_length tokens, stops at eos, and is tagged with the trainer step."""
    from memreward_verl.cpu.rollout import CPURolloutServer

    path, tok = tiny_model
    server = CPURolloutServer(_rollout_config(), path)
    assert asyncio.run(server.load_weights(server.model.state_dict(), global_steps=3)) == 1
    prompts = [tok.encode(" ".join(llm_words[: 3 + i])) for i in range(12)]
    outs = _generate_many(server, prompts, {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "logprobs": True})
    assert server.stats()["batches"] == 1
    for o in outs:
        assert 1 <= len(o.token_ids) <= 8
        assert tok.eos_token_id not in o.token_ids[:-1]
        assert len(o.log_probs) == len(o.token_ids) and all(lp <= 0 for lp in o.log_probs)
        assert o.extra_fields["global_steps"] == 3


def test_server_samples_as_asked_not_with_model_defaults(tiny_model):
    """The model's generation_config (top_k=20, repetition_penalty=1.3, min_p=0.2) is not applied:
    the warpers transformers builds are exactly those of the request."""
    from memreward_verl.cpu.rollout import CPURolloutServer

    path, tok = tiny_model
    server = CPURolloutServer(_rollout_config(), path)
    _generate_many(server, [tok.encode("the cat sat")], {"temperature": 0.7, "top_p": 0.9, "top_k": -1})
    gen_cfg, _ = server.model._prepare_generation_config(None)
    processors = server.model._get_logits_processor(
        generation_config=gen_cfg,
        input_ids_seq_length=3,
        encoder_input_ids=torch.zeros(1, 3, dtype=torch.long),
        prefix_allowed_tokens_fn=None,
        logits_processor=None,
    )
    assert sorted(type(p).__name__ for p in processors) == ["TemperatureLogitsWarper", "TopPLogitsWarper"]
    assert (gen_cfg.top_k, gen_cfg.repetition_penalty, gen_cfg.min_p) == (0, 1.0, None)


def test_server_rejects_what_it_cannot_honour(tiny_model):
    from memreward_verl.cpu.rollout import CPURolloutServer

    path, _ = tiny_model
    server = CPURolloutServer(_rollout_config(), path)
    with pytest.raises(ValueError, match=r"unsupported sampling parameters \['min_p'\]"):
        _generate_many(server, [[5, 6]], {"temperature": 1.0, "min_p": 0.1})
    with pytest.raises(ValueError, match="only text"):
        asyncio.run(server.generate([5, 6], {}, request_id="x", image_data=["img"]))
    with pytest.raises(RuntimeError, match="trainer_mode=sync"):  # async trainers swap weights mid-generation
        asyncio.run(server.abort_all_requests())
    with pytest.raises(ValueError, match=r"engine_kwargs.cpu: unknown keys \['batch'\]"):
        CPURolloutServer(_rollout_config(engine_kwargs={"cpu": {"batch": 4}}), path)


def test_new_weights_change_what_the_server_samples(tiny_model):
    """load_weights installs the actor's weights (the step's policy): greedy outputs follow them."""
    from memreward_verl.cpu.rollout import CPURolloutServer

    path, tok = tiny_model
    server = CPURolloutServer(_rollout_config(), path)
    prompt = tok.encode("the red house")
    greedy = {"temperature": 0, "top_p": 1.0, "top_k": -1}
    before = _generate_many(server, [prompt], greedy)[0].token_ids
    state = {k: v.clone() for k, v in server.model.state_dict().items()}
    target = before[0]
    state["lm_head.weight"][:] = 0
    state["lm_head.weight"][(target + 1) % len(tok)] = 1.0  # every position now prefers another token
    assert asyncio.run(server.load_weights(state, global_steps=5)) == 1
    after = _generate_many(server, [prompt], greedy)[0]
    assert after.token_ids[0] != target and after.extra_fields["global_steps"] == 5
    with pytest.raises(KeyError, match="lacks"):
        asyncio.run(server.load_weights({"not.a.weight": torch.zeros(1)}))
