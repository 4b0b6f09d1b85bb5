"""integration/config.py: reward_kwargs validation and legacy-key detection (no Ray)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from memreward_verl.integration.config import MemRewardOptions, legacy_key_messages, options_from_verl_config


def test_unknown_key_lists_valid_ones():
    """A misspelled key is an error that lists every valid key."""
    with pytest.raises(ValueError, match=r"threshhold; valid keys: .*artifact_dir.*reward_mode"):
        MemRewardOptions.from_mapping({"artifact_dir": "/a", "threshhold": 0.4})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({}, "artifact_dir is required"),
        ({"artifact_dir": "/a", "reward_mode": "median"}, "hard.*soft.*abstain"),
        ({"artifact_dir": "/a", "on_timeout": "retry"}, "partial.*neutral.*error"),
        ({"artifact_dir": "/a", "grow_memory": True}, "state_dir"),
        ({"artifact_dir": "/a", "threshold": 1.5}, "threshold"),
        ({"artifact_dir": "/a", "worker_start_timeout_s": 0}, "worker_start_timeout_s must be > 0"),
        ({"artifact_dir": "/a", "worker_num_cpus": -1}, "worker_num_cpus must be > 0"),
        ({"artifact_dir": "/a", "reward_log": " "}, "reward_log must be a file path or null"),
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
    assert opts.rule.mode == "soft"
    msgs = legacy_key_messages(cfg)
    assert any("reward_model.reward_manager" in m and "reward.reward_manager.name" in m for m in msgs)
    assert any("custom_reward_function.path" in m and "reward.custom_reward_function.path" in m for m in msgs)
    assert "reward_model.reward_manager is ignored" in caplog.text


def test_options_only_under_legacy_key_is_an_error():
    """memreward options under reward_model.reward_kwargs (dropped by verl 0.9) fail loudly."""
    cfg = OmegaConf.create({"reward": {}, "reward_model": {"reward_kwargs": {"artifact_dir": "/a"}}})
    with pytest.raises(ValueError, match=r"\+reward.reward_kwargs"):
        options_from_verl_config(cfg)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"reward_mode": "hard", "labelled_ids_file": "/l.json", "artifact_dir": "/a"}, "labelled_ids_file is only"),
        ({"reward_mode": "majority_vote", "labelled_ids_file": "/l.json", "artifact_dir": "/a"}, "give one"),
        ({"reward_mode": "majority_vote", "grow_memory": True, "state_dir": "/s"}, "grow_memory needs a memory"),
    ],
)
def test_majority_vote_option_errors(kwargs, match):
    """majority_vote: artifact_dir optional, labelled_ids_file only there and not beside an artifact."""
    with pytest.raises(ValueError, match=match):
        MemRewardOptions.from_mapping(kwargs)


def test_majority_vote_needs_no_artifact():
    """reward_mode=majority_vote starts without artifact_dir (and with or without a labelled-ids file)."""
    assert MemRewardOptions.from_mapping({"reward_mode": "majority_vote"}).artifact_dir == ""
    opts = MemRewardOptions.from_mapping({"reward_mode": "majority_vote", "labelled_ids_file": "/l.json"})
    assert opts.labelled_ids_file == "/l.json"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"acquisition": "oracle", "budget": 0.2}, r"acquisition must be null or one of \[.*care.*random.*\]"),
        ({"acquisition": "care"}, "exactly one of budget"),
        ({"acquisition": "care", "budget": 0.2, "budget_total": 10}, "exactly one of"),
        ({"acquisition": "care", "budget": 0.0}, r"budget must be > 0 and <= 1"),
        ({"acquisition": "care", "budget": 1.5}, r"budget must be > 0 and <= 1"),
        ({"acquisition": "care", "budget_total": 0}, "budget_total must be >= 1"),
        ({"acquisition": "care", "budget_total": 2.5}, "budget_total must be an integer or null"),
        ({"acquisition": "care", "budget": 0.2, "acquisition_step_groups": 0}, "acquisition_step_groups"),
        ({"acquisition": "care", "budget": 0.2, "acquisition_min_window": 0}, "acquisition_min_window"),
        ({"budget": 0.2}, "budget is set but acquisition is not"),
    ],
)
def test_acquisition_option_errors(kwargs, match):
    """Acquisition options fail at start-up naming the key; an unknown strategy lists the valid ones."""
    kwargs = {"artifact_dir": "/a", **kwargs} if kwargs.get("reward_mode") != "majority_vote" else kwargs
    with pytest.raises(ValueError, match=match):
        MemRewardOptions.from_mapping(kwargs)


def test_acquisition_options_build_the_acquirer():
    """acquisition/budget/... are the acquire section, which builds the worker's AcquirerConfig; off by default."""
    assert not MemRewardOptions.from_mapping({"artifact_dir": "/a"}).acquire.enabled
    opts = MemRewardOptions.from_mapping(
        {"artifact_dir": "/a", "acquisition": "Care", "budget": 0.25, "acquisition_seed": 7,
         "acquisition_step_groups": 64, "acquisition_min_window": 4}
    )  # fmt: skip
    cfg = opts.acquire.acquirer()
    assert opts.acquire.strategy == "care" and cfg.strategy == "care" and cfg.strategy_cfg.seed == 7
    assert (cfg.budget.fraction, cfg.budget.total, cfg.budget.step_groups, cfg.min_window) == (0.25, None, 64, 4)
    total = MemRewardOptions.from_mapping({"artifact_dir": "/a", "acquisition": "random", "budget_total": 100})
    assert (total.acquire.acquirer().budget.fraction, total.acquire.acquirer().budget.total) == (None, 100)


def test_acquisition_with_majority_vote_and_reuse_reach_the_service():
    """majority_vote accepts acquisition (the CARE paper's setting); acquisition_reuse reaches the desk."""
    from memreward_verl.service import MajorityVoteService

    opts = MemRewardOptions.from_mapping(
        {"reward_mode": "majority_vote", "acquisition": "care", "budget": 0.2, "acquisition_reuse": False}
    )
    svc = MajorityVoteService(rule=opts.rule, cfg=opts.collect, acquire=opts.acquire)
    assert svc.desk is not None and svc.desk.cfg.acquire is opts.acquire and svc.desk.cfg.acquire.reuse is False
    svc.close()
    assert MemRewardOptions.from_mapping({"artifact_dir": "/a"}).acquire.reuse
