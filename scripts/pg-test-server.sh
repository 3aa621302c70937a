#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for the tests (Debian's postgresql package).
#
#   scripts/pg-test-server.sh start        # prints postgresql://postgres@127.0.0.1:PORT/servelab
#   scripts/pg-test-server.sh stop [DIR]   # stops it and removes its folder
#   scripts/pg-test-server.sh url  [DIR]   # prints the URL again
#
# The cluster lives in a fresh temp folder (data + unix socket), trusts loopback connections
# only, and runs as the `postgres` user when started by root (initdb refuses root). Without DIR,
# stop/url use the folder of the last start (recorded in $TMPDIR/servelab-pg-test.last).
# Usage in CI:  export SERVELAB_TEST_PG="$(scripts/pg-test-server.sh start)"; ...; scripts/pg-test-server.sh stop
set -euo pipefail

LAST="${TMPDIR:-/tmp}/servelab-pg-test.last"
DB_NAME=servelab

pg_bin() {
    local name=$1 dir
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir)"
        [[ -x "$dir/$name" ]] && { echo "$dir/$name"; return; }
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x "$dir/$name" ]] && { echo "$dir/$name"; return; }
    done
    command -v "$name" >/dev/null 2>&1 && { command -v "$name"; return; }
    echo "pg-test-server: $name not found (apt-get install -y postgresql)" >&2
    exit 2
}

as_owner() {  # run a command as the cluster's owner
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

folder_of() {
    local dir="${1:-}"
    if [[ -z "$dir" ]]; then
        [[ -f "$LAST" ]] || { echo "pg-test-server: no cluster started (no $LAST)" >&2; exit 2; }
        dir="$(cat "$LAST")"
    fi
    [[ -f "$dir/url" ]] || { echo "pg-test-server: $dir is not a test cluster" >&2; exit 2; }
    echo "$dir"
}

start() {
    local dir port
    dir="$(mktemp -d "${TMPDIR:-/tmp}/servelab-pg.XXXXXX")"
    chmod 755 "$dir"
    mkdir -p "$dir/data" "$dir/socket"
    [[ $(id -u) -eq 0 ]] && chown -R postgres: "$dir"
    as_owner "$(pg_bin initdb)" -D "$dir/data" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    port="$(free_port)"
    as_owner "$(pg_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/socket -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off" >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$(pg_bin createdb)" -h 127.0.0.1 -p "$port" -U postgres "$DB_NAME"
    echo "postgresql://postgres@127.0.0.1:$port/$DB_NAME" >"$dir/url"
    echo "$dir" >"$LAST"
    echo "pg-test-server: cluster in $dir" >&2
    cat "$dir/url"
}

stop() {
    local dir
    dir="$(folder_of "${1:-}")"
    as_owner "$(pg_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    [[ -f "$LAST" && "$(cat "$LAST")" == "$dir" ]] && rm -f "$LAST"
    echo "pg-test-server: stopped $dir" >&2
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    url) cat "$(folder_of "${2:-}")/url" ;;
    *) echo "usage: $0 start | stop [DIR] | url [DIR]" >&2; exit 2 ;;
esac
