#!/usr/bin/env bash
# Sets Berth up on this machine and runs a first execution:
#
#   scripts/quickstart.sh          # install, build, start a Docker engine and `berth serve`,
#                                  # then `berth run … echo hello`; the server keeps running
#   scripts/quickstart.sh stop     # stop the server and the engine it started
#
# Everything lives in one folder, ${BERTH_QUICKSTART_DIR:-/tmp/berth-quickstart}: the Docker
# engine (its own socket, no bridge network, no firewall rules), the image, the configuration,
# the server's data (an embedded PostgreSQL cluster) and its log. The API listens on
# 127.0.0.1:${BERTH_QUICKSTART_PORT:-8080}. Needs root (dockerd does).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${BERTH_QUICKSTART_DIR:-/tmp/berth-quickstart}"
PORT="${BERTH_QUICKSTART_PORT:-8080}"
DOCKER_SOCKET="$DIR/docker.sock"
DOCKER_PIDFILE="$DIR/docker.pid"
SERVER_PIDFILE="$DIR/berth.pid"
IMAGE="berth/busybox:1"
URL="http://127.0.0.1:$PORT"
export PATH="/opt/swift/usr/bin:$PATH"

log() { printf 'quickstart: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
    if pid_alive "$SERVER_PIDFILE"; then
        log "stopping berth serve"
        kill -TERM "$(cat "$SERVER_PIDFILE")"
        for _ in $(seq 1 100); do pid_alive "$SERVER_PIDFILE" || break; sleep 0.1; done
    fi
    rm -f "$SERVER_PIDFILE"
    if pid_alive "$DOCKER_PIDFILE"; then
        log "stopping dockerd"
        kill -TERM "$(cat "$DOCKER_PIDFILE")"
        for _ in $(seq 1 100); do pid_alive "$DOCKER_PIDFILE" || break; sleep 0.1; done
    fi
}

start_docker() {
    if docker -H "unix://$DOCKER_SOCKET" version >/dev/null 2>&1; then return; fi
    log "starting dockerd on $DOCKER_SOCKET (no bridge network, no iptables rules)"
    mkdir -p "$DIR/docker-data" "$DIR/docker-exec"
    setsid dockerd --bridge=none --iptables=false --ip6tables=false \
        --data-root "$DIR/docker-data" --exec-root "$DIR/docker-exec" \
        -H "unix://$DOCKER_SOCKET" --pidfile "$DOCKER_PIDFILE" \
        >"$DIR/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 150); do
        docker -H "unix://$DOCKER_SOCKET" version >/dev/null 2>&1 && return
        sleep 0.2
    done
    tail -20 "$DIR/dockerd.log" >&2
    die "dockerd did not answer on $DOCKER_SOCKET within 30 s"
}

build_image() {
    if docker -H "unix://$DOCKER_SOCKET" image inspect "$IMAGE" >/dev/null 2>&1; then return; fi
    log "making the image $IMAGE from busybox-static (no registry needed)"
    local rootfs="$DIR/rootfs"
    rm -rf "$rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
    cp /bin/busybox "$rootfs/bin/busybox"
    chroot "$rootfs" /bin/busybox --install -s /bin
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
    tar -C "$rootfs" -c . | docker -H "unix://$DOCKER_SOCKET" import \
        --change 'ENV PATH=/bin' --change 'CMD ["sh"]' - "$IMAGE" >/dev/null
}

write_config() {
    cat >"$DIR/berth.yaml" <<EOF
# Written by scripts/quickstart.sh; see config/berth.example.yaml for every key.
listen: { host: 127.0.0.1, port: $PORT }
data_dir: $DIR/data
default_host: local
hosts:
  - name: local
    plugin: docker
    max_concurrent: 4
    settings:
      socket_path: $DOCKER_SOCKET
      pull_policy: never
EOF
}

start_server() {
    if pid_alive "$SERVER_PIDFILE"; then
        log "berth serve is already running (pid $(cat "$SERVER_PIDFILE"))"
        return
    fi
    log "starting berth serve on $URL (log: $DIR/serve.log)"
    setsid "$ROOT/.build/debug/berth" serve --config "$DIR/berth.yaml" \
        >"$DIR/serve.log" 2>&1 </dev/null &
    echo $! >"$SERVER_PIDFILE"
    for _ in $(seq 1 300); do
        curl -fsS "$URL/readyz" >/dev/null 2>&1 && return
        pid_alive "$SERVER_PIDFILE" || break
        sleep 0.2
    done
    tail -30 "$DIR/serve.log" >&2
    die "berth serve did not become ready on $URL"
}

main() {
    [[ "${1:-}" == "stop" ]] && { stop_all; exit 0; }
    [[ $EUID -eq 0 ]] || die "run as root: dockerd needs it"
    "$ROOT/scripts/install-deps.sh"
    mkdir -p "$DIR"
    log "building Berth (swift build)"
    (cd "$ROOT" && swift build)
    start_docker
    build_image
    write_config
    start_server
    # The first start wrote an admin token to data_dir/admin.token (mode 0600); the CLI finds it
    # through the configuration.
    log "first execution: berth run $IMAGE echo hello"
    BERTH_URL="$URL" BERTH_CONFIG="$DIR/berth.yaml" "$ROOT/.build/debug/berth" run "$IMAGE" echo hello
    cat >&2 <<EOF

Berth is serving on $URL. Its first admin token is in $DIR/data/admin.token. Try:
  export BERTH_URL=$URL BERTH_CONFIG=$DIR/berth.yaml PATH=$ROOT/.build/debug:\$PATH
  berth run $IMAGE sh -c 'echo out; echo err >&2; exit 3'; echo "exit code \$?"
  berth ps --all
  berth token create alice --role submitter     # prints a token for another user, once
  curl -s -H "Authorization: Bearer \$(cat $DIR/data/admin.token)" $URL/v1/executions | head -c 400
Stop everything with: scripts/quickstart.sh stop
EOF
}

main "$@"
