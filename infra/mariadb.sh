#!/usr/bin/env bash
# A throw-away MariaDB for tests and local publishing, on loopback only.
#
#   bash infra/mariadb.sh start    install (Debian package) if missing, initialise, start, wait
#   bash infra/mariadb.sh stop     stop the server (the data directory is kept)
#   bash infra/mariadb.sh status   exit 0 when it runs, 1 when it does not
#   bash infra/mariadb.sh url      print the SQLAlchemy URL
#
# Data, socket, pid and log live under the repository's ignored var/infra/mariadb. The server
# runs as the `mysql` user the package creates, with real grants: the OS root logs in as the
# MariaDB root through the unix socket only (unix_socket authentication), the application user
# `meterlake` logs in over TCP with its password and may use only its own database. The server
# clock is UTC; DATETIME columns have no zone anyway (meterlake stores UTC in them).
set -euo pipefail

PORT=33069
DATABASE=meterlake
USER_NAME=meterlake
PASSWORD=meterlake
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${METERLAKE_MARIADB_DIR:-$REPO/var/infra/mariadb}"
DATA="$STATE/data"
RUN="$STATE/run"
# A unix socket path may not exceed ~107 bytes: a deep checkout gets a short, stable run dir.
if (( ${#RUN} > 80 )); then
    RUN="/tmp/meterlake-mariadb-$(printf '%s' "$STATE" | sha1sum | cut -c1-12)"
fi
LOG="$STATE/mariadb.log"
CNF="$STATE/my.cnf"
PID="$RUN/mariadb.pid"
URL="mysql+pymysql://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

say() { echo "mariadb.sh: $*" >&2; }

install_server() {
    [[ -x /usr/sbin/mariadbd ]] && command -v mariadb-install-db >/dev/null && return 0
    say "installing mariadb-server from Debian packages"
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [[ ! -e "$policy" ]]; then
        # Keep the package from starting its own server on port 3306.
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
    if [[ -n "$added_policy" ]]; then rm -f "$policy"; fi
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

init_datadir() {
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

wait_for_socket() {
    for _ in $(seq 1 120); do
        mariadb-admin --defaults-file="$CNF" -u root --connect-timeout=2 ping >/dev/null 2>&1 \
            && return 0
        sleep 0.5
    done
    say "not answering on $RUN/mariadb.sock after 60 s; last lines of $LOG:"
    tail -n 20 "$LOG" >&2
    exit 1
}

create_database() {
    as_root <<EOF
CREATE DATABASE IF NOT EXISTS $DATABASE CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$PASSWORD';
GRANT ALL PRIVILEGES ON $DATABASE.* TO '$USER_NAME'@'127.0.0.1';
GRANT ALL PRIVILEGES ON $DATABASE.* TO '$USER_NAME'@'localhost';
EOF
}

wait_for_login() {
    # Ready means: the application user logs in over TCP with its password.
    for _ in $(seq 1 120); do
        if MYSQL_PWD="$PASSWORD" mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$PORT" \
            -u "$USER_NAME" --connect-timeout=2 -e "SELECT 1" "$DATABASE" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    say "no login as $USER_NAME on 127.0.0.1:$PORT after 60 s; see $LOG"
    exit 1
}

start() {
    install_server
    if is_running; then
        say "already running on 127.0.0.1:$PORT"
    else
        write_config
        init_datadir
        say "starting on 127.0.0.1:$PORT (log: $LOG)"
        # setsid: the server outlives this script and the shell or test that called it.
        setsid /usr/sbin/mariadbd --defaults-file="$CNF" >>"$LOG" 2>&1 </dev/null &
        wait_for_socket
    fi
    create_database
    wait_for_login
}

stop() {
    if ! is_running; then
        say "not running"
        return 0
    fi
    local pid; pid="$(cat "$PID")"
    mariadb-admin --defaults-file="$CNF" -u root shutdown
    for _ in $(seq 1 120); do
        [[ -d "/proc/$pid" ]] || { say "stopped"; return 0; }
        sleep 0.5
    done
    say "pid $pid still running 60 s after shutdown"
    exit 1
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) is_running || exit 1 ;;
    url) echo "$URL" ;;
    *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
