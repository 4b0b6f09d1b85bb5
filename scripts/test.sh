#!/usr/bin/env bash
# The test command: lint, then the whole suite (CPU only; data-dependent tests skip without ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
"$PY" -m ruff check memreward_verl tests benchmarks
"$PY" -m pytest -q -ra tests "$@"
