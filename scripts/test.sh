#!/usr/bin/env bash
# Install what the tests need (scripts/setup.sh), then run the default test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m perf` for the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec uv run --locked pytest "$@"
