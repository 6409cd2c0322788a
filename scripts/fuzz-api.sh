#!/usr/bin/env bash
# A longer Schemathesis run than the test suite's: Tests/BerthCLITests/APIFuzzTests.swift, through
# the one test command, with N generated examples per operation (default 200) and a new random
# seed each time (printed, so a failure can be replayed with BERTH_FUZZ_SEED=…).
#
#   scripts/fuzz-api.sh [N]
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BERTH_FUZZ_EXAMPLES=${1:-200}
export BERTH_FUZZ_SEED=${BERTH_FUZZ_SEED:-$RANDOM$RANDOM}
echo "fuzz-api.sh: $BERTH_FUZZ_EXAMPLES examples per operation, seed $BERTH_FUZZ_SEED" >&2
exec "$REPO_ROOT/scripts/test.sh" --filter APIFuzzTests
