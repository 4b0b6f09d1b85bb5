"""integration/config.py: reward_kwargs validation and legacy-key detection (no Ray)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from memreward_verl.integration.config import MemRewardOptions, legacy_key_messages, options_from_verl_config


def test_unknown_key_lists_valid_ones():
    """A misspelled key is an error that lists every valid key."""
    with pytest.raises(ValueError, match=r"\['threshhold'\].*artifact_dir.*reward_mode"):
        MemRewardOptions.from_mapping({"artifact_dir": "/a", "threshhold": 0.4})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({}, "artifact_dir is required"),
        ({"artifact_dir": "/a", "reward_mode": "median"}, "hard.*soft.*abstain"),
        ({"artifact_dir": "/a", "on_timeout": "retry"}, "partial.*neutral.*error"),
        ({"artifact_dir": "/a", "grow_memory": True}, "state_dir"),
        ({"artifact_dir": "/a", "threshold": 1.5}, "threshold"),
    ],
)
def test_bad_values_name_the_key(kwargs, match):
    """Bad values fail at start-up naming the key and the choices."""
    with pytest.raises(ValueError, match=match):
        MemRewardOptions.from_mapping(kwargs)


def test_reads_reward_kwargs_and_reports_legacy(caplog):
    """Options come from reward.reward_kwargs; legacy keys are reported with their 0.9 name."""
    cfg = OmegaConf.create(
        {
            "reward": {"reward_kwargs": {"artifact_dir": "/a", "reward_mode": "soft"}},
            "reward_model": {"reward_manager": "memreward", "reward_kwargs": None},
            "custom_reward_function": {"path": "/x.py", "name": None},
        }
    )
    with caplog.at_level("WARNING"):
        opts = options_from_verl_config(cfg)
    assert opts.reward_mode == "soft"
    msgs = legacy_key_messages(cfg)
    assert any("reward_model.reward_manager" in m and "reward.reward_manager.name" in m for m in msgs)
    assert any("custom_reward_function.path" in m and "reward.custom_reward_function.path" in m for m in msgs)
    assert "reward_model.reward_manager is ignored" in caplog.text


def test_options_only_under_legacy_key_is_an_error():
    """memreward options under reward_model.reward_kwargs (dropped by verl 0.9) fail loudly."""
    cfg = OmegaConf.create({"reward": {}, "reward_model": {"reward_kwargs": {"artifact_dir": "/a"}}})
    with pytest.raises(ValueError, match=r"\+reward.reward_kwargs"):
        options_from_verl_config(cfg)
