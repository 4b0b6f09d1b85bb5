#!/usr/bin/env bash
# One-time set-up on a fresh machine with Python 3.11: CPU torch first (a bare `pip install verl`
# would pull a CUDA torch), then this package with its test extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
"$PY" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[test]"
"$PY" -c "import memreward_verl, verl, torch_geometric, faiss, ray; print('memreward_verl set up:', memreward_verl.__version__)"
