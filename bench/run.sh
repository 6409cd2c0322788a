#!/usr/bin/env bash
# Builds the benchmark and the Simulated plugin in release mode and runs the benchmark.
# Usage: bench/run.sh [iterations]   (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
iterations="${1:-200000}"
swift build -c release --product BerthSimulated
swift build -c release --product BerthBench
bin="$(swift build -c release --show-bin-path)"
exec "$bin/BerthBench" "$iterations"
