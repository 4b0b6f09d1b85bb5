"""verl version detection, the one error for an unsupported verl, and the per-version overrides.

The overrides of the installed verl (0.9.1) are composed against its own ``ppo_trainer.yaml``, so a key
it does not know fails here; scripts/compat_matrix.sh composes every other version's in its own venv.
"""

from __future__ import annotations

import importlib.metadata
import os

import pytest

from memreward_verl.integration.verl_version import (
    UnsupportedVerlError,
    detect_verl,
    require_api,
    verl_usage,
)


@pytest.mark.parametrize(
    "version, api",
    [
        ("0.5.0", "batch"),
        ("0.6.1", "batch"),
        ("0.7.0", "batch"),
        ("0.7.1rc1", "batch"),
        ("0.7.1", "reward_loop"),
        ("0.8.0", "reward_loop"),
        ("0.9.1", "reward_loop"),
        ("0.9.2.dev0", "reward_loop"),
    ],
)
def test_api_by_version(version, api):
    """Before 0.7.1 the batch reward-manager API, from 0.7.1 the reward loop."""
    assert detect_verl(version).api == api


@pytest.mark.parametrize("version", ["0.4.1", "0.3.0", "0.10.0", "1.0.0"])
def test_unsupported_version_is_one_clear_error(version):
    """Outside [0.5, 0.10) the error names the version and the supported range."""
    with pytest.raises(UnsupportedVerlError, match=rf"verl {version} is not supported.*>=0\.5\.0,<0\.10\.0"):
        detect_verl(version)
    with pytest.raises(UnsupportedVerlError):
        verl_usage(version)


def test_installed_version_detected():
    """With no argument the installed distribution's version is read."""
    found = detect_verl()
    assert found.version == importlib.metadata.version("verl")
    assert require_api(found.api, "x") == found


def test_wrong_api_names_the_other_entry():
    """Asking for the batch API on a reward-loop verl says which entry to use instead."""
    assert detect_verl().api == "reward_loop"  # the CI's verl 0.9.1
    with pytest.raises(UnsupportedVerlError, match=r"memreward_verl\.reward_manager\.MemRewardManager"):
        require_api("batch", "SomeBatchEntry")


def test_overrides_differ_by_api():
    """Options go to reward_model.reward_kwargs before 0.7.1 and to reward.reward_kwargs from it."""
    kwargs = {"artifact_dir": "runs/a b", "grow_memory": False, "acquisition": None}
    old, v070, new = verl_usage("0.6.1", kwargs), verl_usage("0.7.0", kwargs), verl_usage("0.8.0", kwargs)
    assert "+reward_model.reward_kwargs.artifact_dir='runs/a b'" in old.overrides
    assert "+reward_model.reward_kwargs.grow_memory=false" in old.overrides
    assert "+reward.reward_kwargs.acquisition=null" in new.overrides
    assert "reward_model.use_reward_loop=false" in v070.overrides
    assert "reward_manager.module.path=pkg://memreward_verl.integration.legacy" in v070.overrides
    assert any(o.startswith("+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=") for o in old.overrides)
    assert verl_usage("0.5.0").entry == "python -m memreward_verl.integration.legacy_main"
    assert new.entry == "python -m verl.trainer.main_ppo"


def test_installed_overrides_compose_and_resolve(tmp_path):
    """The installed verl's overrides compose with its ppo_trainer.yaml, name a loadable MemRewardManager and
    carry the options into the nested options tree (lists as lists)."""
    import verl
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    from memreward_verl.integration.config import options_from_verl_config
    from memreward_verl.integration.manager import MemRewardManager

    artifact_dir = str(tmp_path / "artifact")  # options are only read here, not loaded
    kwargs = {"artifact_dir": artifact_dir, "threshold": 0.6, "val_data_sources": ["gsm8k_val", "a b"]}
    usage = verl_usage(detect_verl().version, kwargs)
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose("ppo_trainer", overrides=[*usage.overrides, f"actor_rollout_ref.model.path={tmp_path}"])
    assert resolve_reward_manager_cls(cfg) is MemRewardManager
    opts = options_from_verl_config(cfg)
    assert opts.artifact_dir == artifact_dir and opts.rule.threshold == 0.6
    assert opts.val_data_sources == ("gsm8k_val", "a b")  # a list override, not the string of one


def test_batch_api_overrides_read_by_the_batch_manager_options():
    """The batch API's options (flat ``reward_model.reward_kwargs`` keys) land in the same options tree, and
    errors name that key, the removed val_splits included."""
    from memreward_verl.integration.legacy import OPTIONS_KEY, _options

    usage = verl_usage("0.6.1", {"artifact_dir": "/a", "hard_rule": "plurality", "worker_name": "w"})
    assert usage.options_key == OPTIONS_KEY
    opts = _options({"artifact_dir": "/a", "hard_rule": "plurality", "worker_name": "w", "val_data_sources": ["v"]})
    assert (opts.rule.hard_rule, opts.worker.name, opts.val_data_sources) == ("plurality", "w", ("v",))
    with pytest.raises(ValueError, match=r"^reward_model\.reward_kwargs\.val_splits was removed: .*val_data_sources"):
        _options({"artifact_dir": "/a", "val_splits": ["test"]})


def test_legacy_registry_from_the_plugin():
    """The batch adapter's import registers ``memreward`` in verl's legacy registry (what a 0.5-0.7.0 trainer reads)."""
    from verl.workers.reward_manager import get_reward_manager_cls

    from memreward_verl.integration import legacy

    assert get_reward_manager_cls("memreward") is legacy.MemRewardBatchManager
    assert legacy.VERL == detect_verl()


@pytest.mark.parametrize("version", ["0.5.0", "0.6.1", "0.7.0", "0.7.1", "0.8.0", "0.9.1"])
def test_docs_show_the_overrides_of_every_version(version):
    """docs/compat.md shows each version's entry and manager overrides exactly as verl_usage makes them."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "compat.md").read_text()
    usage = verl_usage(version)
    assert usage.entry in text
    for override in usage.overrides:
        assert override in text, override
