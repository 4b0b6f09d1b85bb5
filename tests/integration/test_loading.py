"""Both ways a verl user names the manager resolve to MemRewardManager in a fresh process."""

from __future__ import annotations

import subprocess
import sys

import pytest

_SCRIPT = """
import sys
from omegaconf import OmegaConf
from verl.trainer.ppo.reward import resolve_reward_manager_cls
way = sys.argv[1]
if way == "importlib":
    rm = {"source": "importlib", "name": "MemRewardManager", "module": {"path": "pkg://memreward_verl.reward_manager"}}
else:
    rm = {"source": "register", "name": "memreward", "module": {"path": None}}
cls = resolve_reward_manager_cls(OmegaConf.create({"reward": {"reward_manager": rm}}))
print(cls.__module__ + "." + cls.__name__)
"""


@pytest.mark.parametrize("way", ["importlib", "plugin"])
def test_loading_way_in_fresh_process(way):
    """pkg:// import and the verl.plugins entry point both give the same class."""
    out = subprocess.run([sys.executable, "-c", _SCRIPT, way], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("memreward_verl.integration.manager.MemRewardManager")


def test_plugin_entry_point_registered():
    """setup.py declares the verl.plugins entry point (pip install -e . registers it)."""
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="verl.plugins")}
    assert eps.get("memreward") == "memreward_verl.integration.plugin"
