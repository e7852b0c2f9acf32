#!/usr/bin/env bash
# Installs the Debian packages libdp needs to build, test and benchmark.
# Idempotent: does nothing when everything is already there.
#
#   sdk/install-deps.sh            # build + tests + benchmarks
#
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libjson-glib-dev libltdl-dev libssh-dev
  glib-networking                        # GIO's TLS backend (GnuTLS): TLS on node connections
  libgnutls28-dev                        # dp-tls.so: the cluster CA and node certificates
  openssh-server openssh-client          # the tests start their own sshd on loopback
  iproute2                               # the netns suite: namespaces, veths, bridges (ip)
  libzmq3-dev                            # the ZeroMQ baseline in bench/
  openmpi-bin libopenmpi-dev             # the Open MPI baseline of W5 (bench/mpi-collectives.c)
  clang libclang-rt-dev                  # the libFuzzer harnesses in tests/fuzz/ (the
                                         #   runtime is only a recommendation of clang's)
  python3                                # bench/run.py; the ssh and netns test fixtures
  gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0  # Dp-1.0.gir/typelib
  python3-gi                             # samples/python/ (run by the tests)
  gi-docgen                              # the API reference (-Ddocs=true) and its test
  man-db groff-base                      # the man pages' tests (man -l, groff)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
