"""Names of the CPU rollout (light: read by the plugin before anything heavy is imported)."""

ROLLOUT_NAME = "cpu"
ADAPTER_PATH = "memreward_verl.cpu.rollout.CPURolloutAdapter"
