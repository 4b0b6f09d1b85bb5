"""``verl.plugins`` entry point of the CPU backend: loaded by ``import verl`` in every verl process.

verl swallows plugin errors (logged at DEBUG), so failures are logged here at ERROR with the reason;
an unsupported verl version still registers the rollout name, whose loader then raises the version
error, so ``rollout.name=cpu`` fails at start-up with that message rather than "Unknown rollout".
"""

import logging

__all__ = ["load"]

logger = logging.getLogger(__name__)


def load(verl_version: str | None = None) -> None:
    """Install the CPU backend in this process, or register why it is unavailable (never raises)."""
    try:
        from memreward_verl.cpu import install

        install(verl_version)
    except Exception as exc:  # keep verl importable; say why the CPU backend is missing
        logger.error("memreward CPU backend not installed in this process: %s", exc)
        try:
            from verl.workers.rollout.replica import RolloutReplicaRegistry

            from memreward_verl.cpu.rollout_names import ROLLOUT_NAME

            def unavailable(exc: Exception = exc):
                raise RuntimeError(f"rollout.name={ROLLOUT_NAME!r} is unavailable: {exc}") from exc

            RolloutReplicaRegistry.register(ROLLOUT_NAME, unavailable)
        except Exception:  # an older verl without the registry: verl's own error names the rollout
            pass


load()
