#!/usr/bin/env bash
# Builds the test image and puts it where the tests expect it (see docs/testing.md).
#
# No public registry is reachable, so the image is made by hand: a root folder holding the
# static busybox binary and its applet links, imported with `docker import`. Then it is pushed
# to both test registries, and the registry-tagged copies are removed from the engine, so that
# a test that runs a registry image really pulls it. The remote engine (the one behind sshd)
# gets $BERTH_TEST_IMAGE with `docker save | docker load` from the engine:
#
#   $BERTH_TEST_IMAGE                  berth-test/busybox:1             in the engine, and in
#                                                                       the remote engine
#   $BERTH_TEST_REGISTRY_IMAGE         <open registry>/berth/busybox:1  open registry only
#   $BERTH_TEST_AUTH_REGISTRY_IMAGE    <auth registry>/berth/private:1  auth registry only
#
# scripts/test-services.sh up runs this with the BERTH_TEST_* variables set. To run it by hand
# on services that are up, it reads them from the env file when they are not set:
#   scripts/build-test-images.sh
set -euo pipefail

STATE=${BERTH_TEST_STATE:-/tmp/berth-test-services}
if [[ -z "${BERTH_TEST_DOCKER_SOCKET:-}" && -f "$STATE/env" ]]; then
    # shellcheck source=/dev/null
    source "$STATE/env"
fi

log() { printf 'build-test-images: %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

for var in BERTH_TEST_STATE BERTH_TEST_DOCKER_SOCKET BERTH_TEST_DOCKER_CONFIG \
    BERTH_TEST_REGISTRY BERTH_TEST_AUTH_REGISTRY BERTH_TEST_REGISTRY_USER \
    BERTH_TEST_REGISTRY_PASSWORD BERTH_TEST_IMAGE BERTH_TEST_REGISTRY_IMAGE \
    BERTH_TEST_AUTH_REGISTRY_IMAGE BERTH_TEST_REMOTE_DOCKER_SOCKET; do
    [[ -n "${!var:-}" ]] || die "$var is not set; start the services with scripts/test-services.sh up"
done

BUSYBOX=${BERTH_TEST_BUSYBOX:-/bin/busybox}
WORK="$BERTH_TEST_STATE/images"
ROOT="$WORK/busybox-root"

# The applets the tests' commands use (`trap` and `exit` are shell built-ins).
APPLETS=(
    sh echo sleep cat printf env true false ls yes head tail dd kill
    id wc grep date pwd mkdir rm seq test uname hostname
)

# Our own client config (DOCKER_CONFIG): `docker login` must not touch the user's ~/.docker.
docker_cli() {
    DOCKER_CONFIG="$BERTH_TEST_DOCKER_CONFIG" docker -H "unix://$BERTH_TEST_DOCKER_SOCKET" "$@"
}

remote_cli() {
    DOCKER_CONFIG="$BERTH_TEST_DOCKER_CONFIG" docker -H "unix://$BERTH_TEST_REMOTE_DOCKER_SOCKET" "$@"
}

build_root_folder() {
    [[ -x "$BUSYBOX" ]] || die "$BUSYBOX not found (install busybox-static: scripts/install-deps.sh)"
    # A dynamically linked busybox (Debian's `busybox` package) would not run in an empty image.
    if ldd "$BUSYBOX" >/dev/null 2>&1; then
        die "$BUSYBOX is dynamically linked; the image needs busybox-static"
    fi

    rm -rf "$ROOT"
    mkdir -p "$ROOT/bin" "$ROOT/etc" "$ROOT/tmp" "$ROOT/root"
    chmod 1777 "$ROOT/tmp"
    chmod 700 "$ROOT/root"
    cp "$BUSYBOX" "$ROOT/bin/busybox"
    chmod 755 "$ROOT/bin/busybox"
    local applet
    for applet in "${APPLETS[@]}"; do
        ln -s busybox "$ROOT/bin/$applet"
    done
    cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
}

import_image() {
    log "importing $BERTH_TEST_IMAGE"
    # A reproducible tar (sorted names, fixed owners and times): the layer digest stays the
    # same from run to run.
    tar -C "$ROOT" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -c . |
        docker_cli import \
            --change 'ENV PATH=/bin' \
            --change 'CMD ["sh"]' \
            - "$BERTH_TEST_IMAGE" >/dev/null
    # Smoke test: the image runs, prints and exits with the code it is told.
    local out rc=0
    out=$(docker_cli run --rm --network none "$BERTH_TEST_IMAGE" sh -c 'echo hi; exit 3') || rc=$?
    [[ "$out" == hi && $rc -eq 3 ]] ||
        die "smoke test of $BERTH_TEST_IMAGE failed (output '$out', exit $rc)"
}

# Copies $BERTH_TEST_IMAGE from the engine to the remote engine, and smoke-tests it there.
load_into_remote_engine() {
    log "loading $BERTH_TEST_IMAGE into the remote engine"
    local out rc=0
    docker_cli save "$BERTH_TEST_IMAGE" | remote_cli load >"$WORK/remote-load.log" 2>&1 ||
        { cat "$WORK/remote-load.log" >&2; die "docker save | docker load into the remote engine failed"; }
    out=$(remote_cli run --rm --network none "$BERTH_TEST_IMAGE" sh -c 'echo hi; exit 3') || rc=$?
    [[ "$out" == hi && $rc -eq 3 ]] ||
        die "smoke test of $BERTH_TEST_IMAGE in the remote engine failed (output '$out', exit $rc)"
}

push_image() {
    local target=$1
    log "pushing $target"
    docker_cli tag "$BERTH_TEST_IMAGE" "$target"
    docker_cli push "$target" >"$WORK/push.log" 2>&1 ||
        { cat "$WORK/push.log" >&2; die "docker push $target failed"; }
    # Only the tag goes; the image stays under $BERTH_TEST_IMAGE.
    docker_cli rmi "$target" >/dev/null
}

main() {
    mkdir -p "$WORK" "$BERTH_TEST_DOCKER_CONFIG"
    build_root_folder
    import_image
    load_into_remote_engine

    push_image "$BERTH_TEST_REGISTRY_IMAGE"

    printf '%s\n' "$BERTH_TEST_REGISTRY_PASSWORD" |
        docker_cli login --username "$BERTH_TEST_REGISTRY_USER" --password-stdin \
            "$BERTH_TEST_AUTH_REGISTRY" >"$WORK/login.log" 2>&1 ||
        { cat "$WORK/login.log" >&2; die "docker login $BERTH_TEST_AUTH_REGISTRY failed"; }
    push_image "$BERTH_TEST_AUTH_REGISTRY_IMAGE"

    log "done: $BERTH_TEST_IMAGE in both engines; $BERTH_TEST_REGISTRY_IMAGE and $BERTH_TEST_AUTH_REGISTRY_IMAGE in the registries"
}

main "$@"
