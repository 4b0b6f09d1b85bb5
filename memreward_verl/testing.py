"""Builders of small real inputs for tests and benchmarks (no data files needed); never imported at runtime.

Nothing under ``memreward_verl`` except other test builders imports this module (tests/test_packaging.py
checks). :func:`arithmetic_rollouts` is re-exported from :mod:`memreward_verl.synth`, where the runtime
``memreward synth`` command finds it.
"""

from __future__ import annotations

from memreward_verl.synth import arithmetic_rollouts

__all__ = ["arithmetic_rollouts", "shared_data_dir"]


def shared_data_dir():
    """``../shared/data`` next to the repository root, or ``None`` when absent."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return path if path.is_dir() else None
