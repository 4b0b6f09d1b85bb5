"""A CPU platform for verl's ``PlatformRegistry``: lets verl's own trainer run on a machine without accelerators.

verl asks its platform for a device name, a ``torch.<device>``-like module, a collective backend and
a Ray resource name. On CPU: device ``cpu``, the module :data:`cpu_device` (``torch.cpu`` plus the
memory/name queries verl makes of ``torch.cuda``, answered for host memory), backend ``gloo``, and
Ray's ``GPU`` resource, which the CPU launcher declares as *logical* GPUs so that verl's placement
groups (one bundle per trainer rank) schedule without real ones.
"""

from __future__ import annotations

import os
import sys
import types
from contextlib import contextmanager
from typing import Any

import torch
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry

__all__ = ["CPUPlatform", "cpu_device", "PLATFORM_NAME", "torch_has_accelerator"]

PLATFORM_NAME = "cpu"


def torch_has_accelerator() -> bool:
    """Whether this torch build can drive any accelerator (CUDA, ROCm, XPU, NPU)."""
    if torch.version.cuda is not None or torch.version.hip is not None:
        return True
    xpu = getattr(torch, "xpu", None)
    return bool(xpu is not None and xpu.is_available()) or "torch_npu" in sys.modules


class _CPUDeviceModule(types.ModuleType):
    """``torch.cpu`` with the ``torch.cuda`` queries verl makes (memory statistics, device name, rng)."""

    def __init__(self) -> None:
        super().__init__("memreward_verl.cpu.device", "torch.cpu with the torch.cuda queries verl makes")

    def __getattr__(self, name: str) -> Any:
        if hasattr(torch.cpu, name):
            return getattr(torch.cpu, name)
        raise AttributeError(f"the CPU platform's device module has no {name!r} (verl asked for torch.cuda.{name})")

    # device bookkeeping: one "device", index 0
    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def current_device() -> str:
        return "cpu"  # as torch.cpu answers; an int would mean cuda:<n> to `.to(...)`

    @staticmethod
    def set_device(device: Any) -> None:
        return None

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        return "cpu"

    @staticmethod
    def synchronize(device: Any = None) -> None:
        return None

    # memory statistics: the host has no separate device memory; report 0 used so logs stay honest
    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def memory_allocated(device: Any = None) -> int:
        return 0

    max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated

    @staticmethod
    def reset_peak_memory_stats(device: Any = None) -> None:
        return None

    @staticmethod
    def mem_get_info(device: Any = None) -> tuple[int, int]:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        free = os.sysconf("SC_AVPHYS_PAGES") * size
        return free, pages * size

    # random state: the CPU generator is the device generator
    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    manual_seed_all = manual_seed

    @staticmethod
    def get_rng_state(device: Any = None) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device: Any = None) -> None:
        torch.set_rng_state(state)


cpu_device = _CPUDeviceModule()


@PlatformRegistry.register(platform=PLATFORM_NAME)
class CPUPlatform(PlatformBase):
    """verl platform for CPU-only machines (selected by auto-detection or ``VERL_PLATFORM=cpu``).

    Auto-detection picks it only where torch itself is built without any accelerator, so a GPU
    node's CPU-only Ray actors keep detecting their GPU platform.
    """

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> types.ModuleType:
        return cpu_device

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return not torch_has_accelerator()

    def current_device(self) -> str:
        # verl moves tensors with `.to(get_device_id())`: an int would mean cuda:<n>, "cpu" means the host
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        # Ray sets it for actors holding (logical) GPUs; torch on CPU ignores it
        return "CUDA_VISIBLE_DEVICES"

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def cudart(self) -> Any:
        return None
