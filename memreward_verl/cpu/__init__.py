"""CPU backend for verl's own trainer: ``python -m verl.trainer.main_ppo`` on a machine without accelerators.

verl 0.9 trains only on GPUs/NPUs: its platform, FSDP engine and rollout servers all assume one.
This package adds, through verl's extension points, what a CPU run needs (see patches/README.md):

* :mod:`.platform` a ``cpu`` platform in verl's ``PlatformRegistry`` (auto-detected where torch has
  no accelerator build; ``VERL_PLATFORM=cpu`` selects it elsewhere);
* :mod:`.engine` verl's FSDP2 engine registered for the ``cpu`` device (unpinned offload, gloo);
* :mod:`.rollout` a batched transformers rollout behind verl's rollout-server interface
  (``actor_rollout_ref.rollout.name=cpu``).

They are installed in every verl process by this package's ``verl.plugins`` entry point
(:mod:`.plugin`); :func:`cpu_trainer_overrides` gives the config a CPU run needs.
"""

from memreward_verl.cpu.support import SUPPORTED_VERL, UnsupportedVerlError, check_verl_version, cpu_selected

__all__ = ["SUPPORTED_VERL", "UnsupportedVerlError", "check_verl_version", "cpu_selected", "install"]


def install(verl_version: str | None = None) -> None:
    """Register the CPU platform and rollout; on a CPU machine also the engine (idempotent).

    Args:
        verl_version: the verl version to check (default: the installed one).

    Raises:
        UnsupportedVerlError: the installed verl is not one this backend was built against.
    """
    check_verl_version(verl_version)
    from memreward_verl.cpu import platform  # noqa: F401  (registers the "cpu" platform)
    from memreward_verl.cpu.registration import register_rollout

    register_rollout()
    if cpu_selected():
        from memreward_verl.cpu.engine import install_engine

        install_engine()
