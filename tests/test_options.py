"""serve/options.py + serve/typed.py: one typed options tree from reward_kwargs; every bad value named."""

from __future__ import annotations

import dataclasses

import pytest

from memreward_verl.reward import RewardRule
from memreward_verl.serve.options import FLAT_KEYS, MemRewardOptions


def _opts(**kwargs):
    return MemRewardOptions.from_mapping({"artifact_dir": "/a", **kwargs})


@pytest.mark.parametrize(
    "kwargs,match",
    [
        # the tries of issue 13, each with the key, the value and what is allowed
        ({"val_data_sources": "test"}, r"val_data_sources must be a list of strings .*got 'test' of type str"),
        ({"val_splits": ["test"]}, r"val_splits was removed: validation is what verl marks.*val_data_sources"),
        ({"group_size": 4.5}, r"group_size must be an integer or null \(got 4.5 of type float\)"),
        ({"threshold": "0.6"}, r"threshold must be a finite number \(not text\) \(got '0.6' of type str\)"),
        ({"log_hidden_gt": "false"}, r"log_hidden_gt must be true or false \(not text\) \(got 'false'"),
        ({"worker_num_cpus": 0}, r"worker_num_cpus must be > 0 \(got 0.0\)"),
        ({"retry_backoff_s": -5}, r"retry_backoff_s must be >= 0 \(got -5.0\)"),
        ({"artifact_dir": 5}, r"artifact_dir must be a string \(got 5 of type int\)"),
        # and their neighbours
        ({"group_size": 0}, r"group_size must be >= 1 \(got 0\)"),
        ({"group_size": True}, r"group_size must be an integer"),
        ({"threshold": float("nan")}, r"threshold must be a finite number"),
        ({"grow_memory": 1}, r"grow_memory must be true or false"),
        ({"worker_name": ""}, r"worker_name must be a non-empty string"),
        ({"embed_batch_size": 0}, r"embed_batch_size must be >= 1"),
        ({"val_data_sources": ["a", 3]}, r"val_data_sources must be a list of strings"),
        ({"state_dir": 7}, r"state_dir must be a string or null"),
        ({"rule": {"thresh": 0.5}}, r"unknown reward.reward_kwargs.rule.thresh; valid keys"),
    ],
)
def test_each_bad_value_names_key_value_and_allowed(kwargs, match):
    """Every key is typed and range-checked where it enters; the error starts with reward.reward_kwargs.<key>."""
    with pytest.raises(ValueError, match=match) as info:
        _opts(**kwargs)
    assert str(info.value).startswith(("reward.reward_kwargs.", "unknown reward.reward_kwargs."))


def test_good_values_are_normalised_once():
    """Integers are accepted for numbers, lists become tuples; nothing is parsed from text."""
    opts = _opts(threshold=1 - 0.4, worker_num_cpus=2, val_data_sources=["gsm8k_test"], group_size=8)
    assert opts.rule.threshold == 0.6 and opts.worker.num_cpus == 2.0 and isinstance(opts.worker.num_cpus, float)
    assert opts.val_data_sources == ("gsm8k_test",) and opts.collect.group_size == 8


def test_flat_keys_and_sections_build_the_same_tree():
    """A flat key and its section spelling give the same options; to_dict travels to the worker and back."""
    flat = _opts(reward_mode="soft", threshold=0.7, group_timeout_s=5, worker_name="w", acquisition_seed=3)
    nested = MemRewardOptions.from_mapping(
        {"artifact_dir": "/a", "rule": {"mode": "soft", "threshold": 0.7}, "collect": {"group_timeout_s": 5},
         "worker": {"worker_name": "w"}, "acquire": {"seed": 3}}
    )  # fmt: skip
    assert flat == nested
    assert MemRewardOptions.from_mapping(flat.to_dict()) == flat


def test_the_tree_is_the_parts_configs_not_copies():
    """The rule section IS the RewardRule the services use; every flat key maps to exactly one field."""
    opts = _opts(reward_mode="abstain", abstain_band=0.2)
    assert isinstance(opts.rule, RewardRule) and opts.rule == RewardRule("abstain", abstain_band=0.2)
    fields = [(sec, name) for sec, name in FLAT_KEYS.values()]
    assert len(fields) == len(set(fields)) == len(FLAT_KEYS)
    for section in ("rule", "collect", "acquire", "worker"):
        n = len(dataclasses.fields(getattr(opts, section)))
        assert sum(1 for sec, _ in fields if sec == section) == n


def test_shared_items_leave_out_client_settings():
    """Managers may differ in retries and timeouts and still share one worker; not in the rule."""
    a, b = _opts(request_retries=1, worker_start_timeout_s=9), _opts(request_retries=5)
    assert a.shared_items() == b.shared_items()
    assert _opts(threshold=0.6).shared_items() != a.shared_items()


def test_reward_rule_alone_is_typed_too():
    """RewardRule built in code is checked the same way (offline evaluation builds one)."""
    with pytest.raises(ValueError, match=r"threshold must be a finite number"):
        RewardRule("hard", threshold="0.5")
