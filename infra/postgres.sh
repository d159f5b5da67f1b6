#!/usr/bin/env bash
# A throw-away PostgreSQL for tests and local publishing, on loopback only.
#
#   bash infra/postgres.sh start    install (Debian package) if missing, initialise, start, wait
#   bash infra/postgres.sh stop     stop the server (the data directory is kept)
#   bash infra/postgres.sh status   exit 0 when it runs, 1 when it does not
#   bash infra/postgres.sh url      print the SQLAlchemy URL
#
# Data, socket and log live under the repository's ignored var/infra/postgres (or
# $METERLAKE_POSTGRES_DIR). PostgreSQL refuses to run as root, so initdb and pg_ctl run as the
# `postgres` user the package creates. Durability is off (fsync, full-page writes): this server
# holds nothing that cannot be published again. The command line and the start and stop
# sequences, shared with infra/mariadb.sh, are in infra/lib/server.sh.
set -euo pipefail

SERVER=postgres
PORT=54329
# shellcheck source=lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
URL="postgresql+psycopg://$APP_USER:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

bin_dir() {
    # The newest installed major version's binaries (Debian keeps them off the PATH).
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -n "$dir" && -x "$dir/pg_ctl" ]] && echo "$dir"
}

install_server() {
    bin_dir >/dev/null && return 0
    install_debian_package postgresql
    bin_dir >/dev/null || { say "postgresql installed but no pg_ctl under /usr/lib/postgresql"; exit 1; }
}

as_postgres() { runuser -u postgres -- "$@"; }

initialise() {
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

launch() {
    mkdir -p "$RUN" && touch "$LOG" && chown postgres:postgres "$RUN" "$LOG"
    as_postgres "$(bin_dir)/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null \
        || fail_showing_log "failed to start"
}

sql() { as_postgres "$(bin_dir)/psql" -h "$RUN" -p "$PORT" -U postgres -d postgres -qtAX "$@"; }

create_database() {
    if [[ -z "$(sql -c "SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER'")" ]]; then
        sql -c "CREATE ROLE $APP_USER LOGIN PASSWORD '$PASSWORD'"
    fi
    if [[ -z "$(sql -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]]; then
        sql -c "CREATE DATABASE $DATABASE OWNER $APP_USER"
    fi
}

logs_in_over_tcp() {
    PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=2 "$(bin_dir)/psql" -h 127.0.0.1 -p "$PORT" \
        -U "$APP_USER" -d "$DATABASE" -qtAX -c "SELECT 1"
}

shut_down() { as_postgres "$(bin_dir)/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null; }

run_command "$@"
