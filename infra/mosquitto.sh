#!/usr/bin/env bash
# The MQTT broker of the IoT sensor source (Mosquitto 2.0 from Debian), on loopback only.
#
#   bash infra/mosquitto.sh install   install Debian's mosquitto package if it is missing
#   bash infra/mosquitto.sh start     install if missing, write the configuration, start, wait
#   bash infra/mosquitto.sh stop      stop the broker (its persistence file is kept)
#   bash infra/mosquitto.sh status    exit 0 when it runs, 1 when it does not
#   bash infra/mosquitto.sh env       print `export` lines: where the broker is, who may use it
#
# Two listeners on 127.0.0.1: plain MQTT on 18883 and MQTT over TLS on 18884, with a server
# certificate (for 127.0.0.1 and localhost) signed by a CA the script makes once with openssl;
# clients trust tls/ca.crt ($MQTT_CA_FILE). No anonymous access; two users, each with a random
# password made once, and an ACL (infra/mosquitto/acl) that gives each exactly its part:
#
#   sensor               publishes to `sensors`, reads nothing
#   meterlake-receiver   subscribes to `sensors`, publishes nothing
#
# Persistence is on, so a persistent session's queued QoS 1 messages survive a restart
# (infra/mosquitto/mosquitto.conf says how many and why). Configuration, passwords, TLS files,
# persistence, pid and log live under the repository's ignored var/infra/mosquitto (or
# $METERLAKE_MOSQUITTO_DIR). The broker runs as its own process, tracked by its pid file;
# Debian's service for the package is never started.
set -euo pipefail

SERVER=mosquitto
PORT=18883
TLS_PORT=18884
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
HOST=127.0.0.1
TOPIC=sensors
PUBLISHER=sensor
SUBSCRIBER=meterlake-receiver
TEMPLATES="$REPO/infra/mosquitto"
CONF="$STATE/mosquitto.conf"
PID="$STATE/mosquitto.pid"
PASSWORDS="$STATE/passwords"
TLS="$STATE/tls"
CERTIFICATE_DAYS=825
# A server certificate with less than 30 days left is made again, with a new CA.
RENEW_WITHIN_S=$((30 * 24 * 3600))

# Debian puts the broker in /usr/sbin, which is not on every user's PATH.
mosquitto_binary() {
    command -v mosquitto 2>/dev/null || { [[ -x /usr/sbin/mosquitto ]] && echo /usr/sbin/mosquitto; }
}

install() {
    mosquitto_binary >/dev/null && command -v mosquitto_passwd >/dev/null && return 0
    install_debian_package mosquitto
    mosquitto_binary >/dev/null || { say "mosquitto installed but not found"; exit 1; }
}

# One command at a time per state directory: two test sessions starting the broker at once
# must not make two sets of passwords or launch it twice.
hold_lock() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.lock"
    flock 9
}

password_of() { cat "$PASSWORDS/$1"; }

make_passwords() {
    mkdir -p "$PASSWORDS" && chmod 700 "$PASSWORDS"
    local user
    for user in "$PUBLISHER" "$SUBSCRIBER"; do
        [[ -s "$PASSWORDS/$user" ]] && continue
        (umask 077 && openssl rand -hex 16 >"$PASSWORDS/$user.partial")
        mv "$PASSWORDS/$user.partial" "$PASSWORDS/$user"
    done
}

has_valid_certificate() {
    [[ -s "$TLS/ca.crt" && -s "$TLS/server.key" ]] \
        && openssl x509 -checkend "$RENEW_WITHIN_S" -noout -in "$TLS/server.crt" >/dev/null 2>&1
}

# A CA, and a server certificate it signs for 127.0.0.1 and localhost (subjectAltName: TLS
# clients check the name there, not in the CN), both EC P-256.
make_certificates() {
    has_valid_certificate && return 0
    local work="$TLS.partial"
    rm -rf "$work" && mkdir -p "$work" && chmod 700 "$work"
    printf '%s\n' "basicConstraints=critical,CA:TRUE" "keyUsage=critical,keyCertSign,cRLSign" \
        "subjectKeyIdentifier=hash" >"$work/ca.ext"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
        "subjectAltName=IP:$HOST,DNS:localhost" "subjectKeyIdentifier=hash" \
        "authorityKeyIdentifier=keyid" >"$work/server.ext"
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    {
        openssl req -new "${ec[@]}" -keyout "$work/ca.key" -out "$work/ca.csr" \
            -subj "/CN=meterlake local MQTT CA"
        openssl x509 -req -in "$work/ca.csr" -key "$work/ca.key" -days "$CERTIFICATE_DAYS" \
            -extfile "$work/ca.ext" -out "$work/ca.crt"
        openssl req -new "${ec[@]}" -keyout "$work/server.key" -out "$work/server.csr" \
            -subj "/CN=localhost"
        openssl x509 -req -in "$work/server.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
            -CAcreateserial -days "$CERTIFICATE_DAYS" -extfile "$work/server.ext" \
            -out "$work/server.crt"
    } >>"$LOG" 2>&1 || fail_showing_log "openssl could not make the TLS certificates"
    rm -f "$work"/*.csr "$work"/*.ext "$work"/*.srl
    chmod 755 "$work"  # the CA certificate is for every client; the keys stay 600
    rm -rf "$TLS" && mv "$work" "$TLS"
    say "made a CA and a server certificate for $HOST and localhost in $TLS"
}

prepare() {
    command -v openssl >/dev/null || { say "openssl is needed (Debian package openssl)"; exit 1; }
    make_passwords
    make_certificates
}

# Copies TEMPLATE to stdout with @STATE@, @USER@, @PORT@ and @TLS_PORT@ filled in.
render() {
    sed -e "s|@STATE@|$STATE|g" -e "s|@USER@|$(id -un)|g" -e "s|@PORT@|$PORT|g" \
        -e "s|@TLS_PORT@|$TLS_PORT|g" "$TEMPLATES/$1"
}

# The password file holds salted hashes: mosquitto_passwd -U hashes `user:password` lines in
# place, so no password is ever on a command line.
write_password_file() {
    local partial="$STATE/passwd.partial" user
    rm -f "$partial"
    (umask 077 && for user in "$PUBLISHER" "$SUBSCRIBER"; do
        echo "$user:$(password_of "$user")"
    done >"$partial")
    mosquitto_passwd -U "$partial"
    mv "$partial" "$STATE/passwd"
}

write_configuration() {
    mkdir -p "$STATE/data"
    render mosquitto.conf >"$CONF"
    render acl >"$STATE/acl"
    write_password_file
}

is_running() { runs_from_pid_file "$PID" mosquitto; }

accepts_tcp() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

launch() {
    # setsid: the broker outlives this script and the shell or test that called it; 9>&-: it
    # must not hold the script's lock.
    setsid nohup "$(mosquitto_binary)" -c "$CONF" >>"$LOG" 2>&1 </dev/null 9>&- &
    echo $! >"$PID"
}

# Up to 60 s until both listeners accept connections; a broker that exited (a bad setting, a
# port taken) ends the wait at once.
wait_until_listening() {
    local pid; pid="$(cat "$PID")"
    for _ in $(seq 1 120); do
        has_exited "$pid" && fail_showing_log "the broker exited while starting"
        accepts_tcp "$PORT" && accepts_tcp "$TLS_PORT" && return 0
        sleep 0.5
    done
    fail_showing_log "not listening on $HOST:$PORT and $HOST:$TLS_PORT after 60 s"
}

start() {
    install
    hold_lock
    if is_running; then
        say "already running on $HOST:$PORT (TLS $TLS_PORT)"
        return 0
    fi
    # Another broker on the port (one of another checkout, say) would answer for this one.
    if accepts_tcp "$PORT" || accepts_tcp "$TLS_PORT"; then
        say "another server answers on $HOST:$PORT or $HOST:$TLS_PORT; not starting"
        exit 1
    fi
    prepare
    write_configuration
    say "starting on $HOST:$PORT, TLS on $TLS_PORT (log: $LOG)"
    launch
    wait_until_listening
}

stop() {
    hold_lock
    if ! is_running; then
        say "not running"
        return 0
    fi
    # On SIGTERM the broker writes its persistence file before it exits.
    stop_from_pid_file "$PID" mosquitto
    say "stopped"
}

# The passwords and the CA exist from the first `env` on, so it prints what `start` will use.
print_env() {
    hold_lock
    prepare
    printf 'export %s=%q\n' \
        MQTT_HOST "$HOST" \
        MQTT_PORT "$PORT" \
        MQTT_TLS_PORT "$TLS_PORT" \
        MQTT_CA_FILE "$TLS/ca.crt" \
        MQTT_TOPIC "$TOPIC" \
        MQTT_PUBLISHER_USER "$PUBLISHER" \
        MQTT_PUBLISHER_PASSWORD "$(password_of "$PUBLISHER")" \
        MQTT_SUBSCRIBER_USER "$SUBSCRIBER" \
        MQTT_SUBSCRIBER_PASSWORD "$(password_of "$SUBSCRIBER")"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) is_running || exit 1 ;;
    env) print_env ;;
    *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
