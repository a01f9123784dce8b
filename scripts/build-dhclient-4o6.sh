#!/usr/bin/env bash
# Builds ISC dhclient 4.4 with DHCPv4-over-DHCPv6 (`--enable-dhcpv4o6`) for the 4o6
# interop test (test/dhcp/dhclient.test.ts): Debian's isc-dhcp-client is built
# without it. The source is Debian 12's own isc-dhcp source package, fetched with
# apt-get source through a private deb-src list (the machine's apt configuration is
# left alone; apt checks the files against the signed Sources index). Installs one
# binary, /opt/xbr/dhclient-4o6/dhclient (or $XBR_DHCLIENT_4O6). Idempotent. Needs
# root for /opt (or set XBR_DHCLIENT_4O6), and build-essential (install-deps.sh).
# scripts/setup.sh calls it; about a minute on 2 cores.
set -euo pipefail
out="${XBR_DHCLIENT_4O6:-/opt/xbr/dhclient-4o6/dhclient}"
if [ -x "$out" ] && "$out" --version 2>&1 | grep -q 'isc-dhclient-4'; then
  echo "build-dhclient-4o6.sh: $out is there"
  exit 0
fi
work="$(mktemp -d /tmp/xbr-dhclient-XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources.d" "$work/lists/partial"
cat > "$work/sources.d/isc-dhcp-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_private=(-o APT::Sandbox::User=root -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/sources.d" -o Dir::State::Lists="$work/lists")
apt-get "${apt_private[@]}" -qq update
(cd "$work" && apt-get "${apt_private[@]}" -qq source --download-only isc-dhcp)
tar -xzf "$work"/isc-dhcp_*.orig.tar.gz -C "$work"
src="$(find "$work" -maxdepth 1 -type d -name 'dhcp-4.4*' | head -n1)"
(cd "$src" && ./configure --enable-dhcpv4o6 >"$work/configure.log" 2>&1 && make -j"$(nproc)" >"$work/make.log" 2>&1) || {
  tail -n 30 "$work/configure.log" "$work/make.log" >&2 || true
  echo "build-dhclient-4o6.sh: the build failed" >&2
  exit 1
}
install -D -m 0755 "$src/client/dhclient" "$out"
echo "build-dhclient-4o6.sh: $("$out" --version 2>&1 | head -n1) with DHCPv4-over-DHCPv6 at $out"
