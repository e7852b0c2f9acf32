#!/usr/bin/env bash
# netns.sh: many hosts on one machine — a network namespace per host, an
# sshd in each, joined by a bridge — around a command; and the faults a test
# makes on that network.
#
#   tests/netns/netns.sh [--hosts N] COMMAND [ARGS...]    (root; N: 16)
#
# Makes, for this run only (names carry the script's pid, so parallel runs
# never meet, and a run killed with SIGKILL is swept away by the next one):
#
#   dpnet-PID-br        a namespace holding two bridges: br0, the network,
#                       and br1, where partitioned hosts are moved
#   dpnet-PID-h01 ...   one namespace per host: loopback up, eth0 (a veth
#                       whose other end, p01..., is a port of br0) with
#                       10.213.S.11, .12, ... and an sshd (Debian's
#                       openssh-server) listening on it, port 22
#   dpnetPID            the root namespace's end of a veth to br0, with
#                       10.213.S.1/24: where the master (the COMMAND) lives
#
# S is a subnet of 10.213.0.0/16 (a private range used only inside these
# namespaces) that no other run holds. The build's dp-node is reachable in
# every host: namespaces split the network, not the file system. Keys (a
# host key per host, one client key) are made for the run. COMMAND runs with:
#
#   DP_TEST_NETNS_DIR        the run's directory (keys, configs, state)
#   DP_TEST_NETNS_CTL        this script, for the faults below
#   DP_TEST_NETNS_HOSTS      the hosts' names: "h01 h02 ... h16"
#   DP_TEST_SSH_CONFIG       an ssh_config naming the hosts (HostName, Port,
#                            User, IdentityFile, UserKnownHostsFile)
#   DP_TEST_SSH_IDENTITY     the client's private key
#   DP_TEST_SSH_KNOWN_HOSTS  a known_hosts file listing every host's key
#
# Faults, run by the test while COMMAND runs (DP_TEST_NETNS_DIR set):
#
#   netns.sh link-down HOST...   the host's cable is pulled (its bridge port
#                                goes down: nothing passes, no reset is sent)
#   netns.sh link-up HOST...
#   netns.sh partition HOST...   these hosts move to a bridge of their own:
#                                they reach each other, not the rest nor the
#                                master
#   netns.sh heal HOST...        back on the network
#   netns.sh kill-sshd HOST      SIGKILL the host's sshd listener (returns
#                                once it has ended)
#   netns.sh start-sshd HOST     start it again (returns once it listens)
#
# Everything (every process in the namespaces: sshds, their sessions, the
# nodes; the namespaces, veths and bridges) is removed when COMMAND ends,
# whatever happens; COMMAND's exit status is the script's. COMMAND's
# standard output is left alone (meson reads TAP from it).
set -euo pipefail

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
prefix=dpnet
range=10.213

die() { echo "netns: $*" >&2; exit 1; }

# ---- faults (the test's side) ----

ctl_state() {
  [ -n "${DP_TEST_NETNS_DIR:-}" ] && [ -f "$DP_TEST_NETNS_DIR/state" ] ||
    die "DP_TEST_NETNS_DIR is not set: run the test through tests/netns/netns.sh"
  # shellcheck source=/dev/null
  . "$DP_TEST_NETNS_DIR/state"
}

# host NAME -> its index (h07 -> 07), or fail
host_index() {
  case "$1" in
    h[0-9][0-9]) [ -f "$DP_TEST_NETNS_DIR/$1.sshd_config" ] || die "no host $1 in this run"
                 echo "${1#h}" ;;
    *) die "no host $1 in this run" ;;
  esac
}

case "${1:-}" in
  link-down|link-up)
    ctl_state
    state=${1#link-}; shift
    for h in "$@"; do
      ip -n "$brns" link set dev "p$(host_index "$h")" "$state"
    done
    exit 0 ;;
  partition|heal)
    ctl_state
    bridge=br1; [ "$1" = heal ] && bridge=br0
    shift
    for h in "$@"; do
      ip -n "$brns" link set dev "p$(host_index "$h")" master "$bridge"
    done
    exit 0 ;;
  kill-sshd)
    ctl_state
    host_index "$2" >/dev/null
    pid=$(cat "$DP_TEST_NETNS_DIR/$2.sshd.pid")
    kill -KILL "$pid"
    # kill returns before the process has ended: until then its listening
    # socket still completes handshakes (and resets them as it closes).
    # Return once it has ended (its pidfd is readable; a hang guard of 60 s).
    python3 -c '
import os, select, sys
try:
    fd = os.pidfd_open(int(sys.argv[1]))
except ProcessLookupError:
    sys.exit(0)
p = select.poll()
p.register(fd, select.POLLIN)
sys.exit(0 if p.poll(60000) else 1)' "$pid" || die "sshd of $2 (pid $pid) did not end"
    exit 0 ;;
  start-sshd)
    ctl_state
    host_index "$2" >/dev/null
    . "$(dirname "$self")/../sshd-lib.sh"
    # returns once it listens; its log goes to a file (the caller may be
    # reading our stderr to its end), and it is left running: the fixture's
    # end removes every process in the namespace
    sshd_start "sshd $2" "$DP_TEST_NETNS_DIR/$2.sshd_config" ip netns exec "$prefix-$run-$2" \
      2>> "$DP_TEST_NETNS_DIR/$2.sshd.log" || die "could not start the sshd of $2 again"
    exit 0 ;;
esac

# ---- the fixture ----

hosts=16
if [ "${1:-}" = --hosts ]; then
  hosts=$2; shift 2
fi
[ "$hosts" -ge 1 ] && [ "$hosts" -le 99 ] || die "--hosts: 1 to 99"
[ $# -ge 1 ] || die "usage: $0 [--hosts N] COMMAND [ARGS...]"

if [ "$(id -u)" != 0 ]; then
  # TAP for meson, and why, for whoever reads the log
  echo "Bail out! the netns suite needs root (network namespaces, veth pairs, an sshd per namespace); run it as root, as CI does"
  die "this suite needs root: it creates network namespaces, veth pairs and a bridge, and starts an sshd in each namespace; run the tests as root (CI does)"
fi
command -v ip >/dev/null || die "ip not found; run sdk/install-deps.sh (iproute2)"
. "$(dirname "$self")/../sshd-lib.sh"
sshd_check || die "cannot run"

run=$$
brns=$prefix-$run-br
mveth=$prefix$run
tmp=${TMPDIR:-/tmp}
dir=$tmp/dp-netns.$run
declare -a sshd_pids=() drain_pids=()

# every process in namespace $1 (sshds first, gently: their sessions end
# and the nodes see their stdin close), then the namespace
remove_netns() {
  local ns=$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
}

cleanup() {
  local p ns
  for p in "${sshd_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-$run-" || true); do
    remove_netns "$ns"
  done
  ip link del "$mveth" 2>/dev/null || true
  for p in "${sshd_pids[@]}" "${drain_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Under a lock (runs may start side by side): sweep what runs that are gone
# left behind (namespaces with every process in them, veths, directories),
# and take a subnet nobody holds.
mkdir -p /run/lock
exec {lock}> /run/lock/dpnet.lock
flock "$lock"
for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix-[0-9]*-" || true); do
  owner=${ns#"$prefix-"}; owner=${owner%%-*}
  if ! grep -qs netns.sh "/proc/$owner/cmdline"; then
    echo "netns: removing $ns, left by run $owner (gone)" >&2
    remove_netns "$ns"
  fi
done
for link in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^$prefix[0-9]*$" || true); do
  owner=${link#"$prefix"}
  grep -qs netns.sh "/proc/$owner/cmdline" || ip link del "$link" 2>/dev/null || true
done
for d in "$tmp"/dp-netns.*; do
  owner=${d##*.}
  if [ -d "$d" ] && ! grep -qs netns.sh "/proc/$owner/cmdline"; then rm -rf "$d"; fi
done
rm -rf "$dir"
mkdir -m 700 "$dir"
subnet=
used=$(ip -4 -o addr show | awk '{print $4}')
for s in $(seq 1 254); do
  if ! grep -q "^$range\.$s\." <<< "$used"; then subnet=$s; break; fi
done
[ -n "$subnet" ] || die "no free subnet in $range.0.0/16"
net=$range.$subnet

ip netns add "$brns"
ip -n "$brns" link set lo up
for b in br0 br1; do
  ip -n "$brns" link add "$b" type bridge
  ip -n "$brns" link set "$b" up
done
ip link add "$mveth" type veth peer name m netns "$brns"
ip -n "$brns" link set dev m master br0 up
ip addr add "$net.1/24" dev "$mveth"
ip link set "$mveth" up
flock -u "$lock"
exec {lock}>&-

sshd_keygen "$dir/id_client" dp-netns-client
cp "$dir/id_client.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"
sshd_prepare
: > "$dir/known_hosts"
: > "$dir/ssh_config"
names=()
for i in $(seq 1 "$hosts"); do
  h=$(printf 'h%02d' "$i")
  ns=$prefix-$run-$h
  addr=$net.$((10 + i))
  names+=("$h")
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$brns" link add "p${h#h}" type veth peer name eth0 netns "$ns"
  ip -n "$brns" link set dev "p${h#h}" master br0 up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up

  sshd_keygen "$dir/$h.host_key" "dp-netns-$h"
  echo "$addr $(cut -d' ' -f1,2 "$dir/$h.host_key.pub")" >> "$dir/known_hosts"
  ssh_config_entry "$h" "$addr" 22 "$dir/id_client" "$dir/known_hosts" >> "$dir/ssh_config"
  # sessions whose client is cut off for good end within ~6 s, and the
  # nodes they started with them (their standard input closes)
  sshd_write_config "$dir/$h.sshd_config" 22 "$addr" "$dir/$h.host_key" "$dir/$h.sshd.pid" \
    "$dir/authorized_keys" "ClientAliveInterval 2" "ClientAliveCountMax 3"
  sshd_start "sshd $h" "$dir/$h.sshd_config" ip netns exec "$ns" || die "could not start sshd in $ns"
  sshd_pids+=("$sshd_pid")
  drain_pids+=("$sshd_drain_pid")
done

cat > "$dir/state" <<EOF
run=$run
brns=$brns
EOF

export DP_TEST_NETNS_DIR=$dir
export DP_TEST_NETNS_CTL=$self
export DP_TEST_NETNS_HOSTS="${names[*]}"
export DP_TEST_SSH_CONFIG=$dir/ssh_config
export DP_TEST_SSH_IDENTITY=$dir/id_client
export DP_TEST_SSH_KNOWN_HOSTS=$dir/known_hosts

echo "netns: $hosts hosts (${names[0]}..${names[-1]}) on $net.0/24, master $net.1, run $run, files in $dir" >&2
status=0
"$@" || status=$?
exit $status
