"""Which verl is installed, and which of its two reward APIs memreward plugs into.

verl changed how a trainer reaches its reward manager twice between 0.5 and 0.9, so the installed
version decides which memreward class and which config keys apply (docs/compat.md has the table):

- ``"batch"`` (0.5.0 up to 0.7.0): the trainer builds one manager from ``verl.workers.reward_manager``
  and calls it on the whole batch (:mod:`memreward_verl.integration.legacy`).
- ``"reward_loop"`` (0.7.1 on): reward workers call ``run_single`` per sample
  (:mod:`memreward_verl.integration.manager`).

Anything older than 0.5 or newer than the last tested minor is refused with one error naming the
range, rather than failing later on a moved module.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

__all__ = [
    "MIN_VERSION",
    "MAX_VERSION",
    "REWARD_LOOP_SINCE",
    "UnsupportedVerlError",
    "VerlApi",
    "detect_verl",
    "require_api",
    "verl_usage",
]

# The tested range (scripts/compat_matrix.sh): every minor from 0.5 up to, not including, 0.10.
MIN_VERSION = Version("0.5.0")
MAX_VERSION = Version("0.10.0")
# The first release whose trainer reads rewards from the reward loop's run_single (config under ``reward.``).
REWARD_LOOP_SINCE = Version("0.7.1")
# The first release whose run_ppo takes ray_kwargs.ray_init (so a Ray worker set-up hook is an override).
RAY_KWARGS_SINCE = Version("0.6.0")
# The release whose trainer reads reward_manager.* at the top level and defaults to its own reward loop.
TOP_LEVEL_MANAGER = Version("0.7.0")

# A Ray worker set-up hook importing the batch adapter, so ``memreward`` is in verl's registry in every
# Ray process (the trainer looks it up in its TaskRunner actor, where no user code was imported).
SETUP_HOOK = "memreward_verl.integration.legacy.setup_worker"


class UnsupportedVerlError(ImportError):
    """The installed verl is outside the range memreward supports (the message gives both)."""


@dataclass(frozen=True)
class VerlApi:
    """The installed verl and the reward API memreward uses with it.

    Attributes:
        version: verl's version string, as installed.
        api: ``"batch"`` or ``"reward_loop"`` (module docstring).
    """

    version: str
    api: str

    @property
    def options_key(self) -> str:
        """Where a job config carries memreward's options for this API (used in error messages)."""
        return "reward.reward_kwargs" if self.api == "reward_loop" else "reward_model.reward_kwargs"


def detect_verl(version: str | None = None) -> VerlApi:
    """Classify ``version`` (default: the installed verl's distribution version).

    Raises:
        UnsupportedVerlError: verl is not installed, or its version is outside [0.5.0, 0.10.0).
    """
    if version is None:
        try:
            version = importlib.metadata.version("verl")
        except importlib.metadata.PackageNotFoundError:
            raise UnsupportedVerlError(
                f"memreward's verl integration needs verl >={MIN_VERSION},<{MAX_VERSION}; verl is not installed"
            ) from None
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise UnsupportedVerlError(f"cannot read the installed verl's version {version!r}") from None
    if not MIN_VERSION <= parsed < MAX_VERSION:
        raise UnsupportedVerlError(
            f"verl {version} is not supported: memreward works with verl >={MIN_VERSION},<{MAX_VERSION} "
            "(0.5-0.7.0 through the batch reward-manager API, 0.7.1 on through the reward loop; see docs/compat.md)"
        )
    # A pre-release of 0.7.1 sorts before 0.7.1: it is treated as the batch API, like 0.7.0.
    api = "reward_loop" if parsed >= REWARD_LOOP_SINCE else "batch"
    return VerlApi(version=version, api=api)


def require_api(api: str, entry: str) -> VerlApi:
    """The installed verl, checked to speak ``api``; says which memreward entry to use instead when not.

    Args:
        api: the API the caller implements (``"batch"`` or ``"reward_loop"``).
        entry: what the caller is, for the message (a class name).

    Raises:
        UnsupportedVerlError: outside the supported range, or the installed verl uses the other API.
    """
    found = detect_verl()
    if found.api != api:
        use = (
            "memreward_verl.integration.legacy.MemRewardBatchManager (reward_model.reward_manager=memreward)"
            if found.api == "batch"
            else "memreward_verl.reward_manager.MemRewardManager (reward.reward_manager.*)"
        )
        raise UnsupportedVerlError(
            f"{entry} implements verl's {api!r} reward API, but the installed verl {found.version} uses the "
            f"{found.api!r} API: use {use}; docs/compat.md lists the overrides for each version"
        )
    return found


def _hydra_value(value: Any) -> str:
    """``value`` as a hydra override value (strings with hydra's special characters quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):  # a hydra list (val_data_sources=[a,b]), not a quoted string of one
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    text = str(value)
    if isinstance(value, str) and any(c in text for c in " ,=[]{}()'\"$:"):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


@dataclass(frozen=True)
class VerlUsage:
    """How a ``main_ppo`` job on one verl version uses memreward (docs/compat.md shows every case).

    Attributes:
        entry: the command that starts training.
        overrides: the hydra overrides selecting memreward and passing its options.
        options_key: where the options go (``reward.reward_kwargs`` or ``reward_model.reward_kwargs``).
    """

    entry: str
    overrides: tuple[str, ...]
    options_key: str


def verl_usage(version: str, reward_kwargs: Mapping[str, Any] | None = None) -> VerlUsage:
    """The entry command and overrides that plug memreward into verl ``version``.

    Args:
        version: a verl version (detected with :func:`detect_verl` when you have one installed).
        reward_kwargs: memreward options (:class:`MemRewardOptions` fields), written as overrides.

    Raises:
        UnsupportedVerlError: ``version`` is outside the supported range.
    """
    found = detect_verl(version)
    release = Version(Version(found.version).base_version)
    entry = "python -m verl.trainer.main_ppo"
    if found.api == "reward_loop":
        manager = [
            "reward.reward_manager.source=importlib",
            "reward.reward_manager.name=MemRewardManager",
            "reward.reward_manager.module.path=pkg://memreward_verl.reward_manager",
        ]
    elif release >= TOP_LEVEL_MANAGER:  # 0.7.0: its reward loop would score first and bypass the batch manager
        manager = [
            "reward_model.use_reward_loop=false",
            "reward_manager.source=importlib",
            "reward_manager.name=MemRewardBatchManager",
            "reward_manager.module.path=pkg://memreward_verl.integration.legacy",
        ]
    elif release >= RAY_KWARGS_SINCE:  # 0.6.x: the registry by name, filled in every Ray worker by the hook
        manager = [
            f"+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook={SETUP_HOOK}",
            "reward_model.reward_manager=memreward",
        ]
    else:  # 0.5.x: ray_init takes no runtime_env, so memreward's launcher starts Ray with the hook
        entry = "python -m memreward_verl.integration.legacy_main"
        manager = ["reward_model.reward_manager=memreward"]
    options = [f"+{found.options_key}.{k}={_hydra_value(v)}" for k, v in (reward_kwargs or {}).items()]
    return VerlUsage(entry=entry, overrides=(*manager, *options), options_key=found.options_key)
