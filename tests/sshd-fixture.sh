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

SSHD=${SSHD:-/usr/sbin/sshd}
if [ ! -x "$SSHD" ]; then
  echo "sshd-fixture: $SSHD not found; run sdk/install-deps.sh (openssh-server)" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/dp-sshd.XXXXXX")
chmod 700 "$dir"
sshd_pid=
drain_pid=

cleanup() {
  if [ -n "$sshd_pid" ]; then
    # sessions still open (a test that failed half-way): their nodes see
    # their stdin close and exit
    pkill -TERM -P "$sshd_pid" 2>/dev/null || true
    kill "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
  fi
  if [ -n "$drain_pid" ]; then
    wait "$drain_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ssh-keygen -q -t ed25519 -N '' -C dp-test-host -f "$dir/host_key"
ssh-keygen -q -t ed25519 -N '' -C dp-test-client -f "$dir/id_client"
ssh-keygen -q -t ed25519 -N '' -C dp-test-other -f "$dir/id_other"
ssh-keygen -q -t ed25519 -N '' -C dp-test-wrong-host -f "$dir/wrong_host_key"
cp "$dir/id_client.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"

if [ "$(id -u)" = 0 ]; then
  # sshd's privilege separation directory (normally made by its unit)
  mkdir -p /run/sshd
  chmod 755 /run/sshd
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_sshd() {
  port=$(free_port)
  cat > "$dir/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
PrintMotd no
LogLevel INFO
MaxStartups 64
MaxSessions 64
EOF
  rm -f "$dir/sshd.err"
  mkfifo "$dir/sshd.err"
  "$SSHD" -D -e -f "$dir/sshd_config" 2> "$dir/sshd.err" &
  sshd_pid=$!
  exec 3< "$dir/sshd.err"
  # sshd says when it listens (or why it cannot): read until either
  while IFS= read -r -t 20 line <&3; do
    echo "sshd: $line" >&2
    case "$line" in
      *"Server listening on"*) return 0 ;;
      *"Bind to port"*|*"Cannot bind"*|*"fatal"*) break ;;
    esac
  done
  kill "$sshd_pid" 2>/dev/null || true
  wait "$sshd_pid" 2>/dev/null || true
  sshd_pid=
  exec 3<&-
  return 1
}

started=
for _ in 1 2 3 4 5; do
  if start_sshd; then started=1; break; fi
done
if [ -z "$started" ]; then
  echo "sshd-fixture: could not start $SSHD" >&2
  exit 1
fi
# keep sshd's log flowing to our stderr
cat <&3 | sed 's/^/sshd: /' >&2 &
drain_pid=$!
exec 3<&-

echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" > "$dir/known_hosts"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/wrong_host_key.pub")" > "$dir/wrong_known_hosts"
cat > "$dir/ssh_config" <<EOF
Host dp-test
  HostName 127.0.0.1
  Port $port
  User $(id -un)
  IdentityFile $dir/id_client
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
EOF

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
