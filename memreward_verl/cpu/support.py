"""Which verl versions the CPU backend supports, and whether this process runs on the CPU platform."""

from __future__ import annotations

import os
from importlib import metadata

__all__ = ["SUPPORTED_VERL", "UnsupportedVerlError", "check_verl_version", "cpu_selected"]

# verl minors whose trainer internals the CPU backend was written and tested against.
SUPPORTED_VERL = ("0.9",)


class UnsupportedVerlError(RuntimeError):
    """The installed verl is outside :data:`SUPPORTED_VERL`."""


def check_verl_version(version: str | None = None) -> str:
    """Return the installed verl version; raise a clear error when the CPU backend does not support it."""
    version = version or metadata.version("verl")
    if not any(version == v or version.startswith(v + ".") for v in SUPPORTED_VERL):
        raise UnsupportedVerlError(
            f"memreward's CPU trainer backend supports verl {', '.join(v + '.x' for v in SUPPORTED_VERL)}; "
            f"verl {version} is installed (pip install 'verl==0.9.1' for CPU training; GPU training with "
            "vLLM does not need this backend)"
        )
    return version


def cpu_selected() -> bool:
    """Whether verl will run this process on the CPU platform (verl's ``VERL_PLATFORM`` or auto-detection)."""
    chosen = os.environ.get("VERL_PLATFORM", "").strip().lower()
    if chosen:
        return chosen == "cpu"
    from memreward_verl.cpu.platform import torch_has_accelerator

    return not torch_has_accelerator()
