#!/usr/bin/env bash
# Everything the build and the whole test suite need on a fresh Debian 12 machine,
# as root: the Debian packages (install-deps.sh), tshark for the 4o6 interop test
# (install-tshark.sh), ISC dhclient with DHCPv4-over-DHCPv6 for the real-client test
# (build-dhclient-4o6.sh) and a running PostgreSQL for the shared lease store's tests
# (start-postgres.sh). Idempotent. The README's test command and .ci/run call it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-deps.sh"
bash "$here/install-tshark.sh"
bash "$here/build-dhclient-4o6.sh"
bash "$here/start-postgres.sh"
