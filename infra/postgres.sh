#!/usr/bin/env bash
# A throw-away PostgreSQL for tests and local publishing, on loopback only.
#
#   bash infra/postgres.sh start    install (Debian package) if missing, initialise, start, wait
#   bash infra/postgres.sh stop     stop the server (the data directory is kept)
#   bash infra/postgres.sh status   exit 0 when it runs, 1 when it does not
#   bash infra/postgres.sh url      print the SQLAlchemy URL
#
# Data, socket and log live under the repository's ignored var/infra/postgres. PostgreSQL refuses
# to run as root, so initdb and pg_ctl run as the `postgres` user the package creates. Durability
# is off (fsync, full-page writes): this server holds nothing that cannot be published again.
set -euo pipefail

PORT=54329
DATABASE=meterlake
ROLE=meterlake
PASSWORD=meterlake
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${METERLAKE_POSTGRES_DIR:-$REPO/var/infra/postgres}"
DATA="$STATE/data"
RUN="$STATE/run"
# A unix socket path may not exceed ~107 bytes: a deep checkout gets a short, stable run dir.
if (( ${#RUN} > 80 )); then
    RUN="/tmp/meterlake-postgres-$(printf '%s' "$STATE" | sha1sum | cut -c1-12)"
fi
LOG="$STATE/postgres.log"
URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

say() { echo "postgres.sh: $*" >&2; }

bin_dir() {
    # The newest installed major version's binaries (Debian keeps them off the PATH).
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -n "$dir" && -x "$dir/pg_ctl" ]] && echo "$dir"
}

install_server() {
    bin_dir >/dev/null && return 0
    say "installing postgresql from Debian packages"
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [[ ! -e "$policy" ]]; then
        # Keep the package from starting its own cluster on port 5432.
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    if [[ -n "$added_policy" ]]; then rm -f "$policy"; fi
    bin_dir >/dev/null || { say "postgresql installed but no pg_ctl under /usr/lib/postgresql"; exit 1; }
}

as_postgres() { runuser -u postgres -- "$@"; }

init_cluster() {
    [[ -f "$DATA/PG_VERSION" ]] && return 0
    local bin; bin="$(bin_dir)"
    mkdir -p "$DATA" "$RUN"
    chown postgres:postgres "$STATE" "$DATA" "$RUN"
    chmod 700 "$DATA"
    say "initialising $DATA"
    # Local (socket) logins by the postgres OS user only; TCP logins need a password.
    as_postgres "$bin/initdb" -D "$DATA" -U postgres -E UTF8 --no-locale \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    cat >>"$DATA/postgresql.conf" <<EOF

# meterlake throw-away test server (infra/postgres.sh)
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
timezone = 'UTC'
fsync = off
full_page_writes = off
synchronous_commit = off
EOF
}

is_running() {
    local bin; bin="$(bin_dir)" || return 1
    [[ -f "$DATA/PG_VERSION" ]] && as_postgres "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

sql() { as_postgres "$(bin_dir)/psql" -h "$RUN" -p "$PORT" -U postgres -d postgres -qtAX "$@"; }

create_database() {
    if [[ -z "$(sql -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" ]]; then
        sql -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
    fi
    if [[ -z "$(sql -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]]; then
        sql -c "CREATE DATABASE $DATABASE OWNER $ROLE"
    fi
}

wait_for_login() {
    # Ready means: the application role logs in over TCP with its password.
    local bin; bin="$(bin_dir)"
    for _ in $(seq 1 120); do
        if PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=2 "$bin/psql" -h 127.0.0.1 -p "$PORT" \
            -U "$ROLE" -d "$DATABASE" -qtAX -c "SELECT 1" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    say "no login as $ROLE on 127.0.0.1:$PORT after 60 s; see $LOG"
    exit 1
}

start() {
    install_server
    init_cluster
    if is_running; then
        say "already running on 127.0.0.1:$PORT"
    else
        say "starting on 127.0.0.1:$PORT (log: $LOG)"
        mkdir -p "$RUN" && touch "$LOG" && chown postgres:postgres "$RUN" "$LOG"
        if ! as_postgres "$(bin_dir)/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null; then
            say "failed to start; last lines of $LOG:"
            tail -n 20 "$LOG" >&2
            exit 1
        fi
    fi
    create_database
    wait_for_login
}

stop() {
    if is_running; then
        as_postgres "$(bin_dir)/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) is_running || exit 1 ;;
    url) echo "$URL" ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
