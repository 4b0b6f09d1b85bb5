"""ONE options tree for the online reward path, built once from verl's ``reward.reward_kwargs``.

A job's options are a root (artifact, routing, logging) with four sections, each the config of the
part that uses it, so nothing is copied between config classes:

- ``rule``: :class:`memreward_verl.reward.RewardRule` (probabilities -> rewards);
- ``collect``: :class:`CollectOptions` (grouping by uid, timeouts, embedding, memory growth);
- ``acquire``: :class:`AcquireOptions` (online label acquisition; off when ``strategy`` is None);
- ``worker``: :class:`WorkerOptions` (the shared Ray actor and the managers' calls to it).

Users write flat keys (``+reward.reward_kwargs.threshold=0.6``); :meth:`MemRewardOptions.from_mapping`
routes each to its section by the field's key (:data:`FLAT_KEYS`), or takes a whole section as a
mapping (``rule: {threshold: 0.6}``). Every value is typed and range-checked where it enters
(serve/typed.py); errors name the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memreward_verl.reward import RewardRule
from memreward_verl.serve.typed import OptionError, check_options, option, option_key

__all__ = [
    "ON_TIMEOUT",
    "CollectOptions",
    "AcquireOptions",
    "WorkerOptions",
    "MemRewardOptions",
    "FLAT_KEYS",
    "PREFIX",
]

ON_TIMEOUT = ("partial", "neutral", "error")
PREFIX = "reward.reward_kwargs."
# Keys an older memreward read, with why they are gone (a plain "unknown key" would hide the reason).
_REMOVED = {
    "val_splits": "validation is what verl marks as validation (meta_info['validate']) or a data source listed in "
    "val_data_sources, never a training row's extra_info.split (a test-set parquet used for training would hand "
    "every prompt its ground truth); set val_data_sources=[<validation-only data_source>, ...] instead",
}


@dataclass
class CollectOptions:
    """How the memory worker collects the rollouts of a uid, embeds them and grows its memory."""

    # Rollouts per uid; None = actor_rollout_ref.rollout.n of the job.
    group_size: int | None = option(None, ge=1)
    # A group still incomplete this long after its first rollout arrived is closed (failed sessions never arrive).
    group_timeout_s: float = option(300.0, gt=0)
    # What an incomplete group gets: "partial" scores what arrived, "neutral" the rule's abstain_reward, "error" fails.
    on_timeout: str = option("partial", choices=ON_TIMEOUT)
    # Most texts per embedder forward pass (only texts of similar length share one; see embed.py).
    embed_batch_size: int = option(4, ge=1)
    # Add verified rollouts of labelled prompts to the memory; refit the GNN every ``refit_every`` new groups.
    grow_memory: bool = option(False)
    refit_every: int = option(0, ge=0)
    # Where the grown memory is saved (required with grow_memory) so a restarted worker resumes from it.
    state_dir: str | None = option(None)
    # Closed uids remembered to recognise stragglers.
    max_closed_uids: int = option(100_000, ge=1)
    # Embeddings of recent texts kept for reuse (384 floats each: 20k texts take 31 MB).
    max_cached_texts: int = option(20_000, ge=1)
    # Most queued texts handed to the embedder in one turn of the worker thread.
    embed_chunk: int = option(64, ge=1)

    def __post_init__(self) -> None:
        check_options(self)
        if self.grow_memory and not self.state_dir:
            raise OptionError("state_dir is required when grow_memory is true (the grown memory is saved there)")


@dataclass
class AcquireOptions:
    """Online label acquisition (memreward_verl.acquisition); ``strategy=None`` is off."""

    # None = off, else a strategy name (random, uncertainty, care, hybrid, ...).
    strategy: str | None = option(None, key="acquisition")
    # The budget: a fraction of each step's offered groups, in (0, 1], or labels in total.
    budget: float | None = option(None, gt=0.0, le=1.0)
    budget_total: int | None = option(None, ge=1)
    # Seed of the strategy: same seed and arrival order, same choices.
    seed: int = option(0, key="acquisition_seed")
    # Declared offered groups per step (the step's quota is usable from its first group); None = strict pace.
    step_groups: int | None = option(None, key="acquisition_step_groups", ge=1)
    # Before this many groups were scored, buy whenever the budget allows.
    min_window: int = option(8, key="acquisition_min_window", ge=1)
    # A prompt bought once gets the oracle's rewards in later steps, free of budget (acquisition/desk.py).
    reuse: bool = option(True, key="acquisition_reuse")
    # care/hybrid first learn from the artifact's validation groups; false: from bought groups only.
    warm_start: bool = option(True, key="acquisition_warm_start")

    def __post_init__(self) -> None:
        from memreward_verl.acquisition.strategies import STRATEGIES

        check_options(self)
        if self.strategy is None:
            for f in dataclasses.fields(self):
                if f.name in ("budget", "budget_total", "step_groups") and getattr(self, f.name) is not None:
                    raise OptionError(
                        f"{option_key(f)} is set but acquisition is not (null); set acquisition=<strategy> "
                        f"with one of {STRATEGIES.names()}"
                    )
            return
        if self.strategy not in STRATEGIES:
            raise OptionError(f"acquisition must be null or one of {STRATEGIES.names()} (got {self.strategy!r})")
        self.strategy = self.strategy.strip().lower().replace("-", "_")  # the registered spelling
        if (self.budget is None) == (self.budget_total is None):
            raise OptionError(
                f"acquisition={self.strategy} needs exactly one of budget (fraction of each step's groups, in "
                f"(0, 1]) and budget_total (labels in total) (got budget={self.budget}, "
                f"budget_total={self.budget_total})"
            )

    @property
    def enabled(self) -> bool:
        return self.strategy is not None

    def acquirer(self) -> Any:
        """The :class:`~memreward_verl.acquisition.online.AcquirerConfig` these options describe."""
        from memreward_verl.acquisition.budget import BudgetConfig
        from memreward_verl.acquisition.online import AcquirerConfig
        from memreward_verl.acquisition.strategies import StrategyConfig

        if self.budget is not None:
            budget = BudgetConfig(fraction=self.budget, step_groups=self.step_groups)
        else:
            budget = BudgetConfig(fraction=None, total=self.budget_total)
        return AcquirerConfig(
            strategy=self.strategy or "random",
            budget=budget,
            strategy_cfg=StrategyConfig(seed=self.seed),
            min_window=self.min_window,
        )


@dataclass
class WorkerOptions:
    """The shared graph-memory worker (one named Ray actor per job) and the managers' calls to it."""

    name: str = option("memreward_worker", key="worker_name")
    # Ray CPUs of the worker; also its torch thread count (at least 1 thread).
    num_cpus: float = option(1.0, key="worker_num_cpus", gt=0)
    max_restarts: int = option(3, key="worker_max_restarts", ge=0)
    max_concurrency: int = option(4096, key="worker_max_concurrency", ge=1)
    # A call that fails because the worker died is retried this many times, the first after retry_backoff_s.
    request_retries: int = option(3, ge=0)
    retry_backoff_s: float = option(2.0, ge=0)
    # Before a retry, wait this long at most for the restarted worker (it reloads the artifact).
    restart_timeout_s: float = option(180.0, key="worker_restart_timeout_s", gt=0)
    # A reward worker's blocking start-up call (Ray placing the worker + loading the artifact) fails after this.
    start_timeout_s: float = option(300.0, key="worker_start_timeout_s", gt=0)

    def __post_init__(self) -> None:
        check_options(self)
        if not self.name.strip():
            raise OptionError(f"worker_name must be a non-empty string (got {self.name!r})")


# Client-side settings: managers of one job may differ in these and still share the worker.
CLIENT_ONLY = ("request_retries", "retry_backoff_s", "restart_timeout_s", "start_timeout_s")


@dataclass
class MemRewardOptions:
    """Everything under ``reward.reward_kwargs`` (the table in docs/verl_integration.md)."""

    # Warm-up artifact directory (memreward_verl.artifact); required except with reward_mode=majority_vote.
    artifact_dir: str = option("")
    # majority_vote without an artifact: JSON file whose "query_ids" are the labelled prompts.
    labelled_ids_file: str | None = option(None)
    # extra_info key holding the artifact's query id; samples without it are unlabelled.
    query_id_key: str = option("query_id")
    # data_source values only validation uses: their samples get the verifier, like verl's validation batches.
    val_data_sources: tuple[str, ...] = option(default_factory=tuple)
    # Verify unlabelled rollouts that carry a ground truth and log the verdict as hidden_gt (ground-truth
    # derived, for auditing; never a reward and never acc).
    log_hidden_gt: bool = option(True)
    # JSON Lines file the memory worker appends one record per rewarded rollout to. None: no log.
    reward_log: str | None = option(None)
    rule: RewardRule = option(default_factory=RewardRule)
    collect: CollectOptions = option(default_factory=CollectOptions)
    acquire: AcquireOptions = option(default_factory=AcquireOptions)
    worker: WorkerOptions = option(default_factory=WorkerOptions)

    def __post_init__(self) -> None:
        check_options(self)
        vote = self.rule.mode == "majority_vote"
        if not self.artifact_dir and not vote:
            raise OptionError(
                "artifact_dir is required (the warm-up artifact directory) unless reward_mode=majority_vote"
            )
        if self.labelled_ids_file is not None and not vote:
            raise OptionError(
                "labelled_ids_file is only used with reward_mode=majority_vote "
                "(the other modes take the labelled prompts from artifact_dir)"
            )
        if self.labelled_ids_file and self.artifact_dir:
            raise OptionError("labelled_ids_file and artifact_dir both name the labelled prompts; give one")
        if vote and self.collect.grow_memory:
            raise OptionError("grow_memory needs a memory; reward_mode=majority_vote has none")
        if self.reward_log is not None and not self.reward_log.strip():
            raise OptionError(f"reward_log must be a file path or null (got {self.reward_log!r})")
        if any(not s.strip() for s in self.val_data_sources):
            raise OptionError(f"val_data_sources must name data sources (got {list(self.val_data_sources)!r})")

    @classmethod
    def from_mapping(cls, kwargs: Mapping[str, Any]) -> MemRewardOptions:
        """Build from ``reward.reward_kwargs`` as a plain mapping: flat keys, or sections as mappings.

        Raises:
            ValueError: an unknown or removed key (listing the valid ones), or a bad value; the message
                names ``reward.reward_kwargs.<key>``, the value and what is allowed.
        """
        root: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
        for key, value in kwargs.items():
            if key in _SECTIONS and isinstance(value, Mapping):
                sections[key].update(_section_fields(key, value))
            elif key in FLAT_KEYS:
                section, name = FLAT_KEYS[key]
                (sections[section] if section else root)[name] = value
            elif key in _REMOVED:
                raise ValueError(f"{PREFIX}{key} was removed: {_REMOVED[key]}")
            else:
                raise ValueError(f"unknown {PREFIX}{key}; valid keys: {sorted(FLAT_KEYS)}")
        try:
            built = {name: _SECTIONS[name](**fields) for name, fields in sections.items()}
            return cls(**root, **built)
        except OptionError as exc:
            raise ValueError(f"{PREFIX}{exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Nested plain data (sections as dicts): travels to the worker and back through from_mapping."""
        return dataclasses.asdict(self)

    def shared_items(self) -> dict[str, Any]:
        """Flat ``{key: value}`` of what every manager sharing one worker must agree on."""
        flat = {}
        for key, (section, name) in FLAT_KEYS.items():
            if section == "worker" and name in CLIENT_ONLY:
                continue
            flat[key] = getattr(getattr(self, section) if section else self, name)
        return flat


_SECTIONS: dict[str, type] = {"rule": RewardRule, "collect": CollectOptions, "acquire": AcquireOptions,
                              "worker": WorkerOptions}  # fmt: skip


def _section_fields(section: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """A section given as a mapping: field names (``to_dict``) or flat keys (``reward_mode``) both work."""
    by_key = {option_key(f): f.name for f in dataclasses.fields(_SECTIONS[section])}
    names = set(by_key.values())
    out = {}
    for key, v in value.items():
        name = key if key in names else by_key.get(key)
        if name is None:
            raise ValueError(f"unknown {PREFIX}{section}.{key}; valid keys: {sorted(names)}")
        out[name] = v
    return out


def _flat_keys() -> dict[str, tuple[str | None, str]]:
    keys: dict[str, tuple[str | None, str]] = {}
    for f in dataclasses.fields(MemRewardOptions):
        if f.name not in _SECTIONS:
            keys[option_key(f)] = (None, f.name)
    for section, klass in _SECTIONS.items():
        for f in dataclasses.fields(klass):
            key = option_key(f)
            assert key not in keys, f"option key {key!r} is declared twice"
            keys[key] = (section, f.name)
    return keys


# flat reward_kwargs key -> (section or None for the root, field name); derived from the dataclasses.
FLAT_KEYS: dict[str, tuple[str | None, str]] = _flat_keys()
