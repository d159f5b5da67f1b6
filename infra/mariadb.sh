#!/usr/bin/env bash
# A throw-away MariaDB for tests and local publishing, on loopback only.
#
#   bash infra/mariadb.sh start    install (Debian package) if missing, initialise, start, wait
#   bash infra/mariadb.sh stop     stop the server (the data directory is kept)
#   bash infra/mariadb.sh status   exit 0 when it runs, 1 when it does not
#   bash infra/mariadb.sh url      print the SQLAlchemy URL
#
# Data, socket, pid and log live under the repository's ignored var/infra/mariadb (or
# $METERLAKE_MARIADB_DIR). The server runs as the `mysql` user the package creates, with real
# grants: the OS root logs in as the MariaDB root through the unix socket only (unix_socket
# authentication), the application user `meterlake` logs in over TCP with its password and may
# use only its own database. The server clock is UTC; DATETIME columns have no zone anyway
# (meterlake stores UTC in them). The command line and the start and stop sequences, shared
# with infra/postgres.sh, are in infra/lib/server.sh.
set -euo pipefail

SERVER=mariadb
PORT=33069
# shellcheck source=lib/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"
URL="mysql+pymysql://$APP_USER:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
CNF="$STATE/my.cnf"
PID="$RUN/mariadb.pid"

install_server() {
    [[ -x /usr/sbin/mariadbd ]] && command -v mariadb-install-db >/dev/null && return 0
    install_debian_package mariadb-server
    [[ -x /usr/sbin/mariadbd ]] || { say "mariadb-server installed but no /usr/sbin/mariadbd"; exit 1; }
}

write_config() {
    mkdir -p "$DATA" "$RUN"
    cat >"$CNF" <<EOF
# meterlake throw-away test server (infra/mariadb.sh); read only through --defaults-file.
[mysqld]
user = mysql
datadir = $DATA
socket = $RUN/mariadb.sock
pid-file = $PID
log-error = $LOG
port = $PORT
bind-address = 127.0.0.1
skip-name-resolve
default-time-zone = '+00:00'
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
innodb_flush_log_at_trx_commit = 2
innodb_buffer_pool_size = 64M

[client]
socket = $RUN/mariadb.sock
EOF
    chown -R mysql:mysql "$STATE" "$RUN"
}

initialise() {
    write_config
    [[ -d "$DATA/mysql" ]] && return 0
    say "initialising $DATA"
    mariadb-install-db --defaults-file="$CNF" --auth-root-authentication-method=socket \
        --skip-test-db >>"$LOG" 2>&1 || { say "mariadb-install-db failed; see $LOG"; exit 1; }
}

is_running() {
    [[ -f "$PID" ]] || return 1
    local pid; pid="$(cat "$PID")"
    [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == mariadbd ]]
}

as_root() { mariadb --defaults-file="$CNF" -u root "$@"; }

launch() {
    # setsid: the server outlives this script and the shell or test that called it.
    setsid /usr/sbin/mariadbd --defaults-file="$CNF" >>"$LOG" 2>&1 </dev/null &
    succeeds_within_60s mariadb-admin --defaults-file="$CNF" -u root --connect-timeout=2 ping \
        || fail_showing_log "not answering on $RUN/mariadb.sock after 60 s"
}

create_database() {
    as_root <<EOF
CREATE DATABASE IF NOT EXISTS $DATABASE CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$APP_USER'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS '$APP_USER'@'localhost' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON $DATABASE.* TO '$APP_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON $DATABASE.* TO '$APP_USER'@'localhost';
EOF
}

logs_in_over_tcp() {
    MYSQL_PWD="$PASSWORD" mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$PORT" \
        -u "$APP_USER" --connect-timeout=2 -e "SELECT 1" "$DATABASE"
}

has_exited() { [[ ! -d "/proc/$1" ]]; }

shut_down() {
    local pid; pid="$(cat "$PID")"
    mariadb-admin --defaults-file="$CNF" -u root shutdown
    succeeds_within_60s has_exited "$pid" \
        || { say "pid $pid still running 60 s after shutdown"; exit 1; }
}

run_command "$@"
