#!/usr/bin/env bash
# A throw-away Spark standalone cluster, one master and two workers, on loopback only.
#
#   bash infra/spark-cluster.sh start    start what is not running, wait until both workers registered
#   bash infra/spark-cluster.sh stop     stop the workers, then the master
#   bash infra/spark-cluster.sh status   exit 0 when the master and both workers run, 1 otherwise
#   bash infra/spark-cluster.sh url      print the master URL for --master / spark.master
#
# The daemons come from the pyspark distribution in the repository's .venv (its bin/spark-class),
# so the cluster runs exactly the Spark the driver imports; system Java 17, UTC. Each worker
# offers 1 core and 2 GB, so a job sees two executors as a real cluster would. Executors run
# Python with .venv/bin/python (PYSPARK_PYTHON), which has pyarrow, shapely and meterlake's
# dependencies. Pid files, work directories and logs live under the repository's ignored
# var/infra/spark-cluster (or $METERLAKE_SPARK_CLUSTER_DIR).
set -euo pipefail

SERVER=spark-cluster
MASTER_PORT=17077
MASTER_UI_PORT=17080
WORKERS=(1 2)
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
URL="spark://127.0.0.1:$MASTER_PORT"
VENV="$REPO/.venv"
SPARK_CLASS="$VENV/bin/spark-class"

# Worker n: RPC port 1709n, web UI 1708n (the master's UI is 17080). Spark's defaults (7077,
# 8080, 8081, random RPC ports) would clash with anything else on the machine.
worker_port() { echo "$((17090 + $1))"; }
worker_ui_port() { echo "$((17080 + $1))"; }

# The system Java (Debian's default-jre is 17), as JAVA_HOME for spark-class.
java_home() {
    local java
    java="$(readlink -f "$(command -v java)")" || return 1
    "$java" -version 2>&1 | head -n 1 | grep -q '"17\.' || return 1
    dirname "$(dirname "$java")"
}

check_installed() {
    [[ -x "$SPARK_CLASS" ]] || { say "no $SPARK_CLASS: run \`make setup\` (pyspark in .venv)"; exit 1; }
    java_home >/dev/null || { say "the system java is not Java 17"; exit 1; }
}

environment() {
    # SPARK_LOCAL_IP keeps every listener (RPC, block manager, web UIs) on 127.0.0.1; executors
    # inherit the worker's environment, so they stay on loopback and in UTC too.
    JAVA_HOME="$(java_home)"
    export JAVA_HOME
    export SPARK_LOCAL_IP=127.0.0.1 TZ=UTC
    export PYSPARK_PYTHON="$VENV/bin/python" PYSPARK_DRIVER_PYTHON="$VENV/bin/python"
    export SPARK_DAEMON_MEMORY=512m
    export SPARK_DAEMON_JAVA_OPTS="-Duser.timezone=UTC"
    # The REST submission server (port 6066) is not needed: jobs come through spark-submit and
    # pyspark drivers.
    export SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false"
    # Each application leaves its jars (~20 MB with Delta and S3A) and logs in every worker's
    # work directory: remove those of finished applications after an hour.
    export SPARK_WORKER_OPTS="-Dspark.worker.cleanup.enabled=true \
-Dspark.worker.cleanup.interval=600 -Dspark.worker.cleanup.appDataTtl=3600"
}

master_runs() { runs_from_pid_file "$STATE/master.pid" java; }
worker_runs() { runs_from_pid_file "$STATE/worker-$1.pid" java; }

is_running() {
    master_runs || return 1
    for n in "${WORKERS[@]}"; do worker_runs "$n" || return 1; done
}

# Starts `spark-class <class> <args>` in the background, detached from this shell (setsid), and
# records its pid: spark-class execs java, so the pid is the JVM's.
launch() {
    local name="$1"; shift
    setsid nohup "$SPARK_CLASS" "$@" >>"$STATE/$name.log" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
}

alive_workers() {
    curl -fsS --max-time 2 "http://127.0.0.1:$MASTER_UI_PORT/json/" \
        | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["aliveworkers"])'
}

all_workers_registered() { [[ "$(alive_workers)" == "${#WORKERS[@]}" ]]; }

start() {
    check_installed
    environment
    mkdir -p "$STATE"
    if ! master_runs; then
        say "starting the master on $URL (log: $STATE/master.log)"
        launch master org.apache.spark.deploy.master.Master --host 127.0.0.1 \
            --port "$MASTER_PORT" --webui-port "$MASTER_UI_PORT"
    fi
    for n in "${WORKERS[@]}"; do
        worker_runs "$n" && continue
        say "starting worker $n (log: $STATE/worker-$n.log)"
        mkdir -p "$STATE/work-$n"
        launch "worker-$n" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 \
            --port "$(worker_port "$n")" --webui-port "$(worker_ui_port "$n")" \
            --cores 1 --memory 2g --work-dir "$STATE/work-$n" "$URL"
    done
    succeeds_within_60s all_workers_registered && return 0
    master_runs || fail_showing_log "the master is not running" "$STATE/master.log"
    say "alive workers: $(alive_workers 2>/dev/null || echo unknown), want ${#WORKERS[@]} after 60 s"
    fail_showing_log "workers did not register" "$STATE/worker-1.log"
}

stop() {
    if ! master_runs && ! worker_runs 1 && ! worker_runs 2; then
        say "not running"
        return 0
    fi
    # Workers first: a worker whose master vanished keeps retrying to reconnect.
    for n in "${WORKERS[@]}"; do stop_from_pid_file "$STATE/worker-$n.pid" java; done
    stop_from_pid_file "$STATE/master.pid" java
    say "stopped"
}

run_command "$@"
