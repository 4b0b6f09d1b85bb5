#!/usr/bin/env bash
# The test command: set up (idempotent), lint, then the whole suite on CPU. Tests that need
# ../shared/data skip cleanly without it. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check memreward_verl tests benchmarks
python3 -m pytest -q -ra tests "$@"
