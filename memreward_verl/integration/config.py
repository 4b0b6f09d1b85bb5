"""The memreward options a verl user sets under ``reward.reward_kwargs``, typed and checked at start-up.

verl hands every reward manager the whole job ``DictConfig``; this module reads the memreward
section once into :class:`MemRewardOptions` (unknown keys are an error listing the valid ones) and
reports legacy keys that verl 0.9 parses but ignores, naming the 0.9 key to use instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memreward_verl.reward import HARD_RULES, REWARD_MODES

__all__ = ["MemRewardOptions", "ON_TIMEOUT", "legacy_key_messages", "options_from_verl_config"]

logger = logging.getLogger(__name__)

ON_TIMEOUT = ("partial", "neutral", "error")

# verl 0.9 key paths that older recipes used; ``migrate_legacy_reward_impl`` is not called by main_ppo.
_LEGACY_KEYS = {
    ("reward_model", "reward_manager"): "reward.reward_manager.name",
    ("reward_model", "reward_kwargs"): "+reward.reward_kwargs.<key>",
    ("reward_model", "reward_loop_source"): "reward.reward_manager.source",
    ("reward_model", "reward_loop_module_path"): "reward.reward_manager.module.path",
    ("reward_model", "reward_loop_class_name"): "reward.reward_manager.name",
    ("reward_model", "num_workers"): "reward.num_workers",
    ("custom_reward_function", "path"): "reward.custom_reward_function.path",
    ("custom_reward_function", "name"): "reward.custom_reward_function.name",
}


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass
class MemRewardOptions:
    """Everything under ``reward.reward_kwargs`` (see docs/verl_integration.md for the table)."""

    # Warm-up artifact directory (memreward_verl.artifact); required except with reward_mode=majority_vote.
    artifact_dir: str = ""
    # "hard": 0/1; "soft": the probability; "abstain": hard, but a group whose probabilities all sit in
    # the uncertainty band gets one constant reward (zero GRPO advantage); "majority_vote": 1 when the
    # rollout's answer is its group's plurality answer (TTRL-style, no memory or GNN).
    reward_mode: str = "hard"
    # majority_vote without an artifact: JSON file whose "query_ids" are the labelled prompts
    # (as `memreward prepare` writes it). Neither: every training prompt is pseudo-labelled.
    labelled_ids_file: str | None = None
    # Hard rule: "threshold" (p >= threshold, as in the paper) or "expected_cag" (decision.py).
    hard_rule: str = "threshold"
    threshold: float = 0.5
    # Half-width of the uncertainty band around ``threshold`` used by reward_mode=abstain.
    abstain_band: float = 0.15
    # The constant reward of an abstained group; any constant gives zero advantage.
    abstain_reward: float = 0.0
    # Rollouts per uid; None = actor_rollout_ref.rollout.n of the job.
    group_size: int | None = None
    # A group still incomplete this long after its first rollout arrived is closed (failed sessions never arrive).
    group_timeout_s: float = 300.0
    # What an incomplete group gets: "partial" scores what arrived, "neutral" gives every arrived rollout
    # ``abstain_reward`` (zero advantage), "error" fails the samples.
    on_timeout: str = "partial"
    # Verify unlabelled rollouts whose data still carry a ground truth and log it as ``hidden_gt`` (never a reward).
    log_hidden_gt: bool = True
    # extra_info key holding the artifact's query id; samples without it are treated as unlabelled.
    query_id_key: str = "query_id"
    # extra_info.split values that mark validation samples (they always get the verifier).
    val_splits: tuple[str, ...] = ("test", "val", "valid", "validation")
    # Add verified rollouts of labelled prompts to the memory; refit the GNN every ``refit_every`` new groups.
    grow_memory: bool = False
    refit_every: int = 0
    # Where the grown memory is saved (required with grow_memory) so a restarted worker resumes from it.
    state_dir: str | None = None
    # JSON Lines file the memory worker appends one record per rewarded rollout to: step, query id, uid,
    # reward source, reward, predicted probability and hidden_gt (the verifier's verdict on an unlabelled
    # rollout: derived from ground truth, for auditing only, never a reward). None: no log.
    reward_log: str | None = None
    # The shared graph-memory worker (one named Ray actor per job).
    worker_name: str = "memreward_worker"
    worker_num_cpus: float = 1.0
    worker_max_restarts: int = 3
    worker_max_concurrency: int = 4096
    # Most texts per embedder forward pass in the worker (only texts of similar length share one).
    embed_batch_size: int = 4
    # A call to the worker that fails because the worker died is retried this many times.
    request_retries: int = 3
    retry_backoff_s: float = 2.0
    # Before a retry, wait this long at most for the restarted worker (it reloads the artifact).
    worker_restart_timeout_s: float = 180.0
    # A reward worker's blocking calls to the memory worker (its start-up "describe": Ray scheduling the
    # worker + loading the artifact) fail after this long, naming the worker and its resources.
    worker_start_timeout_s: float = 300.0
    # Online label acquisition (memreward_verl.acquisition): None = off, else a strategy name
    # (random, uncertainty, care, hybrid, ...). Bought groups get their verifier rewards and join the memory
    # (reward_mode=majority_vote: no memory; bought groups get their rewards, as in the CARE paper).
    acquisition: str | None = None
    # The budget: a fraction of the offered groups of each training step, in (0, 1], or labels in total.
    budget: float | None = None
    budget_total: int | None = None
    # Seed of the strategy (random draws, Monte-Carlo CAG): same seed and arrival order, same choices.
    acquisition_seed: int = 0
    # Declared offered groups per step: the step's quota floor(budget * this) is usable from its first
    # group; without global_steps in the samples, also where a new step starts. None = strict pace.
    acquisition_step_groups: int | None = None
    # Before this many groups were scored, buy whenever the budget allows (OnlineAcquirer.min_window).
    acquisition_min_window: int = 8
    # A prompt bought once gets the oracle's rewards in later steps and epochs, free of budget (false: every
    # group is offered again, for oracles that charge per graded group). See acquisition/desk.py.
    acquisition_reuse: bool = True
    # care/hybrid first learn from the artifact's validation groups (labels paid before training, never
    # fitted on), predicted with their labels hidden; false: from bought groups only.
    acquisition_warm_start: bool = True

    def __post_init__(self) -> None:
        self.val_splits = tuple(str(s) for s in self.val_splits)
        self.artifact_dir = self.artifact_dir or ""
        _check(
            self.reward_mode in REWARD_MODES,
            f"reward.reward_kwargs.reward_mode must be one of {list(REWARD_MODES)} (got {self.reward_mode!r})",
        )
        vote = self.reward_mode == "majority_vote"
        _check(
            bool(self.artifact_dir) or vote,
            "reward.reward_kwargs.artifact_dir is required (the warm-up artifact directory) "
            "unless reward.reward_kwargs.reward_mode=majority_vote",
        )
        _check(
            self.labelled_ids_file is None or vote,
            "reward.reward_kwargs.labelled_ids_file is only used with reward_mode=majority_vote "
            "(the other modes take the labelled prompts from artifact_dir)",
        )
        _check(
            not (self.labelled_ids_file and self.artifact_dir),
            "reward.reward_kwargs.labelled_ids_file and artifact_dir both name the labelled prompts; give one",
        )
        _check(
            not (vote and self.grow_memory),
            "reward.reward_kwargs.grow_memory needs a memory; reward_mode=majority_vote has none",
        )
        _check(
            self.hard_rule in HARD_RULES,
            f"reward.reward_kwargs.hard_rule must be one of {list(HARD_RULES)} (got {self.hard_rule!r})",
        )
        _check(
            self.on_timeout in ON_TIMEOUT,
            f"reward.reward_kwargs.on_timeout must be one of {list(ON_TIMEOUT)} (got {self.on_timeout!r})",
        )
        _check(0.0 < self.threshold < 1.0, f"reward.reward_kwargs.threshold must be in (0, 1) (got {self.threshold})")
        _check(
            0.0 <= self.abstain_band < 0.5,
            f"reward.reward_kwargs.abstain_band must be in [0, 0.5) (got {self.abstain_band})",
        )
        _check(
            self.group_timeout_s > 0, f"reward.reward_kwargs.group_timeout_s must be > 0 (got {self.group_timeout_s})"
        )
        _check(
            self.group_size is None or self.group_size >= 1,
            f"reward.reward_kwargs.group_size must be >= 1 or null (got {self.group_size})",
        )
        _check(self.refit_every >= 0, f"reward.reward_kwargs.refit_every must be >= 0 (got {self.refit_every})")
        _check(
            not self.grow_memory or bool(self.state_dir),
            "reward.reward_kwargs.state_dir is required when grow_memory is true (the grown memory is saved there)",
        )
        self._check_acquisition()
        _check(
            self.reward_log is None or (isinstance(self.reward_log, str) and self.reward_log.strip() != ""),
            f"reward.reward_kwargs.reward_log must be a file path or null (got {self.reward_log!r})",
        )
        for name in ("worker_start_timeout_s", "worker_restart_timeout_s"):
            _check(getattr(self, name) > 0, f"reward.reward_kwargs.{name} must be > 0 (got {getattr(self, name)})")
        for name in ("worker_max_restarts", "request_retries", "worker_num_cpus"):
            _check(getattr(self, name) >= 0, f"reward.reward_kwargs.{name} must be >= 0 (got {getattr(self, name)})")
        for name in ("worker_max_concurrency", "embed_batch_size"):
            _check(getattr(self, name) >= 1, f"reward.reward_kwargs.{name} must be >= 1 (got {getattr(self, name)})")

    def _check_acquisition(self) -> None:
        from memreward_verl.acquisition.strategies import STRATEGIES

        key = "reward.reward_kwargs."
        if self.acquisition is None:
            for name in ("budget", "budget_total", "acquisition_step_groups"):
                _check(
                    getattr(self, name) is None,
                    f"{key}{name} is set but {key}acquisition is not (null); set acquisition=<strategy> "
                    f"with one of {STRATEGIES.names()}",
                )
            return
        _check(
            isinstance(self.acquisition, str) and self.acquisition in STRATEGIES,
            f"{key}acquisition must be null or one of {STRATEGIES.names()} (got {self.acquisition!r})",
        )
        self.acquisition = _norm(self.acquisition)  # the registered spelling
        _check(
            (self.budget is None) != (self.budget_total is None),
            f"{key}acquisition={self.acquisition} needs exactly one of {key}budget (fraction of each step's "
            f"groups, in (0, 1]) and {key}budget_total (labels in total) (got budget={self.budget}, "
            f"budget_total={self.budget_total})",
        )
        if self.budget is not None:
            _check(0.0 < self.budget <= 1.0, f"{key}budget must be in (0, 1] (got {self.budget})")
        if self.budget_total is not None:
            _check(
                isinstance(self.budget_total, int) and self.budget_total >= 1,
                f"{key}budget_total must be an integer >= 1 (got {self.budget_total!r})",
            )
        _check(
            self.acquisition_step_groups is None or self.acquisition_step_groups >= 1,
            f"{key}acquisition_step_groups must be >= 1 or null (got {self.acquisition_step_groups})",
        )
        _check(
            self.acquisition_min_window >= 1,
            f"{key}acquisition_min_window must be >= 1 (got {self.acquisition_min_window})",
        )

    @classmethod
    def from_mapping(cls, kwargs: Mapping[str, Any]) -> MemRewardOptions:
        """Build from a plain mapping.

        Raises:
            ValueError: for an unknown key (listing the valid ones) or a bad value.
        """
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(valid))
        if unknown:
            raise ValueError(f"unknown reward.reward_kwargs key(s) {unknown}; valid keys: {valid}")
        return cls(**dict(kwargs))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _get(config: Any, path: tuple[str, ...]) -> Any:
    node = config
    for key in path:
        if node is None:
            return None
        try:
            node = node.get(key) if hasattr(node, "get") else None
        except Exception:  # omegaconf raises on missing keys in struct mode for some node types
            return None
    return node


def legacy_key_messages(config: Any) -> list[str]:
    """One message per legacy key that is set (verl 0.9 parses these but its trainer ignores them)."""
    out = []
    for path, new in _LEGACY_KEYS.items():
        value = _get(config, path)
        if value is None or (hasattr(value, "__len__") and not isinstance(value, str) and len(value) == 0):
            continue
        out.append(f"{'.'.join(path)} is ignored by verl 0.9; use {new} instead")
    return out


def options_from_verl_config(config: Any) -> MemRewardOptions:
    """Read ``reward.reward_kwargs`` of a verl job config into :class:`MemRewardOptions`.

    Legacy keys are logged at WARNING; memreward options left under the legacy
    ``reward_model.reward_kwargs`` (where verl 0.9 would drop them silently) are an error.

    Raises:
        ValueError: unknown or bad options, or options only under the legacy key.
    """
    from omegaconf import OmegaConf

    def plain(node: Any) -> dict[str, Any]:
        if node is None:
            return {}
        return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)

    current = plain(_get(config, ("reward", "reward_kwargs")))
    legacy = plain(_get(config, ("reward_model", "reward_kwargs")))
    if not current and legacy:
        raise ValueError(
            f"memreward options were given as reward_model.reward_kwargs ({sorted(legacy)}), which verl 0.9 ignores; "
            "pass them as +reward.reward_kwargs.<key>=<value>"
        )
    for msg in legacy_key_messages(config):
        logger.warning(msg)
    return MemRewardOptions.from_mapping(current)
