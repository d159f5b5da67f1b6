# shellcheck shell=bash
# What infra/mariadb.sh and infra/postgres.sh share, beyond what every infra script shares
# (infra/lib/common.sh: the state directory, messages, waiting, the Debian install): the data
# and run directories, the command line (start|stop|status|url), the start and stop sequences.
#
# Sourced, not run. Before sourcing, a server script sets SERVER (mariadb, postgres) and PORT;
# after it, it sets URL (the SQLAlchemy URL) and defines what only it knows how to do:
#
#   install_server      install the server if it is missing (install_debian_package)
#   is_running          status 0 when the server runs, 1 when it does not
#   initialise          create and configure the data directory if it does not exist yet
#   launch              start the server in the background and wait until it answers as root
#   create_database     create APP_USER and DATABASE unless they exist
#   logs_in_over_tcp    status 0 when APP_USER logs in to DATABASE on 127.0.0.1:PORT
#   shut_down           stop the running server and wait until it is gone
#
# and ends with `run_command "$@"`. Data, socket and log live under the repository's ignored
# var/infra/$SERVER, or under $METERLAKE_<SERVER>_DIR when that is set (infra/lib/common.sh).

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Both servers hold the same database, with the same application user: the tests publish the
# same lake to each of them.
DATABASE=meterlake
APP_USER=meterlake
PASSWORD=meterlake
DATA="$STATE/data"
RUN="$STATE/run"
# A unix socket path may not exceed ~107 bytes: a deep checkout gets a short, stable run dir.
if (( ${#RUN} > 80 )); then
    RUN="/tmp/meterlake-$SERVER-$(printf '%s' "$STATE" | sha1sum | cut -c1-12)"
fi

start() {
    install_server
    if is_running; then
        say "already running on 127.0.0.1:$PORT"
    else
        initialise
        say "starting on 127.0.0.1:$PORT (log: $LOG)"
        launch
    fi
    create_database
    # Ready means: the application user logs in over TCP with its password.
    succeeds_within_60s logs_in_over_tcp && return 0
    say "no login as $APP_USER on 127.0.0.1:$PORT after 60 s; see $LOG"
    exit 1
}

stop() {
    if ! is_running; then
        say "not running"
        return 0
    fi
    shut_down
    say "stopped"
}
