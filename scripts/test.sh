#!/usr/bin/env bash
# Runs Berth's whole test suite against real services. This is the one test command:
#
#   scripts/test.sh [swift test arguments...]      e.g. scripts/test.sh --filter BerthPostgresTests
#
# It installs what is missing (scripts/install-deps.sh), starts the test services
# (scripts/test-services.sh up), builds the package with its tests and its plugin libraries,
# runs `swift test`, and always stops the services again, exiting with swift test's code.
# Needs root, because the test Docker engine does. See docs/testing.md.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

# The plugin libraries the tests load at run time (dynamic library products).
PLUGIN_PRODUCTS=(BerthDocker BerthDockerSSH BerthKubernetes BerthSimulated)

STARTED_AT=$SECONDS
PHASE="setup"          # what we were doing, for the summary
SERVICES_UP=""

log() { printf '\n==> %s\n' "$*" >&2; }

summary() {
    local rc=$1 took=$((SECONDS - STARTED_AT))
    printf '\n==== Berth tests: ' >&2
    if ((rc == 0)); then
        printf 'PASSED' >&2
    else
        printf 'FAILED in %s (exit %d)' "$PHASE" "$rc" >&2
    fi
    printf ' after %dm%02ds ====\n' $((took / 60)) $((took % 60)) >&2
}

# On any exit: stop the services (when we started them) and keep the exit code.
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$SERVICES_UP" ]]; then
        log "stopping test services"
        scripts/test-services.sh down || echo "test.sh: WARNING: stopping the services failed" >&2
    fi
    summary "$rc"
    exit "$rc"
}
trap on_exit EXIT
# A signal ends the script through on_exit, with the usual 128+N code.
trap 'exit 130' INT
trap 'exit 143' TERM

main() {
    if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    command -v swift >/dev/null 2>&1 || { echo "test.sh: swift not found (expected /opt/swift)" >&2; exit 1; }

    PHASE="install-deps"
    log "checking dependencies"
    # install-deps.sh needs no root when nothing is missing, and uses sudo itself otherwise.
    scripts/install-deps.sh

    PHASE="test services"
    log "starting test services"
    local env_file
    SERVICES_UP=1
    env_file=$(scripts/test-services.sh up)
    # shellcheck source=/dev/null
    source "$env_file"
    grep '^export' "$env_file" | grep -v PASSWORD | sed 's/^export /    /' >&2

    PHASE="build"
    log "swift build --build-tests"
    swift build --build-tests
    # `swift build` builds every product, the plugin libraries included; check, and build one
    # explicitly if a future SwiftPM stops doing so.
    local product
    for product in "${PLUGIN_PRODUCTS[@]}"; do
        if [[ ! -f ".build/debug/lib$product.so" ]]; then
            log "lib$product.so missing; swift build --product $product"
            swift build --product "$product"
        fi
        [[ -f ".build/debug/lib$product.so" ]] || { echo "test.sh: .build/debug/lib$product.so was not built" >&2; exit 1; }
    done
    # The out-of-tree Swift plugin example, built where its test builds it again: the test's own
    # build is then a quick no-op instead of half a minute of both cores while timed tests run.
    log "swift build --package-path examples/plugin-swift"
    swift build --package-path examples/plugin-swift --scratch-path .build-example-swift

    # At most this many tests run at once. Unbounded, all 400-odd start together on two cores:
    # setups queue for a minute and the tests' time windows (a retry's backoff, a prompt
    # shutdown) stretch until they fail. With 8 the run takes as long and nothing starves.
    local width=${BERTH_TEST_PARALLELISM:-8}
    PHASE="swift test"
    log "swift test --experimental-maximum-parallelization-width $width $*"
    local rc=0
    swift test --experimental-maximum-parallelization-width "$width" "$@" || rc=$?
    return "$rc"
}

main "$@"
