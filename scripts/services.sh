#!/usr/bin/env bash
# Install (from Debian's packages, where missing) and start the services the tests need:
# PostgreSQL, Redis, Chromium, an S3 server (moto) and promtool. Idempotent; prints the URLs to export.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v chromium >/dev/null || need+=(chromium)
command -v curl >/dev/null || need+=(curl)  # waits for the S3 server below
command -v promtool >/dev/null || need+=(prometheus)  # ships promtool, for tests/deploy
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "services: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi

# PostgreSQL: start the newest installed cluster (create one if the package made none).
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$pg_version "; then
  pg_createcluster "$pg_version" main >&2
fi
if ! pg_lsclusters -h | grep "^$pg_version " | grep -q online; then
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start >&2
fi
pg_port=$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v {print $3; exit}')
for _ in $(seq 50); do
  su postgres -c "psql -p $pg_port -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
su postgres -c "psql -p $pg_port -qAtc \"select 1 from pg_roles where rolname = 'dpoloop'\"" | grep -q 1 ||
  su postgres -c "psql -p $pg_port -qc \"create role dpoloop login createdb password 'dpoloop'\"" >&2
# Tests drop their databases WITH (FORCE), which must be able to end autovacuum workers too.
su postgres -c "psql -p $pg_port -qc 'grant pg_signal_backend to dpoloop'" >&2

# Redis: a private, non-persistent instance.
redis_port=${DPOLOOP_TEST_REDIS_PORT:-6379}
if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes --save '' --appendonly no >&2
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

# S3: moto's standalone server (from the package index, in .venv), an S3-compatible store for the
# object-storage tests; in memory, so a restart empties it.
s3_port=${DPOLOOP_TEST_S3_PORT:-9977}
if ! curl -s -o /dev/null "http://127.0.0.1:$s3_port/"; then
  nohup "$(dirname "$0")/../.venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >/tmp/dpoloop-moto.log 2>&1 &
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3_port/" && break; sleep 0.1; done
  curl -s -o /dev/null "http://127.0.0.1:$s3_port/" || { echo "services: moto_server did not start" >&2; exit 1; }
fi

echo "export DPOLOOP_TEST_POSTGRES_URL=postgresql+psycopg://dpoloop:dpoloop@127.0.0.1:$pg_port/postgres"
echo "export DPOLOOP_TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
echo "export DPOLOOP_TEST_CHROMIUM=$(command -v chromium)"
echo "export DPOLOOP_TEST_S3_URL=http://127.0.0.1:$s3_port"
