#!/usr/bin/env bash
# Issue 9's benchmarks: Berth against raw Docker and against its goals, in one run, one table.
#
#   bench/perf.sh [benchmark …]    (default: all of dispatch throughput scale api logs memory)
#
# Installs what it needs (scripts/install-deps.sh: wrk among the rest), starts the test
# services unless they are up (PostgreSQL and the Docker engine the tests use), builds `berth`,
# the Docker and Simulated plugins and `BerthPerf` in release mode, and runs it. Every `berth
# serve` it starts uses a fresh database, dropped afterwards. Sizes: see bench/Perf/Perf.swift
# (BERTH_PERF_* variables; a quick run: BERTH_PERF_SCALE=10000 BERTH_PERF_LOG_MB=50 …).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

scripts/install-deps.sh
started=""
if ! scripts/test-services.sh status >/dev/null 2>&1; then started=1; fi
env_file=$(scripts/test-services.sh up)
# shellcheck source=/dev/null
source "$env_file"
cleanup() {
    if [[ -n "$started" ]]; then scripts/test-services.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

for product in berth BerthDocker BerthSimulated BerthPerf; do
    swift build -c release --product "$product"
done
bin="$(swift build -c release --show-bin-path)"
"$bin/BerthPerf" "$@"
