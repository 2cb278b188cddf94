#!/usr/bin/env bash
# The README's test command: install everything, start the services the tests
# need (PostgreSQL, Chromium + CJK fonts), then lint, type-check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
eval "$(bash scripts/services.sh start)"
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
set +e
.venv/bin/pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
