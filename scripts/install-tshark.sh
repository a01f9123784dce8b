#!/usr/bin/env bash
# Install Debian's tshark for the 4o6 interop test (test/dhcp/tshark.test.ts), without
# the interactive "non-superusers may capture" question (wireshark-common/install-setuid
# preseeded to false). Idempotent. Run as root (or with sudo). .ci/run calls it before
# `npm test`.
set -euo pipefail
if command -v tshark >/dev/null 2>&1; then
  echo "install-tshark.sh: $(tshark -v 2>/dev/null | head -n1)"
  exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-tshark.sh: must run as root (or with sudo available)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends tshark
echo "install-tshark.sh: $(tshark -v 2>/dev/null | head -n1)"
