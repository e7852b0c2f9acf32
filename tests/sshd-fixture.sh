#!/usr/bin/env bash
# sshd-fixture.sh: run a command next to a private sshd on loopback.
#
#   tests/sshd-fixture.sh COMMAND [ARGS...]
#
# Starts the system's OpenSSH server (Debian: openssh-server, installed by
# sdk/install-deps.sh) on 127.0.0.1 with a free port, a host key and a client
# key generated for this run in a temporary directory, then runs COMMAND with
# these in its environment:
#
#   DP_TEST_SSHD_PORT        the port
#   DP_TEST_SSHD_PID         sshd's pid (its children are the sessions)
#   DP_TEST_SSH_DIR          the temporary directory
#   DP_TEST_SSH_IDENTITY     the client's private key (authorized)
#   DP_TEST_SSH_OTHER_IDENTITY  a key that is NOT authorized
#   DP_TEST_SSH_KNOWN_HOSTS  a known_hosts file that lists the host key
#   DP_TEST_SSH_WRONG_KNOWN_HOSTS  one that lists another key for the host
#   DP_TEST_SSH_CONFIG       an ssh_config with "Host dp-test" (HostName,
#                            Port, User, IdentityFile, UserKnownHostsFile)
#
# COMMAND's standard output is left alone (meson reads TAP from it); the
# fixture talks on standard error. sshd is stopped and the directory removed
# when COMMAND ends, whatever happens; COMMAND's exit status is the script's.
set -euo pipefail

. "$(dirname "$0")/sshd-lib.sh"
sshd_check || { echo "sshd-fixture: cannot run" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/dp-sshd.XXXXXX")
chmod 700 "$dir"
sshd_pid=
sshd_drain_pid=

cleanup() {
  if [ -n "$sshd_pid" ]; then
    sshd_stop "$sshd_pid" "$sshd_drain_pid"
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sshd_keygen "$dir/host_key" dp-test-host
sshd_keygen "$dir/id_client" dp-test-client
sshd_keygen "$dir/id_other" dp-test-other
sshd_keygen "$dir/wrong_host_key" dp-test-wrong-host
cp "$dir/id_client.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"
sshd_prepare

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

started=
for _ in 1 2 3 4 5; do
  port=$(free_port)
  sshd_write_config "$dir/sshd_config" "$port" 127.0.0.1 "$dir/host_key" "$dir/sshd.pid" \
    "$dir/authorized_keys"
  if sshd_start sshd "$dir/sshd_config"; then started=1; break; fi
done
if [ -z "$started" ]; then
  echo "sshd-fixture: could not start $SSHD" >&2
  exit 1
fi

echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" > "$dir/known_hosts"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/wrong_host_key.pub")" > "$dir/wrong_known_hosts"
ssh_config_entry dp-test 127.0.0.1 "$port" "$dir/id_client" "$dir/known_hosts" > "$dir/ssh_config"

export DP_TEST_SSHD_PORT=$port
export DP_TEST_SSHD_PID=$sshd_pid
export DP_TEST_SSH_DIR=$dir
export DP_TEST_SSH_IDENTITY=$dir/id_client
export DP_TEST_SSH_OTHER_IDENTITY=$dir/id_other
export DP_TEST_SSH_KNOWN_HOSTS=$dir/known_hosts
export DP_TEST_SSH_WRONG_KNOWN_HOSTS=$dir/wrong_known_hosts
export DP_TEST_SSH_CONFIG=$dir/ssh_config

echo "sshd-fixture: sshd (pid $sshd_pid) on 127.0.0.1:$port, keys in $dir" >&2
status=0
"$@" || status=$?
exit $status
