#!/usr/bin/env bash
# A private PostgreSQL cluster for tests and benchmarks: its own folder, a loopback port,
# trust authentication for loopback only, database and role "baton". Never touches the
# system's cluster.
#   tools/pg-cluster.sh start DIR PORT   -> prints postgres://baton@127.0.0.1:PORT/baton
#   tools/pg-cluster.sh stop DIR         (fast shutdown; the folder stays)
#   tools/pg-cluster.sh kill DIR         (immediate shutdown, as a crash)
# As root the server runs as the `postgres` user (PostgreSQL refuses root).
set -euo pipefail
cmd="${1:?start|stop|kill}"; dir="${2:?cluster folder}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$bin/pg_ctl" ]] || { echo "pg-cluster: PostgreSQL is not installed (tools/install-deps.sh --test)" >&2; exit 2; }
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  start)
    port="${3:?port}"
    mkdir -p "$dir"
    # The server user must reach the folder: the parent (often a mktemp -d, mode 700) gets a+x.
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; chmod a+x "$(dirname "$dir")"; fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # Loopback only; fsync off is for tests (only a crash of the machine could lose commits; a
    # killed server loses none: synchronous_commit stays on).
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=100" start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; exit 1; }
    if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='baton'" | grep -q 1; then
      as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE ROLE baton LOGIN" >/dev/null
      as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE baton OWNER baton" >/dev/null
    fi
    echo "postgres://baton@127.0.0.1:$port/baton"
    ;;
  stop) as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true ;;
  kill) as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2; exit 2 ;;
esac
