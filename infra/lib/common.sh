# shellcheck shell=bash
# What every infra script shares: the repository, the state directory, messages, waiting,
# processes tracked by a pid file, and installing a Debian package.
#
# Sourced, not run. Before sourcing, a script sets SERVER (mariadb, postgres, s3, mosquitto,
# spark-cluster, trino).
# Its state (data, pid files, logs) lives under the repository's ignored var/infra/$SERVER, or
# under $METERLAKE_<SERVER>_DIR when that is set (dashes become underscores:
# METERLAKE_SPARK_CLUSTER_DIR).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
state_override="METERLAKE_${SERVER^^}_DIR"
state_override="${state_override//-/_}"
STATE="${!state_override:-$REPO/var/infra/$SERVER}"
unset state_override
LOG="$STATE/$SERVER.log"

say() { echo "$SERVER.sh: $*" >&2; }

# Installs Debian package $1 without letting its own service start.
install_debian_package() {
    say "installing $1 from Debian packages"
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [[ ! -e "$policy" ]]; then
        # Keep the package from starting a server of its own on the default port.
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
    if [[ -n "$added_policy" ]]; then rm -f "$policy"; fi
}

# Runs the command every half second, quietly, until it succeeds (status 0) or 60 s have gone
# by (status 1).
succeeds_within_60s() {
    for _ in $(seq 1 120); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    return 1
}

# Says what failed, shows the end of the log (the second argument, else $LOG), exits 1.
fail_showing_log() {
    local log="${2:-$LOG}"
    say "$1; last lines of $log:"
    tail -n 20 "$log" >&2
    exit 1
}

# Status 0 when the pid file names a live process whose command name is $2: a stale pid file,
# or a pid the kernel has since given to another program, does not count.
runs_from_pid_file() {
    local pid_file="$1" comm="$2" pid
    [[ -f "$pid_file" ]] || return 1
    pid="$(cat "$pid_file")"
    [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]]
}

has_exited() { [[ ! -d "/proc/$1" ]]; }

# Sends SIGTERM to the process of the pid file (checked with runs_from_pid_file first), waits
# until it has exited, removes the pid file. Only our own pid: never a kill by name.
stop_from_pid_file() {
    local pid_file="$1" comm="$2" pid
    runs_from_pid_file "$pid_file" "$comm" || { rm -f "$pid_file"; return 0; }
    pid="$(cat "$pid_file")"
    kill -TERM "$pid"
    succeeds_within_60s has_exited "$pid" \
        || { say "pid $pid ($comm) still running 60 s after SIGTERM"; exit 1; }
    rm -f "$pid_file"
}

# The command line of a server script that defines start, stop, is_running and URL.
run_command() {
    case "${1:-}" in
        start) start ;;
        stop) stop ;;
        status) is_running || exit 1 ;;
        url) echo "$URL" ;;
        *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
    esac
}
