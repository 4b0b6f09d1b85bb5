"""``memreward preflight``: Ray CPUs counted from main_ppo's overrides against the node's, greedy sampling
with n > 1 and missing GPU-side modules reported with the override to change (verl's real config)."""

from __future__ import annotations

import importlib.util
import re

import pytest

from memreward_verl.cli import main
from memreward_verl.integration.preflight import count_ray_cpus, preflight

MEMREWARD = ["reward.reward_manager.name=MemRewardManager", "+reward.reward_kwargs.artifact_dir=/a"]


def _cpus(overrides: list[str]) -> float:
    from memreward_verl.integration.preflight import compose_job_config

    return sum(i.cpus for i in count_ray_cpus(compose_job_config(overrides)))


@pytest.mark.parametrize(
    "overrides,needed",
    [
        (["trainer.n_gpus_per_node=4", *MEMREWARD], 4 * 3 + 1 + 8 + 1),
        (["trainer.n_gpus_per_node=4"], 4 * 3 + 1 + 8),  # verl's own reward manager: no memory worker
        (["trainer.n_gpus_per_node=2", "transfer_queue.backend.SimpleStorage.num_data_storage_units=2"], 6 + 1 + 2),
        (["trainer.n_gpus_per_node=2", "trainer.nnodes=2"], 6 + 1 + 4),  # units spread over the nodes
        (["trainer.n_gpus_per_node=2", "trainer.use_v1=False"], 6),  # the legacy trainer has no TransferQueue
        (["trainer.n_gpus_per_node=1", *MEMREWARD, "+reward.reward_kwargs.worker_num_cpus=4"], 3 + 1 + 8 + 4),
    ],
)
def test_counts_what_the_run_holds(overrides, needed):
    assert _cpus(overrides) == needed


def test_ray_init_num_cpus_is_what_ray_will_have():
    """ray_kwargs.ray_init.num_cpus (logical CPUs, may exceed the cores) is the availability when set."""
    report = preflight(["trainer.n_gpus_per_node=2", "ray_kwargs.ray_init.num_cpus=15"], check_imports=False)
    assert (report.needed, report.available, report.errors) == (15, 15, [])
    assert report.available_from == "ray_kwargs.ray_init.num_cpus"


@pytest.mark.parametrize(
    "overrides,match",
    [
        (
            ["actor_rollout_ref.rollout.temperature=0", "actor_rollout_ref.rollout.n=4"],
            r"actor_rollout_ref\.rollout\.temperature=0.*actor_rollout_ref\.rollout\.n=4",
        ),
        (["actor_rollout_ref.rollout.val_kwargs.n=2"], r"val_kwargs\.n=2.*val_kwargs\.do_sample"),
    ],
)
def test_greedy_with_n_above_one_is_an_error(overrides, match):
    errors = preflight(["trainer.n_gpus_per_node=1", *overrides], cpus=64, check_imports=False).errors
    assert len(errors) == 1
    assert re.search(match, errors[0]), errors[0]


def test_missing_modules_name_the_install():
    """On a node without vLLM (this CPU machine), the import check names the module and the gpu extra."""
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    errors = preflight(["trainer.n_gpus_per_node=1"], cpus=64).errors
    assert len(errors) == 1 and 'vllm: pip install -e ".[gpu]"' in errors[0]


def test_cli_exit_status_and_messages(capsys):
    """The subcommand exits 1 with one error line per problem, 0 when the run may start."""
    args = ["preflight", "--no-import-check", "--cpus", "10", "trainer.n_gpus_per_node=4", *MEMREWARD]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "holds 22 Ray CPUs" in err and "have 10 (--cpus)" in err and "worker_num_cpus" in err
    assert main(["preflight", "--no-import-check", "--cpus", "22", "trainer.n_gpus_per_node=4", *MEMREWARD]) == 0
    assert main(["preflight", "--no-import-check", "trainer.no_such_key=1"]) == 1
    assert "no_such_key" in capsys.readouterr().err
