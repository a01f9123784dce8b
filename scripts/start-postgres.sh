#!/usr/bin/env bash
# Start a local PostgreSQL for the 4o6 lease-store tests (test/dhcp/postgres.test.ts)
# on Debian 12: install Debian's postgresql if missing, start (creating if needed) the
# newest cluster, and create the role and database the tests use:
#   postgres://xbr:xbr@127.0.0.1:5432/xbr   (role xbr may CREATE DATABASE: each test
#   run uses a database of its own and drops it)
# Idempotent. Run as root (or with sudo). .ci/run calls it before `npm test`.
set -euo pipefail

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "start-postgres.sh: must run as root (or with sudo available)" >&2
    exit 1
  fi
fi

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "start-postgres.sh: installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends postgresql
fi

ver="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$ver main"; then
  $SUDO pg_createcluster "$ver" main
fi
if ! pg_lsclusters -h | awk '$1=="'"$ver"'" && $2=="main" {print $4}' | grep -qx online; then
  $SUDO pg_ctlcluster "$ver" main start
fi
port="$(pg_lsclusters -h | awk '$1=="'"$ver"'" && $2=="main" {print $3}')"

for _ in $(seq 1 50); do
  if pg_isready -q -h 127.0.0.1 -p "$port"; then break; fi
  sleep 0.2
done
pg_isready -h 127.0.0.1 -p "$port"

psql_su() {
  if [ -n "$SUDO" ]; then sudo -u postgres psql -p "$port" -v ON_ERROR_STOP=1 -qtAc "$1"
  else runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtAc "$1"; fi
}
if [ "$(psql_su "SELECT 1 FROM pg_roles WHERE rolname = 'xbr'")" != "1" ]; then
  psql_su "CREATE ROLE xbr LOGIN PASSWORD 'xbr' CREATEDB"
fi
# The tests and the bench drop their databases WITH (FORCE), which terminates whatever
# is connected; an autovacuum worker on the database is not xbr's, and without
# pg_signal_backend the DROP fails ("must be a member of the role whose process is being
# terminated or member of pg_signal_backend"; seen in a CI run). Idempotent.
psql_su "GRANT pg_signal_backend TO xbr"
if [ "$(psql_su "SELECT 1 FROM pg_database WHERE datname = 'xbr'")" != "1" ]; then
  psql_su "CREATE DATABASE xbr OWNER xbr"
fi
echo "start-postgres.sh: ok: postgres://xbr:xbr@127.0.0.1:${port}/xbr (PostgreSQL ${ver})"
