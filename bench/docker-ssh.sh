#!/usr/bin/env bash
# Submit → running on a Docker engine over SSH: Berth against `docker -H ssh://…`, in one run.
#
#   bench/docker-ssh.sh [runs]     (default 20)
#
# Starts the test services (second dockerd behind the test sshd, PostgreSQL) unless they are
# up, builds the docker-ssh plugin and the benchmark in release mode, and prints one table
# (bench/README.md explains the rows). The Docker CLI reaches the sshd through an `ssh` wrapper
# that adds a config file with the rig's key and known_hosts; the `-mux` alias keeps its SSH
# connection open between commands (ControlMaster), as Berth keeps its session.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
export PATH="/opt/swift/usr/bin:$PATH"

scripts/install-deps.sh
started=""
if ! scripts/test-services.sh status >/dev/null 2>&1; then started=1; fi
env_file=$(scripts/test-services.sh up)
# shellcheck source=/dev/null
source "$env_file"

work=$(mktemp -d /tmp/berth-bench-ssh.XXXXXX)
cleanup() {
    ssh -F "$work/ssh_config" -O exit berth-bench-mux >/dev/null 2>&1 || true
    rm -rf "$work"
    if [[ -n "$started" ]]; then scripts/test-services.sh down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

cat >"$work/ssh_config" <<CONFIG
Host berth-bench berth-bench-mux
    HostName $BERTH_TEST_SSH_HOST
    Port $BERTH_TEST_SSH_PORT
    User $BERTH_TEST_SSH_USER
    IdentityFile $BERTH_TEST_SSH_KEY_ED25519
    IdentitiesOnly yes
    UserKnownHostsFile $BERTH_TEST_SSH_KNOWN_HOSTS
    StrictHostKeyChecking yes
    BatchMode yes
Host berth-bench-mux
    ControlMaster auto
    ControlPath $work/mux-%C
    ControlPersist 120
CONFIG
mkdir -p "$work/bin"
cat >"$work/bin/ssh" <<WRAPPER
#!/bin/sh
exec /usr/bin/ssh -F "$work/ssh_config" "\$@"
WRAPPER
chmod +x "$work/bin/ssh"
export PATH="$work/bin:$PATH"
export BERTH_BENCH_DOCKER_HOST=berth-bench

swift build -c release --product BerthDockerSSH
swift build -c release --product DockerSSHBench
bin="$(swift build -c release --show-bin-path)"
"$bin/DockerSSHBench" "$runs"
