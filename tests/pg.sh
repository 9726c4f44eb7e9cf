#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for the scale-out tests and prints its
# DATABASE_URL (`start`), or stops it (`stop`). initdb refuses to run as root, so as root
# the server runs as Debian's `postgres` user.
set -euo pipefail
DIR=${BIZAGENT_PG_DIR:-/tmp/bizagent-test-pg}
PORT=${BIZAGENT_PG_PORT:-54329}
BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$BINDIR" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    if [ -f "$DIR/data/postmaster.pid" ]; then
      as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
    as_owner "$BINDIR/initdb" -D "$DIR/data" -A trust -U bizagent -E UTF8 >/dev/null
    as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
      start >/dev/null
    as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U bizagent bizagent
    echo "postgres://bizagent@127.0.0.1:$PORT/bizagent"
    ;;
  stop)
    as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
