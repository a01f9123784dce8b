#!/usr/bin/env bash
# Install the system packages that building the native AF_XDP shim (native/) and
# running its integration tests (test/native/) need, on Debian 12 (bookworm).
#
# Idempotent: packages already installed are left alone; `apt-get update` runs at
# most once per invocation, and only when something is missing.
#
#   libxdp-dev libbpf-dev   xsk.h / libxdp.h / bpf helpers + the libraries to link
#   libelf-dev zlib1g-dev   libbpf's own link dependencies (pkg-config --libs libbpf)
#   pkg-config              binding.gyp asks it for libxdp/libbpf flags
#   clang llvm              clang -target bpf for native/bpf, llvm-strip
#   linux-libc-dev          <linux/if_xdp.h>, <linux/bpf.h>, and the multiarch
#                           <asm/...> headers that clang -target bpf reaches through
#                           -I/usr/include/<multiarch> (see native/bpf/Makefile)
#   build-essential python3 node-gyp's toolchain (g++, make, python3)
#   iproute2                the tests: ip netns / veth / ip link (xdp)
#   iputils-ping            the tests: ping through the steered interface
#   ethtool                 the netns lab (bench/lab/): TX checksum offload off on
#                           the hosts' veths (a veth artefact, see topology.ts)
#   iperf3                  the netns lab: TCP transfers through xbr
#   (python3 also runs test/native/fixtures/inject.py and the lab's userspace lw4o6
#   B4, bench/lab/b4.py; clang builds the lab bench's XDP sink; util-linux, which is
#   essential, provides setpriv and prlimit for the ENOBUFS/EPERM test)
set -euo pipefail

PKGS=(
  build-essential
  python3
  pkg-config
  clang
  llvm
  libxdp-dev
  libbpf-dev
  libelf-dev
  zlib1g-dev
  linux-libc-dev
  iproute2
  iputils-ping
  ethtool
  iperf3
)

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps.sh: must run as root (or with sudo available)" >&2
    exit 1
  fi
fi

missing=()
for p in "${PKGS[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all ${#PKGS[@]} packages already installed"
else
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Sanity: the headers the BPF build needs must now be where the Makefile looks.
multiarch="$(gcc -print-multiarch 2>/dev/null || true)"
if [ -n "$multiarch" ] && [ ! -d "/usr/include/$multiarch/asm" ]; then
  echo "install-deps.sh: /usr/include/$multiarch/asm missing (linux-libc-dev?)" >&2
  exit 1
fi
pkg-config --exists libxdp libbpf || {
  echo "install-deps.sh: pkg-config cannot find libxdp/libbpf" >&2
  exit 1
}
echo "install-deps.sh: ok (libxdp $(pkg-config --modversion libxdp), libbpf $(pkg-config --modversion libbpf), $(clang --version | head -n1))"
