"""setup.py's ``gpu`` extra installs what ``python -m verl.trainer.main_ppo`` imports, and the docs say so.

The modules are read off the installed verl's sources (main_ppo.py, which imports TransferQueue in its V1
TaskRunner, and the rollout servers' utils.py, which import fastapi and uvicorn); the requirements are
followed through the installed packages' metadata, extras included (verl[vllm] -> verl[verl-core] -> ...).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest
import verl
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
VERL_DIR = Path(verl.__file__).resolve().parent
# The files of main_ppo's import chain whose third-party imports a GPU run reaches.
CHAIN = (
    "trainer/main_ppo.py",
    "workers/rollout/utils.py",
    "workers/rollout/router.py",  # cachetools (found missing by a cold run of the CPU demo)
    "workers/rollout/llm_server.py",
    "trainer/ppo/v1/agent_loop_tq.py",
    "experimental/agent_loop/agent_loop.py",
)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _setup_lists() -> tuple[list[str], list[str]]:
    """(GPU_REQUIREMENTS, install_requires) as written in setup.py, read without running it."""
    tree = ast.parse((REPO / "setup.py").read_text())
    lists: dict[str, list[str]] = {}  # module-level requirement lists, which may splice earlier ones
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            value = eval(compile(ast.Expression(node.value), "setup.py", "eval"), {"__builtins__": {}}, dict(lists))
            lists.update({t.id: value for t in node.targets if isinstance(t, ast.Name)})
    gpu, base = lists.get("GPU_REQUIREMENTS"), None
    _TRAIN[:] = lists.get("TRAINER_REQUIREMENTS", [])
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            base = ast.literal_eval(node.value)
    assert gpu is not None and base is not None, "setup.py: no GPU_REQUIREMENTS list or install_requires"
    return gpu, base


_TRAIN: list[str] = []  # setup.py's TRAINER_REQUIREMENTS, filled by _setup_lists


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports anywhere in ``path`` (function-level ones included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements pull in, following installed metadata and extras."""
    seen: set[tuple[str, str]] = set()
    names: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        names.add(name)
        for extra in ("", *sorted(req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            try:
                sub = md.requires(req.name) or []
            except md.PackageNotFoundError:
                continue  # not installed here (vllm): its own requirements are not followed
            for line in sub:
                r = Requirement(line)
                if r.marker is None or r.marker.evaluate({"extra": extra}):
                    todo.append(r)
    return names


def _distribution_of(module: str) -> str:
    dists = md.packages_distributions().get(module)
    if not dists:
        pytest.fail(f"{module} (imported by main_ppo's chain) is not installed here; cannot map it to a distribution")
    return _norm(dists[0])


def _needed_modules() -> set[str]:
    mods = set()
    for rel in CHAIN:
        mods |= _imported_modules(VERL_DIR / rel)
    return {m for m in mods if m not in sys.stdlib_module_names and m != "verl"}


def test_chain_needs_transfer_queue_fastapi_uvicorn():
    """The import scan finds the modules the GPU path was missing (a guard on the scan itself)."""
    assert {"transfer_queue", "fastapi", "uvicorn", "ray", "hydra"} <= _needed_modules()


def test_gpu_extra_covers_main_ppo_imports():
    """Every third-party module of main_ppo's chain comes with `pip install .[gpu]`; the base install lacks
    TransferQueue, fastapi and uvicorn (why the extra exists); flash-attn is not required."""
    gpu, base = _setup_lists()
    with_gpu = _closure(base + gpu)
    missing = sorted(m for m in _needed_modules() if _distribution_of(m) not in with_gpu)
    assert not missing, f"setup.py's gpu extra does not install {missing}"
    without = _closure(base)
    assert {"transferqueue", "fastapi", "uvicorn"} - without == {"transferqueue", "fastapi", "uvicorn"}
    assert "vllm" in with_gpu and "flash-attn" not in with_gpu


def test_train_extra_covers_the_cpu_trainer_imports():
    """`pip install .[train]` (what scripts/setup.sh installs for the CPU demo) brings every third-party module
    of main_ppo's chain, without vLLM: a cold run found cachetools (verl's rollout router) missing once."""
    _, base = _setup_lists()
    with_train = _closure(base + _TRAIN)
    missing = sorted(m for m in _needed_modules() if _distribution_of(m) not in with_train)
    assert not missing, f"setup.py's train extra does not install {missing}"
    assert "vllm" not in with_train


def test_preflight_modules_come_with_the_gpu_extra():
    """The modules `memreward preflight` requires (except flash-attn, optional) are in the gpu extra."""
    from memreward_verl.integration.preflight import compose_job_config, missing_modules

    gpu, base = _setup_lists()
    with_gpu = _closure(base + gpu)
    cfg = compose_job_config(["+actor_rollout_ref.model.override_config.attn_implementation=flash_attention_2"])
    for line in missing_modules(cfg):
        module = line.split(":", 1)[0]
        if module == "flash_attn":
            continue
        assert 'pip install -e ".[gpu]"' in line
        dist = _norm(module) if module == "vllm" else _distribution_of(module)
        assert dist in with_gpu, module


@pytest.mark.parametrize("doc", ["README.md", "examples/README.md"])
def test_docs_install_the_gpu_extra(doc):
    """The GPU install instructions use the gpu extra and say why flash-attn is not required."""
    text = (REPO / doc).read_text()
    assert '".[gpu]"' in text
    assert "flash-attn" in text
    assert "verl[vllm,fsdp]" not in text


def test_no_runtime_module_imports_the_test_builders():
    """memreward_verl.testing and integration.testing build test inputs; no runtime module (CLI, demo,
    services) imports them, so the package's runtime path never depends on test scaffolding."""
    builders = {"memreward_verl.testing", "memreward_verl.integration.testing"}
    offenders = []
    for path in sorted((REPO / "memreward_verl").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        if module in builders:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            offenders += [f"{module} imports {n}" for n in names if n in builders]
    assert offenders == []
