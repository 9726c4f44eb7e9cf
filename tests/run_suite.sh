#!/usr/bin/env bash
# Runs the whole suite: once on SQLite (the default), then the race and scale-out tests
# again on a real PostgreSQL server started here. pytest's exit code 5 ("no tests
# collected") counts as a failure: an empty suite proves nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

run_pytest() {
  "$BIN/python" -m pytest "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then
    echo "pytest collected no tests for: $*" >&2
    return 1
  fi
  return $rc
}

run_pytest tests || exit $?

if [ -x tests/pg.sh ]; then
  url=$(tests/pg.sh start) || { echo "could not start PostgreSQL" >&2; exit 1; }
  trap 'tests/pg.sh stop' EXIT
  DATABASE_URL="$url" run_pytest -m postgres tests || exit $?
fi
