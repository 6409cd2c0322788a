#!/usr/bin/env bash
# Runs issue 6's fault scenarios (Tests/BerthCLITests/FaultTests.swift) through the one test
# command, scripts/test.sh, and prints their table: scenario, executions, lost, duplicated,
# orphaned containers. Exits non-zero when a test fails, a scenario is missing from the table,
# or any figure but executions is not 0. See docs/operations.md.
#
#   scripts/faults.sh
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

SCENARIOS=5
REPORT=$(mktemp /tmp/berth-faults.XXXXXX)
trap 'rm -f "$REPORT"' EXIT

status=0
BERTH_FAULT_REPORT="$REPORT" scripts/test.sh --filter FaultTests || status=$?

printf '\n%-52s %10s %5s %11s %9s\n' scenario executions lost duplicated orphaned
printf '%-52s %10s %5s %11s %9s\n' "$(printf '%.0s-' {1..52})" ---------- ---- ---------- --------
rows=0
bad=0
while IFS=$'\t' read -r scenario executions lost duplicated orphaned; do
    printf '%-52s %10s %5s %11s %9s\n' "$scenario" "$executions" "$lost" "$duplicated" "$orphaned"
    rows=$((rows + 1))
    if [[ "$lost" != 0 || "$duplicated" != 0 || "$orphaned" != 0 ]]; then bad=1; fi
done <"$REPORT"

if ((rows != SCENARIOS)); then
    echo "faults.sh: $rows of $SCENARIOS scenarios reported (a failed test reports nothing)" >&2
    bad=1
fi
if ((status != 0 || bad != 0)); then exit 1; fi
