# sshd-lib.sh: what the test fixtures that run a private OpenSSH server
# share (sourced by tests/sshd-fixture.sh and tests/netns/netns.sh; bash).
#
#   sshd_check                      the server is installed, or say how to get it
#   sshd_keygen FILE COMMENT        an ed25519 key pair without a passphrase
#   sshd_prepare                    sshd's privilege separation directory (root)
#   sshd_write_config FILE PORT ADDRESS HOST_KEY PID_FILE AUTHORIZED_KEYS [LINE...]
#   sshd_start LABEL CONFIG [WRAPPER...]
#                                   starts sshd -D (through WRAPPER, e.g.
#                                   `ip netns exec NS`) and returns once it
#                                   listens (0) or has failed (1); sets
#                                   sshd_pid, and sshd_drain_pid: the process
#                                   copying its log to our stderr, each line
#                                   prefixed with "LABEL: "
#   sshd_stop PID [DRAIN_PID]       stops it and its sessions, waits for both
#   ssh_config_entry ALIAS HOSTNAME PORT IDENTITY KNOWN_HOSTS
#                                   a client's "Host ALIAS" block, on stdout
#
# Debian's openssh-server (sdk/install-deps.sh installs it).

SSHD=${SSHD:-/usr/sbin/sshd}

sshd_check() {
  if [ ! -x "$SSHD" ]; then
    echo "$SSHD not found; run sdk/install-deps.sh (openssh-server)" >&2
    return 1
  fi
}

sshd_keygen() {
  ssh-keygen -q -t ed25519 -N '' -C "$2" -f "$1"
}

sshd_prepare() {
  if [ "$(id -u)" = 0 ]; then
    # normally made by sshd's unit
    mkdir -p /run/sshd
    chmod 755 /run/sshd
  fi
}

sshd_write_config() {
  local file=$1 port=$2 address=$3 host_key=$4 pid_file=$5 authorized=$6
  local home
  shift 6
  # The sessions' HOME is an empty directory of this run: bash, started by
  # sshd for the node's command, reads ~/.bashrc, and the invoking user's
  # may do anything there (pyenv's init takes a lock that a session
  # killed by a test, e.g. a netns host torn down, leaves behind: every
  # later session then waits on it and no node starts). The nodes need
  # nothing from HOME: secret and credentials come over stdin.
  home=$(dirname "$file")/session-home
  mkdir -p "$home"
  {
    cat <<EOF
Port $port
ListenAddress $address
HostKey $host_key
PidFile $pid_file
AuthorizedKeysFile $authorized
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
SetEnv HOME=$home
EOF
    local line
    for line in "$@"; do echo "$line"; done
  } > "$file"
}

sshd_start() {
  local label=$1 config=$2 line fifo
  shift 2
  fifo="$config.err"
  rm -f "$fifo"
  mkfifo "$fifo"
  "$@" "$SSHD" -D -e -f "$config" < /dev/null > /dev/null 2> "$fifo" &
  sshd_pid=$!
  sshd_drain_pid=
  exec {sshd_fd}< "$fifo"
  rm -f "$fifo"
  # sshd says when it listens (or why it cannot): read until either
  while IFS= read -r -t 20 line <&"$sshd_fd"; do
    echo "$label: $line" >&2
    case "$line" in
      *"Server listening on"*)
        # keep its log flowing to our stderr
        sed -u "s/^/$label: /" <&"$sshd_fd" >&2 &
        sshd_drain_pid=$!
        exec {sshd_fd}<&-
        return 0 ;;
      *"Bind to port"*|*"Cannot bind"*|*"fatal"*) break ;;
    esac
  done
  exec {sshd_fd}<&-
  sshd_stop "$sshd_pid"
  sshd_pid=
  return 1
}

sshd_stop() {
  local pid=$1 drain=${2:-}
  # sessions still open (a test that failed half-way): their nodes see
  # their stdin close and exit
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -n "$drain" ]; then
    wait "$drain" 2>/dev/null || true
  fi
}

ssh_config_entry() {
  cat <<EOF
Host $1
  HostName $2
  Port $3
  User $(id -un)
  IdentityFile $4
  UserKnownHostsFile $5
  StrictHostKeyChecking yes
EOF
}
