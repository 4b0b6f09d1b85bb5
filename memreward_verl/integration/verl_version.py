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
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

__all__ = [
    "MIN_VERSION",
    "MAX_VERSION",
    "REWARD_LOOP_SINCE",
    "UnsupportedVerlError",
    "VerlApi",
    "detect_verl",
    "require_api",
]

# The tested range (scripts/compat_matrix.sh): every minor from 0.5 up to, not including, 0.10.
MIN_VERSION = Version("0.5.0")
MAX_VERSION = Version("0.10.0")
# The first release whose trainer reads rewards from the reward loop's run_single (config under ``reward.``).
REWARD_LOOP_SINCE = Version("0.7.1")


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
    # A pre-release of 0.7.1 is still the batch API; compare the release number only.
    api = "reward_loop" if Version(parsed.base_version) >= REWARD_LOOP_SINCE else "batch"
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
