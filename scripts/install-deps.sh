#!/usr/bin/env bash
# Installs the Debian packages that Berth needs to build and to run its tests, and the test tools
# that come from PyPI (scripts/python-tools.sh: Schemathesis, pinned, in a virtual environment).
#
# Idempotent: when everything is already installed it does nothing (and needs no root), so
# scripts/test.sh can call it on every run. Swift itself is not installed here: it is expected
# at /opt/swift (or on PATH).
#
# Usage: scripts/install-deps.sh
set -euo pipefail

# What each package is for. Keep this list to what the code and the scripts really use.
PACKAGES=(
    # Build: system libraries behind the CLibPQ, CCurl and CSSH2 shims, found with pkg-config.
    libcurl4-openssl-dev
    libpq-dev
    libssh2-1-dev
    pkg-config
    git                # SwiftPM fetches dependencies with git
    ca-certificates
    # Test services (scripts/test-services.sh).
    postgresql         # initdb, pg_ctl, postgres, createdb, psql
    docker.io          # dockerd, containerd, runc and a docker client
    docker-registry    # the Distribution registry, served on 127.0.0.1
    busybox-static     # the root folder of the test images (scripts/build-test-images.sh)
    apache2-utils      # htpasswd -B for the registry's bcrypt password file
    openssh-server     # sshd for the remote-Docker-over-SSH tests
    openssh-client     # ssh, ssh-keygen: the test keys, and the check that sshd answers
    # Tools the tests call.
    socat              # a socket proxy the Docker tests cut to take the engine away
    gcc                # cc builds the deliberately broken test plugins and examples/plugin-c
    make               # examples/plugin-c's Makefile
    binutils           # nm: the examples export only berth_plugin_v1
    python3-venv       # a virtual environment for Schemathesis (from PyPI), the API fuzzer
    chromium           # headless, for the dashboard's browser test (scripts/dashboard-check.py)
    fonts-dejavu-core  # the text in the dashboard's screenshots
    systemd            # systemd-analyze verifies deploy/systemd/berth.service
    # Benchmarks (bench/perf.sh).
    wrk                # HTTP load for the API benchmark
    # Tools the scripts call.
    curl               # waits for the registries
    iproute2           # ss: finds free ports
    procps             # kill, ps
    util-linux         # runuser, setsid, flock
    mount              # umount
)

log() { printf 'install-deps: %s\n' "$*" >&2; }

# shellcheck source=python-tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/python-tools.sh"

# Prints the packages of PACKAGES that are not fully installed ("ii" in dpkg's database).
missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
        if [[ "$status" != ii* ]]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root to run: $*  (run this script as root, or install sudo)"
        exit 1
    fi
}

install_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "this script installs Debian packages; dpkg-query is missing, so this is not Debian"
        exit 1
    fi

    local -a missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all ${#PACKAGES[@]} Debian packages already installed"
        return 0
    fi
    log "installing: ${missing[*]}"

    # Without systemd, the postinst scripts of docker.io and postgresql try to start their
    # system services and can fail. A policy-rc.d that answers 101 ("action forbidden") makes
    # invoke-rc.d skip that; we add one only if the machine has none, and remove it after.
    # The tests start their own services anyway (scripts/test-services.sh).
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [[ ! -e "$policy" ]]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        added_policy=1
        # shellcheck disable=SC2064  # expand now: the path is fixed
        trap "as_root rm -f '$policy'" EXIT
    fi

    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update
    local rc=0
    as_root apt-get install -y --no-install-recommends "${PACKAGES[@]}" || rc=$?

    if [[ -n "$added_policy" ]]; then
        as_root rm -f "$policy"
        trap - EXIT
    fi

    # apt can exit non-zero only because a service failed to start; what matters is whether
    # every package ended up installed and configured.
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -ne 0 ]]; then
        log "apt-get install exited $rc; still not installed: ${missing[*]}"
        exit 1
    fi
    if [[ $rc -ne 0 ]]; then
        log "apt-get install exited $rc, but every package is installed; going on"
    fi
    log "packages installed"
}

# Installs Schemathesis into its own virtual environment (Debian's python3, pip from PyPI). A
# venv cannot be moved (its scripts name their interpreter by absolute path), so it is built in
# place and a marker written last says it is complete; an interrupted install is redone.
install_schemathesis() {
    local marker="$SCHEMATHESIS_VENV/.berth-complete"
    if [[ -e "$marker" && -x "$SCHEMATHESIS" ]]; then
        log "schemathesis $SCHEMATHESIS_VERSION already installed ($SCHEMATHESIS_VENV)"
        return 0
    fi
    log "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $SCHEMATHESIS_VENV"
    rm -rf "$SCHEMATHESIS_VENV"
    mkdir -p "$BERTH_TOOLS_DIR"
    /usr/bin/python3 -m venv "$SCHEMATHESIS_VENV"
    "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    "$SCHEMATHESIS" --version >&2
    touch "$marker"
}

main() {
    install_packages
    install_schemathesis
    log "done"
}

main "$@"
