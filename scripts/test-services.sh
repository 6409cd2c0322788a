#!/usr/bin/env bash
# Starts and stops the real services that Berth's tests talk to (see docs/testing.md):
#
#   - a throw-away PostgreSQL cluster (initdb in the state folder), database berth_test;
#   - a Docker engine (dockerd with no bridge and no iptables) on its own unix socket;
#   - a second, "remote" Docker engine, started the same way on another socket;
#   - Debian's sshd on 127.0.0.1 (own config, host keys and client keys in the state folder),
#     whose sessions get DOCKER_HOST pointing at the remote engine (for docker over ssh);
#   - two Debian docker-registry instances on 127.0.0.1, one open, one behind htpasswd;
#   - the test images, built by scripts/build-test-images.sh and pushed to both registries
#     (and loaded into the remote engine).
#
# Usage: scripts/test-services.sh up|down|env|status|sshd-stop|sshd-start|remote-docker-stop|remote-docker-start
#
#   up      start everything (a no-op when it is already up) and print the path of the env
#           file, which holds `export` lines for every BERTH_TEST_* variable:
#               source "$(scripts/test-services.sh up)"
#   down    stop everything that `up` started and remove the state folder
#   env     print the env file
#   status  say whether the services are up and answering (exit 1 if not)
#   sshd-stop   stop only sshd and every connection it serves (host keys, config and the
#               other services stay); for tests of "sshd went away"
#   sshd-start  start sshd again after sshd-stop, same port and host keys (no-op if it answers)
#   remote-docker-stop   stop only the remote engine's dockerd; it runs with live-restore, so
#                        its containers keep running (for tests of "the engine went away")
#   remote-docker-start  start it again (no-op if it answers); it finds its containers
#
# Settings, from the environment:
#   BERTH_TEST_STATE               state folder            (/tmp/berth-test-services)
#   BERTH_TEST_PG_PORT             PostgreSQL TCP port     (first free from 55432)
#   BERTH_TEST_REGISTRY_PORT       open registry port      (first free from 55000)
#   BERTH_TEST_AUTH_REGISTRY_PORT  htpasswd registry port  (first free from 55001)
#   BERTH_TEST_SSH_PORT            sshd port               (first free from 2222)
#   BERTH_TEST_WAIT_TIMEOUT        seconds to wait for each service to answer (90)
#   BERTH_TEST_KEEP_FAILED=1       when `up` fails, leave what was started, for debugging
# A port given explicitly must be free; a default one moves up to the next free port.
#
# Needs root: dockerd does. Postgres refuses to run as root, so its cluster is owned by, and
# run as, the `postgres` system user through runuser.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

STATE=${BERTH_TEST_STATE:-/tmp/berth-test-services}
WAIT_TIMEOUT=${BERTH_TEST_WAIT_TIMEOUT:-90}

# Layout of the state folder. Everything `up` creates lives here (except the short exec-roots,
# see exec_root_path, and sshd's /run/sshd), so `down` removes it with one rm.
MARKER="$STATE/.berth-test-services"   # only a folder holding this is ever removed
ENV_FILE="$STATE/env"
PG_DIR="$STATE/pg"
PG_DATA="$PG_DIR/data"
PG_SOCKET_DIR="$PG_DIR/sock"
PG_LOG="$PG_DIR/postgres.log"
# The two engines: each has a folder (data-root, pid file, log, config; see start_engine),
# a socket and a short exec-root name (see exec_root_path).
DOCKER_DIR="$STATE/docker"
DOCKER_SOCKET="$STATE/docker.sock"
REMOTE_DOCKER_DIR="$STATE/remote-docker"
REMOTE_DOCKER_SOCKET="$STATE/remote-docker.sock"
SSH_DIR="$STATE/ssh"
SSHD_CONFIG="$SSH_DIR/sshd_config"
SSHD_PIDFILE="$SSH_DIR/sshd.pid"
SSHD_LOG="$SSH_DIR/sshd.log"
SSHD_BIN=/usr/sbin/sshd                  # absolute: sshd re-executes itself per connection
SSHD_PRIVSEP_DIR=/run/sshd               # compiled into Debian's sshd; must exist
SSH_KNOWN_HOSTS="$SSH_DIR/known_hosts"
SSH_KNOWN_HOSTS_WRONG="$SSH_DIR/known_hosts_wrong"
SSH_PASSPHRASE_FILE="$SSH_DIR/id_rsa.passphrase"
REGISTRY_DIR="$STATE/registry"
HTPASSWD_FILE="$REGISTRY_DIR/htpasswd"
CLIENT_CONFIG="$STATE/docker-config"     # DOCKER_CONFIG for our docker client calls

REGISTRY_USER=berth
DATABASE=berth_test
SSH_USER=root

log() { printf 'test-services: %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

# Prints the last lines of a log file to stderr, to explain a failure.
show_log_tail() {
    local file=$1
    if [[ -s "$file" ]]; then
        log "last lines of $file:"
        tail -n 30 "$file" | sed 's/^/    /' >&2
    fi
}

# ---------------------------------------------------------------------------------------------
# Small helpers

# True when process $1 is alive and its command line contains $2 (guards against pid reuse).
process_is() {
    local pid=$1 name=$2 cmdline
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$name"* ]]
}

read_pidfile() {
    local file=$1
    [[ -r "$file" ]] && head -n 1 "$file" | tr -dc '0-9'
}

# Sends SIGTERM to pid $1 (if it is still $2), waits up to $3 seconds, then SIGKILL.
stop_process() {
    local pid=$1 name=$2 timeout=$3 waited=0
    process_is "$pid" "$name" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while process_is "$pid" "$name"; do
        if ((waited >= timeout * 5)); then
            log "$name (pid $pid) did not exit within ${timeout}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
}

port_in_use() {
    [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# Prints the port to use: $1 if given (it must be free), else the first free one from $2.
pick_port() {
    local requested=$1 default=$2 what=$3 port
    if [[ -n "$requested" ]]; then
        port_in_use "$requested" && die "port $requested for $what is already in use"
        printf '%s\n' "$requested"
        return
    fi
    for ((port = default; port < default + 200; port++)); do
        # Don't hand out a port that an earlier pick in this run already took.
        [[ " ${PICKED_PORTS:-} " == *" $port "* ]] && continue
        if ! port_in_use "$port"; then
            printf '%s\n' "$port"
            return
        fi
    done
    die "no free port for $what in $default..$((default + 199))"
}

random_password() {
    head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# Waits until "$@" succeeds. $1: what we wait for, $2: a pid that must stay alive (or ""),
# $3: the log file to show on failure; the rest is the check command.
wait_for() {
    local what=$1 pid=$2 logfile=$3
    shift 3
    local deadline=$((SECONDS + WAIT_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            show_log_tail "$logfile"
            die "$what: the process (pid $pid) exited during start-up"
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail "$logfile"
            die "$what did not answer within ${WAIT_TIMEOUT}s (BERTH_TEST_WAIT_TIMEOUT)"
        fi
        sleep 0.2
    done
}

# Unix socket paths are limited to 107 bytes; fail early and clearly instead of deep inside.
check_socket_path() {
    local path=$1
    ((${#path} <= 100)) || die "socket path too long (${#path} > 100 bytes): $path; choose a shorter BERTH_TEST_STATE"
}

# dockerd's exec-root holds containerd's sockets several levels deep, so it must be short.
# Use <state>/$1 (x for the engine, xr for the remote one) when that is short enough, else a
# short folder in /tmp named after the state.
exec_root_path() {
    local name=$1
    if ((${#STATE} <= 48)); then
        printf '%s/%s\n' "$STATE" "$name"
    else
        printf '/tmp/berth-%s-%s\n' "$name" "$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)"
    fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir)
        [[ -x "$dir/initdb" ]] && { printf '%s\n' "$dir"; return; }
    fi
    # pg_config may come from libpq-dev of another version: take the newest server found.
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        [[ -x "$dir/initdb" ]] && { printf '%s\n' "$dir"; return; }
    done
    die "initdb not found (is the postgresql package installed? scripts/install-deps.sh)"
}

# Runs a PostgreSQL program as the postgres user when we are root (postgres refuses root).
# cd first: runuser keeps the working folder, which the postgres user may not be able to read.
as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

start_postgres() {
    local port=$1 bindir
    bindir=$(pg_bindir)
    check_socket_path "$PG_SOCKET_DIR/.s.PGSQL.$port"
    mkdir -p "$PG_SOCKET_DIR"
    if [[ "$(id -u)" -eq 0 ]]; then
        chown -R postgres:postgres "$PG_DIR"
        runuser -u postgres -- test -w "$PG_DIR" ||
            die "the postgres user cannot write $PG_DIR; put BERTH_TEST_STATE where it can (e.g. under /tmp)"
    fi

    log "PostgreSQL: initdb in $PG_DATA"
    # --no-sync, and fsync=off below: a throw-away cluster needs no durability, only speed.
    as_pg "$bindir/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 \
        --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
        { show_log_tail "$PG_DIR/initdb.log"; die "initdb failed"; }

    # Appending keeps the file's owner (postgres).
    cat >>"$PG_DATA/postgresql.conf" <<EOF

# Berth test cluster (scripts/test-services.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$PG_SOCKET_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 500
EOF

    log "PostgreSQL: starting on 127.0.0.1:$port and $PG_SOCKET_DIR"
    as_pg "$bindir/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$WAIT_TIMEOUT" start >/dev/null 9>&- ||
        { show_log_tail "$PG_LOG"; die "PostgreSQL did not start"; }
    as_pg "$bindir/createdb" -h "$PG_SOCKET_DIR" -p "$port" -U postgres "$DATABASE" ||
        die "createdb $DATABASE failed"
}

stop_postgres() {
    [[ -f "$PG_DATA/postmaster.pid" ]] || return 0
    local bindir pid
    bindir=$(pg_bindir)
    log "PostgreSQL: stopping"
    if ! as_pg "$bindir/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
        pid=$(read_pidfile "$PG_DATA/postmaster.pid")
        log "pg_ctl stop failed; killing postgres (pid ${pid:-?})"
        stop_process "$pid" postgres 5
    fi
}

postgres_answers() {
    local bindir
    bindir=$(pg_bindir)
    as_pg "$bindir/pg_isready" -q -h "$PG_SOCKET_DIR" -p "$1" -d "$DATABASE"
}

# ---------------------------------------------------------------------------------------------
# Docker engines. Both engines are started and stopped by the same functions; an engine is
# named by its folder, which holds data/ (--data-root), dockerd.pid, dockerd.log,
# daemon.json and exec-root-path (where its exec-root is, for stop_engine).

# Runs the docker client against the engine on socket $1, with our own client config.
engine_cli() {
    local socket=$1
    shift
    DOCKER_CONFIG="$CLIENT_CONFIG" docker -H "unix://$socket" "$@"
}

docker_cli() { engine_cli "$DOCKER_SOCKET" "$@"; }

# Starts a dockerd. $1: a name for messages, $2: its folder, $3: its socket, $4: the name of
# its short exec-root (see exec_root_path).
start_engine() {
    local label=$1 dir=$2 socket=$3 config=${5:-'{}'} exec_root pid
    exec_root=$(exec_root_path "$4")
    check_socket_path "$socket"
    check_socket_path "$exec_root/containerd/containerd.sock.ttrpc"
    mkdir -p "$dir/data" "$exec_root" "$CLIENT_CONFIG"
    printf '%s\n' "$exec_root" >"$dir/exec-root-path"
    # Our own config file ($5, default empty): the machine's /etc/docker/daemon.json must not
    # change this engine.
    printf '%s\n' "$config" >"$dir/daemon.json"

    log "$label: starting dockerd on $socket (log: $dir/dockerd.log)"
    # No bridge and no iptables: containers get --network none, and the engine creates no
    # private addresses or firewall rules. setsid: the engine outlives this script's session.
    setsid dockerd \
        --config-file "$dir/daemon.json" \
        --bridge=none --iptables=false --ip6tables=false \
        --data-root "$dir/data" \
        --exec-root "$exec_root" \
        --pidfile "$dir/dockerd.pid" \
        -H "unix://$socket" \
        </dev/null >>"$dir/dockerd.log" 2>&1 9>&- &
    pid=$!
    wait_for "$label: dockerd on $socket" "$pid" "$dir/dockerd.log" engine_cli "$socket" version
    log "$label: engine $(engine_cli "$socket" version --format '{{.Server.Version}}') is up"
}

# Unmounts whatever is still mounted below $1 (overlay layers, netns files), deepest first.
unmount_below() {
    local root=$1 mnt
    [[ -n "$root" ]] || return 0
    # Field 5 of mountinfo is the mount point (no whitespace in our paths, see check_state_path).
    awk -v root="$root/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo |
        awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- |
        while read -r mnt; do
            umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null ||
                log "could not unmount $mnt"
        done
}

# Stops the dockerd that start_engine started. $1: a name for messages, $2: its folder.
stop_engine() {
    local label=$1 dir=$2 pid exec_root="" p
    [[ -r "$dir/exec-root-path" ]] && exec_root=$(cat "$dir/exec-root-path")
    pid=$(read_pidfile "$dir/dockerd.pid" || true)
    if process_is "$pid" dockerd; then
        log "$label: stopping dockerd (pid $pid)"
        # dockerd stops its containers (up to 15 s each, in parallel) and its containerd.
        stop_process "$pid" dockerd 60
    fi
    # If dockerd was killed, its containerd and the shims may be left; their command lines
    # name <exec-root>/containerd/ (the config file, the socket), which nothing else does.
    if [[ -n "$exec_root" ]]; then
        for p in /proc/[0-9]*; do
            p=${p#/proc/}
            if process_is "$p" "$exec_root/containerd/"; then
                stop_process "$p" "$exec_root/containerd/" 10
            fi
        done
        unmount_below "$exec_root"
        if [[ "$exec_root" != "$STATE"/* ]]; then
            rm -rf "$exec_root"
        fi
    fi
    unmount_below "$dir"
}

# ---------------------------------------------------------------------------------------------
# sshd (for docker over ssh): Debian's sshd with its own config, host keys and client keys,
# all in $SSH_DIR. Its sessions get DOCKER_HOST (SetEnv) pointing at the remote engine.

# Prints the port in sshd's config (the one `up` picked); nothing when there is no config.
sshd_port() {
    [[ -r "$SSHD_CONFIG" ]] || return 0
    awk '$1 == "Port" { print $2; exit }' "$SSHD_CONFIG"
}

# The host name as ssh writes it in known_hosts: [host]:port, or just host for port 22.
known_hosts_name() {
    local port=$1
    if [[ "$port" == 22 ]]; then
        printf '127.0.0.1\n'
    else
        printf '[127.0.0.1]:%s\n' "$port"
    fi
}

# Runs ssh to our sshd as root with key $1 and the rest as the command; no user config, no
# agent, no global known_hosts: only our files count.
ssh_cli() {
    local key=$1 port
    shift
    port=$(sshd_port)
    ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o IdentityAgent=none \
        -o UserKnownHostsFile="$SSH_KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 \
        -p "$port" "$SSH_USER@127.0.0.1" "$@"
}

# True when sshd lets the ed25519 key in (and the host key matches known_hosts).
sshd_answers() {
    [[ -n "$(sshd_port)" ]] && ssh_cli "$SSH_DIR/id_ed25519" true </dev/null
}

# Makes the host keys, the client keys, authorized_keys, known_hosts(_wrong) and sshd_config.
write_ssh_files() {
    local port=$1 type passphrase name
    mkdir -p "$SSH_DIR/wrong"
    chmod 700 "$SSH_DIR"
    log "sshd: generating host and client keys in $SSH_DIR"
    for type in ed25519 ecdsa rsa; do
        # The server's host keys, and other keys of the same types for known_hosts_wrong.
        ssh-keygen -q -t "$type" -N '' -C "berth-test-host-$type" -f "$SSH_DIR/ssh_host_${type}_key"
        ssh-keygen -q -t "$type" -N '' -C "berth-test-wrong-host-$type" \
            -f "$SSH_DIR/wrong/ssh_host_${type}_key"
    done
    passphrase=$(random_password)
    printf '%s\n' "$passphrase" >"$SSH_PASSPHRASE_FILE"
    chmod 600 "$SSH_PASSPHRASE_FILE"
    ssh-keygen -q -t ed25519 -N '' -C berth-test-ed25519 -f "$SSH_DIR/id_ed25519"
    ssh-keygen -q -t ecdsa -N '' -C berth-test-ecdsa -f "$SSH_DIR/id_ecdsa"
    ssh-keygen -q -t rsa -N "$passphrase" -C berth-test-rsa -f "$SSH_DIR/id_rsa"
    ssh-keygen -q -t ed25519 -N '' -C berth-test-unauthorized -f "$SSH_DIR/id_ed25519_unauthorized"
    cat "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/id_ecdsa.pub" "$SSH_DIR/id_rsa.pub" \
        >"$SSH_DIR/authorized_keys"

    # known_hosts: "<name> <type> <key>" from the .pub files (their comment dropped). The wrong
    # one holds a different key of every type, so whichever host key type a client
    # negotiates, it sees a changed key, never an unknown one.
    name=$(known_hosts_name "$port")
    for type in ed25519 ecdsa rsa; do
        awk -v n="$name" '{ print n, $1, $2 }' "$SSH_DIR/ssh_host_${type}_key.pub"
    done >"$SSH_KNOWN_HOSTS"
    for type in ed25519 ecdsa rsa; do
        awk -v n="$name" '{ print n, $1, $2 }' "$SSH_DIR/wrong/ssh_host_${type}_key.pub"
    done >"$SSH_KNOWN_HOSTS_WRONG"

    # MaxSessions and MaxStartups stay at their defaults (10 and 10:30:100): Berth must cope
    # with what a stock sshd allows.
    cat >"$SSHD_CONFIG" <<CONF
# Berth test sshd (scripts/test-services.sh); not the machine's /etc/ssh/sshd_config.
Port $port
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $SSH_DIR/ssh_host_ed25519_key
HostKey $SSH_DIR/ssh_host_ecdsa_key
HostKey $SSH_DIR/ssh_host_rsa_key
PidFile $SSHD_PIDFILE
AuthorizedKeysFile $SSH_DIR/authorized_keys
# The state folder is under /tmp, which StrictModes would reject.
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
PrintMotd no
PrintLastLog no
X11Forwarding no
SetEnv DOCKER_HOST=unix://$REMOTE_DOCKER_SOCKET
LogLevel VERBOSE
CONF
}

# Starts sshd on the config that write_ssh_files made and waits until a key login works.
start_sshd_process() {
    local port pid
    port=$(sshd_port)
    [[ -n "$port" ]] || die "sshd: no Port in $SSHD_CONFIG"
    [[ -x "$SSHD_BIN" ]] || die "$SSHD_BIN not found (install openssh-server: scripts/install-deps.sh)"
    # The privilege separation folder, compiled into sshd; root-owned, not group/world-writable.
    mkdir -p "$SSHD_PRIVSEP_DIR"
    chmod 755 "$SSHD_PRIVSEP_DIR"
    port_in_use "$port" && die "sshd: port $port is already in use"
    "$SSHD_BIN" -t -f "$SSHD_CONFIG" >>"$SSHD_LOG" 2>&1 ||
        { show_log_tail "$SSHD_LOG"; die "sshd: $SSHD_CONFIG is not valid"; }

    log "sshd: starting on 127.0.0.1:$port (log: $SSHD_LOG)"
    # -D: stay in the foreground (so $! is sshd), -E: log to the file; it still writes PidFile.
    # shellcheck disable=SC2094  # -E and the redirections both append to the log
    setsid "$SSHD_BIN" -D -f "$SSHD_CONFIG" -E "$SSHD_LOG" </dev/null >>"$SSHD_LOG" 2>&1 9>&- &
    pid=$!
    wait_for "sshd on 127.0.0.1:$port" "$pid" "$SSHD_LOG" sshd_answers
}

# Prints the start time of process $1 (field 22 of /proc/<pid>/stat), to recognise it later.
proc_start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }   # the command name, in parentheses, may hold spaces
    # shellcheck disable=SC2086  # split on purpose
    set -- $stat
    printf '%s\n' "${20}"
}

# Prints the pids of every descendant of the processes $@.
descendants_of() {
    ps -e -o pid=,ppid= | awk -v roots="$*" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do {
                added = 0
                for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; print p; added = 1 }
            } while (added)
        }'
}

# Prints the pids of sshd processes that serve a connection to port $1 (they hold a socket
# whose local port is $1). These are found even when the listener is gone.
sshd_connection_pids() {
    local port=$1 pid
    { ss -Htnp state established "( sport = :$port )" 2>/dev/null || true; } |
        { grep -o 'pid=[0-9]*' || true; } |
        cut -d= -f2 | sort -un | while read -r pid; do
            if [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$SSHD_BIN" ]]; then
                printf '%s\n' "$pid"
            fi
        done
}

# Stops sshd: the listener and every per-connection process with what runs in the sessions
# (docker system dial-stdio), so open connections drop as when a machine's sshd goes away.
stop_sshd() {
    local port pid procs="" p t waited=0 left
    port=$(sshd_port)
    pid=$(read_pidfile "$SSHD_PIDFILE" || true)
    if process_is "$pid" sshd; then
        log "sshd: stopping (pid $pid) and its connections"
        # Stopped, the listener accepts no new connection while we list its children.
        kill -STOP "$pid" 2>/dev/null || true
        procs=$(descendants_of "$pid")
    fi
    if [[ -n "$port" ]]; then
        left=$(sshd_connection_pids "$port")
        if [[ -n "$left" ]]; then
            # shellcheck disable=SC2086  # lists of pids
            procs="$procs $left $(descendants_of $left)"
        fi
    fi
    # Remember each process with its start time: a pid reused meanwhile is not touched.
    local -a targets=()
    for p in $procs; do
        [[ "$p" == "$pid" ]] && continue
        t=$(proc_start_time "$p") && targets+=("$p:$t")
    done
    if process_is "$pid" sshd; then
        kill -TERM "$pid" 2>/dev/null || true
        kill -CONT "$pid" 2>/dev/null || true
        stop_process "$pid" sshd 10
    fi
    ((${#targets[@]} == 0)) && return 0
    for p in "${targets[@]}"; do
        if [[ "$(proc_start_time "${p%%:*}")" == "${p#*:}" ]]; then
            kill -TERM "${p%%:*}" 2>/dev/null || true
        fi
    done
    while :; do
        left=""
        for p in "${targets[@]}"; do
            if [[ "$(proc_start_time "${p%%:*}")" == "${p#*:}" ]]; then
                left="$left ${p%%:*}"
            fi
        done
        [[ -z "$left" ]] && break
        if ((waited >= 25)); then
            log "sshd: connection processes$left did not exit within 5s; killing them"
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
}

# ---------------------------------------------------------------------------------------------
# Registries

# Writes the config of registry $1 (open|auth) listening on port $2.
write_registry_config() {
    local name=$1 port=$2 dir="$REGISTRY_DIR/$1"
    mkdir -p "$dir/storage"
    {
        cat <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: $(random_password)
EOF
        if [[ "$name" == auth ]]; then
            cat <<EOF
auth:
  htpasswd:
    realm: berth-test
    path: $HTPASSWD_FILE
EOF
        fi
    } >"$dir/config.yml"
}

# Prints the HTTP status of GET /v2/ on port $1 (000 when nothing answers).
registry_status() {
    curl --silent --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$1/v2/" 2>/dev/null || true
}

registry_answers() {
    local port=$1 expected=$2
    [[ "$(registry_status "$port")" == "$expected" ]]
}

# Starts registry $1 (open|auth) on port $2; $3 is the status /v2/ answers once it is up.
start_registry() {
    local name=$1 port=$2 expected=$3 dir="$REGISTRY_DIR/$1" pid
    write_registry_config "$name" "$port"
    log "registry ($name): starting on 127.0.0.1:$port"
    # The shell writes its own pid, then becomes the registry: the pid file is exact.
    # shellcheck disable=SC2016  # $$ and $0/$1 are for the inner shell
    setsid sh -c 'echo $$ >"$0"; exec docker-registry serve "$1"' \
        "$dir/registry.pid" "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1 9>&- &
    pid=$!
    wait_for "registry ($name) on 127.0.0.1:$port" "$pid" "$dir/registry.log" \
        registry_answers "$port" "$expected"
}

stop_registries() {
    local name pid
    for name in open auth; do
        pid=$(read_pidfile "$REGISTRY_DIR/$name/registry.pid" || true)
        if process_is "$pid" docker-registry; then
            log "registry ($name): stopping (pid $pid)"
            stop_process "$pid" docker-registry 10
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# up / down / env / status

check_state_path() {
    [[ "$STATE" == /* ]] || die "BERTH_TEST_STATE must be an absolute path: $STATE"
    [[ "$STATE" != / && "$STATE" =~ ^[A-Za-z0-9_./-]+$ ]] ||
        die "BERTH_TEST_STATE may hold only letters, digits and _ . / -: $STATE"
}

# Reads a variable from the env file of a running set of services.
env_value() {
    sed -n "s/^export $1=//p" "$ENV_FILE" | tr -d "'\""
}

# True when the env file exists and every service in it answers.
services_answer() {
    [[ -f "$ENV_FILE" ]] || return 1
    local pg_port reg_port auth_port
    pg_port=$(env_value BERTH_TEST_PG_PORT)
    reg_port=$(env_value BERTH_TEST_REGISTRY); reg_port=${reg_port##*:}
    auth_port=$(env_value BERTH_TEST_AUTH_REGISTRY); auth_port=${auth_port##*:}
    postgres_answers "$pg_port" >/dev/null 2>&1 &&
        docker_cli version >/dev/null 2>&1 &&
        engine_cli "$REMOTE_DOCKER_SOCKET" version >/dev/null 2>&1 &&
        sshd_answers >/dev/null 2>&1 &&
        registry_answers "$reg_port" 200 &&
        registry_answers "$auth_port" 401
}

write_env_file() {
    local tmp="$ENV_FILE.tmp" var
    {
        printf '# Berth test services (scripts/test-services.sh); source this file.\n'
        for var in BERTH_TEST_STATE BERTH_TEST_DATABASE_URL BERTH_TEST_PG_PORT \
            BERTH_TEST_PG_SOCKET_DIR BERTH_TEST_DOCKER_SOCKET BERTH_TEST_DOCKER_HOST \
            BERTH_TEST_DOCKER_CONFIG BERTH_TEST_REGISTRY BERTH_TEST_AUTH_REGISTRY \
            BERTH_TEST_REGISTRY_USER BERTH_TEST_REGISTRY_PASSWORD BERTH_TEST_IMAGE \
            BERTH_TEST_REGISTRY_IMAGE BERTH_TEST_AUTH_REGISTRY_IMAGE \
            BERTH_TEST_REMOTE_DOCKER_SOCKET BERTH_TEST_REMOTE_DOCKER_HOST \
            BERTH_TEST_SSH_HOST BERTH_TEST_SSH_PORT BERTH_TEST_SSH_USER \
            BERTH_TEST_SSH_KEY_ED25519 BERTH_TEST_SSH_KEY_ECDSA BERTH_TEST_SSH_KEY_RSA \
            BERTH_TEST_SSH_KEY_RSA_PASSPHRASE BERTH_TEST_SSH_KEY_UNAUTHORIZED \
            BERTH_TEST_SSH_KNOWN_HOSTS BERTH_TEST_SSH_KNOWN_HOSTS_WRONG \
            BERTH_TEST_SSHD_PIDFILE BERTH_TEST_SSHD_STOP BERTH_TEST_SSHD_START \
            BERTH_TEST_REMOTE_DOCKER_STOP BERTH_TEST_REMOTE_DOCKER_START BERTH_TEST_SCHEMATHESIS; do
            printf "export %s='%s'\n" "$var" "${!var}"
        done
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

on_up_failure() {
    local rc=$?
    ((rc == 0)) && return 0
    if [[ "${BERTH_TEST_KEEP_FAILED:-}" == 1 ]]; then
        log "up failed; services left as they are in $STATE (BERTH_TEST_KEEP_FAILED=1); run '$0 down' when done"
    else
        log "up failed; stopping what was started (set BERTH_TEST_KEEP_FAILED=1 to keep it)"
        do_down || true
    fi
    exit "$rc"
}

do_up() {
    [[ "$(id -u)" -eq 0 ]] || die "needs root, because dockerd does (try: sudo $0 up)"
    check_state_path

    if services_answer; then
        log "already up"
        printf '%s\n' "$ENV_FILE"
        return 0
    fi
    if [[ -e "$STATE" ]]; then
        log "found a stale $STATE (not all services answer); cleaning it up first"
        do_down
    fi

    local pg_port reg_port auth_port ssh_port
    PICKED_PORTS=""
    pg_port=$(pick_port "${BERTH_TEST_PG_PORT:-}" 55432 PostgreSQL)
    PICKED_PORTS="$pg_port"
    reg_port=$(pick_port "${BERTH_TEST_REGISTRY_PORT:-}" 55000 "the open registry")
    PICKED_PORTS="$PICKED_PORTS $reg_port"
    auth_port=$(pick_port "${BERTH_TEST_AUTH_REGISTRY_PORT:-}" 55001 "the auth registry")
    PICKED_PORTS="$PICKED_PORTS $auth_port"
    ssh_port=$(pick_port "${BERTH_TEST_SSH_PORT:-}" 2222 sshd)

    mkdir -p "$STATE" "$PG_DIR" "$DOCKER_DIR" "$REMOTE_DOCKER_DIR" "$REGISTRY_DIR" "$SSH_DIR"
    chmod 755 "$STATE"
    touch "$MARKER"
    trap on_up_failure EXIT

    start_postgres "$pg_port"
    start_engine Docker "$DOCKER_DIR" "$DOCKER_SOCKET" x
    start_remote_engine
    write_ssh_files "$ssh_port"
    start_sshd_process

    local password
    password=$(random_password)
    htpasswd -Bbn "$REGISTRY_USER" "$password" >"$HTPASSWD_FILE"
    start_registry open "$reg_port" 200
    start_registry auth "$auth_port" 401

    export BERTH_TEST_STATE="$STATE"
    export BERTH_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$pg_port/$DATABASE"
    export BERTH_TEST_PG_PORT="$pg_port"
    export BERTH_TEST_PG_SOCKET_DIR="$PG_SOCKET_DIR"
    export BERTH_TEST_DOCKER_SOCKET="$DOCKER_SOCKET"
    export BERTH_TEST_DOCKER_HOST="unix://$DOCKER_SOCKET"
    export BERTH_TEST_DOCKER_CONFIG="$CLIENT_CONFIG"
    export BERTH_TEST_REGISTRY="127.0.0.1:$reg_port"
    export BERTH_TEST_AUTH_REGISTRY="127.0.0.1:$auth_port"
    export BERTH_TEST_REGISTRY_USER="$REGISTRY_USER"
    export BERTH_TEST_REGISTRY_PASSWORD="$password"
    export BERTH_TEST_IMAGE="berth-test/busybox:1"
    export BERTH_TEST_REGISTRY_IMAGE="$BERTH_TEST_REGISTRY/berth/busybox:1"
    export BERTH_TEST_AUTH_REGISTRY_IMAGE="$BERTH_TEST_AUTH_REGISTRY/berth/private:1"
    export BERTH_TEST_REMOTE_DOCKER_SOCKET="$REMOTE_DOCKER_SOCKET"
    export BERTH_TEST_REMOTE_DOCKER_HOST="unix://$REMOTE_DOCKER_SOCKET"
    export BERTH_TEST_SSH_HOST=127.0.0.1
    export BERTH_TEST_SSH_PORT="$ssh_port"
    export BERTH_TEST_SSH_USER="$SSH_USER"
    export BERTH_TEST_SSH_KEY_ED25519="$SSH_DIR/id_ed25519"
    export BERTH_TEST_SSH_KEY_ECDSA="$SSH_DIR/id_ecdsa"
    export BERTH_TEST_SSH_KEY_RSA="$SSH_DIR/id_rsa"
    BERTH_TEST_SSH_KEY_RSA_PASSPHRASE=$(cat "$SSH_PASSPHRASE_FILE")
    export BERTH_TEST_SSH_KEY_RSA_PASSPHRASE
    export BERTH_TEST_SSH_KEY_UNAUTHORIZED="$SSH_DIR/id_ed25519_unauthorized"
    export BERTH_TEST_SSH_KNOWN_HOSTS="$SSH_KNOWN_HOSTS"
    export BERTH_TEST_SSH_KNOWN_HOSTS_WRONG="$SSH_KNOWN_HOSTS_WRONG"
    export BERTH_TEST_SSHD_PIDFILE="$SSHD_PIDFILE"
    # Commands a test runs (sh -c) to take sshd away and bring it back; the state is explicit,
    # so they act on these services whatever the test's environment holds.
    export BERTH_TEST_SSHD_STOP="BERTH_TEST_STATE=$STATE $SCRIPT_DIR/test-services.sh sshd-stop"
    export BERTH_TEST_SSHD_START="BERTH_TEST_STATE=$STATE $SCRIPT_DIR/test-services.sh sshd-start"
    export BERTH_TEST_REMOTE_DOCKER_STOP="BERTH_TEST_STATE=$STATE $SCRIPT_DIR/test-services.sh remote-docker-stop"
    export BERTH_TEST_REMOTE_DOCKER_START="BERTH_TEST_STATE=$STATE $SCRIPT_DIR/test-services.sh remote-docker-start"
    # Not a service, but the tests find every outside program through this file.
    # shellcheck source=python-tools.sh
    source "$SCRIPT_DIR/python-tools.sh"
    export BERTH_TEST_SCHEMATHESIS="$SCHEMATHESIS"

    "$SCRIPT_DIR/build-test-images.sh" >&2

    # Written last: its presence means "up finished".
    write_env_file
    trap - EXIT
    log "all services up; variables in $ENV_FILE"
    printf '%s\n' "$ENV_FILE"
}

do_down() {
    check_state_path
    if [[ ! -e "$STATE" ]]; then
        log "nothing to stop ($STATE does not exist)"
        return 0
    fi
    if [[ ! -e "$MARKER" ]]; then
        die "$STATE was not made by this script (no $(basename "$MARKER")); not touching it"
    fi
    stop_sshd
    stop_registries
    # live-restore: containers outlive dockerd, so remove them first.
    remove_remote_containers
    stop_engine "remote Docker" "$REMOTE_DOCKER_DIR"
    stop_engine Docker "$DOCKER_DIR"
    stop_postgres
    unmount_below "$STATE"
    rm -rf "$STATE"
    log "all services stopped; $STATE removed"
}

do_env() {
    [[ -f "$ENV_FILE" ]] || die "services are not up (no $ENV_FILE); run: $0 up"
    cat "$ENV_FILE"
}

# The remote engine: live-restore on, so stopping its dockerd alone leaves its containers
# running, as on a host whose Docker daemon restarts.
start_remote_engine() {
    start_engine "remote Docker" "$REMOTE_DOCKER_DIR" "$REMOTE_DOCKER_SOCKET" xr '{"live-restore": true}'
}

# Removes every container of the remote engine (when it answers).
remove_remote_containers() {
    local ids
    ids=$(engine_cli "$REMOTE_DOCKER_SOCKET" ps -aq 2>/dev/null || true)
    if [[ -n "$ids" ]]; then
        # shellcheck disable=SC2086
        engine_cli "$REMOTE_DOCKER_SOCKET" rm -f $ids >/dev/null 2>&1 || true
    fi
}

# Stops only the remote engine's dockerd; its containerd and containers keep running.
do_remote_docker_stop() {
    local pid
    check_state_path
    pid=$(read_pidfile "$REMOTE_DOCKER_DIR/dockerd.pid" || true)
    process_is "$pid" dockerd || die "the remote engine is not running; run: $0 up"
    log "remote Docker: stopping dockerd (pid $pid); its containers keep running"
    stop_process "$pid" dockerd 60
}

# Starts the remote engine's dockerd again; a no-op when it answers.
do_remote_docker_start() {
    [[ "$(id -u)" -eq 0 ]] || die "needs root: dockerd runs as root"
    check_state_path
    if engine_cli "$REMOTE_DOCKER_SOCKET" version >/dev/null 2>&1; then
        log "remote Docker already answers"
        return 0
    fi
    start_remote_engine
}

# Stops only sshd (and its connections); the rest stays up, and so do its keys and config.
do_sshd_stop() {
    check_state_path
    [[ -f "$SSHD_CONFIG" ]] || die "services are not up (no $SSHD_CONFIG); run: $0 up"
    stop_sshd
    log "sshd stopped (start it again with: $0 sshd-start)"
}

# Starts sshd again on the same port, config and host keys; a no-op when it answers.
do_sshd_start() {
    [[ "$(id -u)" -eq 0 ]] || die "needs root: sshd runs as root"
    check_state_path
    [[ -f "$SSHD_CONFIG" ]] || die "services are not up (no $SSHD_CONFIG); run: $0 up"
    if sshd_answers >/dev/null 2>&1; then
        log "sshd already answers on 127.0.0.1:$(sshd_port)"
        return 0
    fi
    # A listener that is there but does not answer (stopped, hung) goes first.
    stop_sshd
    start_sshd_process
    log "sshd up on 127.0.0.1:$(sshd_port)"
}

do_status() {
    if services_answer; then
        log "up; variables in $ENV_FILE"
    else
        log "not up (or not all services answer)"
        return 1
    fi
}

main() {
    local cmd=${1:-}
    # One `up`, `down`, `sshd-stop` or `sshd-start` at a time for a state folder: the lock sits beside it, since `down`
    # removes the folder itself. The services must not inherit fd 9, or they would hold the
    # lock for as long as they run: each start closes it (9>&-).
    if [[ "$cmd" == up || "$cmd" == down || "$cmd" == sshd-* || "$cmd" == remote-docker-* ]]; then
        mkdir -p "$(dirname "$STATE")"
        exec 9>"$STATE.lock"
        flock -w 300 9 || die "another up/down/sshd-stop/sshd-start holds $STATE.lock"
    fi
    case "$cmd" in
        up) do_up ;;
        down) do_down ;;
        env) do_env ;;
        status) do_status ;;
        sshd-stop) do_sshd_stop ;;
        sshd-start) do_sshd_start ;;
        remote-docker-stop) do_remote_docker_stop ;;
        remote-docker-start) do_remote_docker_start ;;
        *)
            printf 'usage: %s up|down|env|status|sshd-stop|sshd-start|remote-docker-stop|remote-docker-start\n' "$0" >&2
            exit 2
            ;;
    esac
}

main "$@"
