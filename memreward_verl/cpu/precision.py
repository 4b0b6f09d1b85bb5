"""The compute dtype of verl's FSDP actor and reference model on CPU.

verl's FSDP engine computes in bfloat16 by default (``fsdp_config.mixed_precision.param_dtype``,
autocast in every forward). On a CPU without native bfloat16 instructions (AVX512-BF16 or AMX),
oneDNN emulates them: on a 2-core AVX2 EPYC a bfloat16 ``Linear`` under autocast took 9x the
float32 time, and one GRPO step of the CI test's run 742 s against 88 s in float32 (BENCHMARKS.md
section 7). ``auto`` keeps bfloat16 only where the CPU runs it natively.
"""

from __future__ import annotations

import torch

__all__ = ["COMPUTE_DTYPES", "native_bf16", "resolve_compute_dtype"]

#: accepted values of ``CPUTrainConfig.compute_dtype``
COMPUTE_DTYPES = ("auto", "fp32", "bf16")


def native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions that oneDNN uses (False where torch cannot tell)."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False


def resolve_compute_dtype(name: str) -> str:
    """``fp32`` or ``bf16`` for a configured ``auto`` / ``fp32`` / ``bf16``.

    Raises:
        ValueError: a name outside :data:`COMPUTE_DTYPES`.
    """
    if name not in COMPUTE_DTYPES:
        raise ValueError(f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)} (got {name!r})")
    if name == "auto":
        return "bf16" if native_bf16() else "fp32"
    return name
