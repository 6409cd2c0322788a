#!/usr/bin/env bash
# Runs Schemathesis (from PyPI) against a throw-away `berth serve`: its own embedded PostgreSQL,
# one Simulated host, the first admin token. Every operation of /openapi.json is fuzzed with
# up to N examples (default 50) and every check (`--checks all`: no 5xx, responses matching the
# document, schema-valid requests accepted and invalid ones refused, 405 for other methods).
# Token revocation is left out: it would revoke the token the run itself uses.
#
#   scripts/fuzz-api.sh [N]
#
# Needs a built Berth (swift build, plus the BerthSimulated product) and python3 with pip.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXAMPLES=${1:-50}
PORT=${BERTH_FUZZ_PORT:-18099}
DIR=$(mktemp -d /tmp/berth-fuzz.XXXXXX)
chmod 755 "$DIR"
SERVER_PID=""

cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

if ! command -v st >/dev/null 2>&1; then
    echo "fuzz-api.sh: installing schemathesis (pip)" >&2
    python3 -m pip install --quiet --user schemathesis
    export PATH="$HOME/.local/bin:$PATH"
fi

cat >"$DIR/berth.yaml" <<YAML
listen: {host: 127.0.0.1, port: $PORT}
database: {url: null}
data_dir: $DIR/data
default_host: sim
hosts:
  - name: sim
    plugin: simulated
YAML

"$REPO_ROOT/.build/debug/berth" serve --config "$DIR/berth.yaml" >"$DIR/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -30 "$DIR/serve.log" >&2; exit 1; }
    sleep 0.2
done
TOKEN=$(cat "$DIR/data/admin.token")
curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/openapi.json" >"$DIR/openapi.json"

status=0
st run "$DIR/openapi.json" --url "http://127.0.0.1:$PORT" -H "Authorization: Bearer $TOKEN" \
    --max-examples "$EXAMPLES" --checks all --exclude-path-regex 'revoke' || status=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "fuzz-api.sh: berth serve died during the run:" >&2
    tail -40 "$DIR/serve.log" >&2
    status=1
fi
exit "$status"
