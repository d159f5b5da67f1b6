#!/usr/bin/env bash
# Airflow for checking meterlake's DAG (infra/airflow/meterlake_dag.py), in a virtualenv of its
# own: Airflow's dependencies never meet meterlake's .venv (Spark, FastAPI, SQLAlchemy pins).
#
#   bash infra/airflow.sh setup          create var/airflow/venv with the pinned Airflow (idempotent)
#   bash infra/airflow.sh python ARGS    that venv's python, with AIRFLOW_HOME and the DAG folder set
#   bash infra/airflow.sh airflow ARGS   the airflow command, the same way
#   bash infra/airflow.sh dagbag-check   load the DAG folder with DagBag and print a JSON summary
#                                        (dags, schedules, tasks, rendered spark-submit arguments);
#                                        exit 1 on an import error
#
# Pins: apache-airflow and the apache-spark provider below, without extras (the smallest install
# that parses DAGs), and every other package at the version of infra/airflow/constraints.txt:
# Airflow publishes constraint files for this, but they are not on PyPI, so this one is a
# `pip freeze` of a working install (regenerate it with `bash infra/airflow.sh freeze` after
# changing a pin). A stamp in the venv records what was installed; `setup` does nothing when it
# matches. Airflow's home (config, SQLite database, logs) is var/airflow/home, never ~/airflow.
#
# The venv is for checking the DAG and trying it with `airflow dags test`; a deployment installs
# the same pins on its Airflow workers (see infra/airflow/README.md).
set -euo pipefail

AIRFLOW_VERSION=3.3.2
SPARK_PROVIDER_VERSION=6.3.4
UV_VERSION=0.13.9
PINS=("apache-airflow==$AIRFLOW_VERSION" "apache-airflow-providers-apache-spark==$SPARK_PROVIDER_VERSION")

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${AIRFLOW_PYTHON:-python3.11}"
STATE="$REPO/var/airflow"
VENV="$STATE/venv"
CONSTRAINTS="$REPO/infra/airflow/constraints.txt"
STAMP="$VENV/.meterlake-pins"

export AIRFLOW_HOME="$STATE/home"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/infra/airflow"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# Parsing reads no connection, variable or pool: the default SQLite database under AIRFLOW_HOME
# is enough, and is never migrated by `dagbag-check`.
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"

say() { echo "airflow.sh: $*" >&2; }

wanted_stamp() {
    # What the venv must have been built from: the interpreter, the pins and the constraints.
    printf '%s\n' "$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')" "${PINS[@]}" "uv==$UV_VERSION"
    sha256sum "$CONSTRAINTS" | cut -d' ' -f1
}

# Installs the pins with the installer command given (uv pip install ... or pip install ...);
# status 1 when either step fails (`&&`: errexit does not apply inside a `||` list).
install_pinned() {
    "$@" --constraint "$CONSTRAINTS" "apache-airflow==$AIRFLOW_VERSION" &&
    # Without its dependencies: the provider's own (requests, tenacity, common-compat) come with
    # Airflow, and pyspark-client (with pyarrow, pandas, numpy, grpcio: 330 MB, 40 s) serves only
    # its Spark Connect hook. SparkSubmitOperator runs the spark-submit binary and imports none.
    "$@" --constraint "$CONSTRAINTS" --no-deps "apache-airflow-providers-apache-spark==$SPARK_PROVIDER_VERSION"
}

setup() {
    command -v "$PYTHON" >/dev/null || { say "$PYTHON not found (Airflow $AIRFLOW_VERSION is pinned for Python 3.11)"; exit 1; }
    if [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(wanted_stamp)" ]]; then
        say "up to date: $VENV (Airflow $AIRFLOW_VERSION)"
        return 0
    fi
    say "installing Airflow $AIRFLOW_VERSION and the apache-spark provider $SPARK_PROVIDER_VERSION into $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    # uv installs the ~125 packages in a third of the time pip takes; pip stays the fallback.
    # Both compile the bytecode: the checks run with PYTHONDONTWRITEBYTECODE set, where every
    # start would otherwise compile Airflow again (6 s).
    local pip=("$VENV/bin/pip" install --quiet --disable-pip-version-check)
    if ! "${pip[@]}" "uv==$UV_VERSION" >/dev/null 2>&1; then
        say "uv==$UV_VERSION not available: installing with pip"
        install_pinned "${pip[@]}"
    elif ! install_pinned "$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$VENV/bin/python"; then
        say "uv failed: installing with pip"
        install_pinned "${pip[@]}"
    fi
    mkdir -p "$AIRFLOW_HOME"
    wanted_stamp >"$STAMP"
}

installed() {
    [[ -f "$STAMP" ]] || { say "no Airflow venv yet: run 'bash infra/airflow.sh setup'"; exit 1; }
}

freeze() {
    installed
    {
        echo "# Every package of var/airflow/venv, from 'bash infra/airflow.sh freeze' (Python 3.11):"
        echo "# the constraints 'setup' installs ${PINS[*]} with."
        "$VENV/bin/pip" freeze --exclude-editable --disable-pip-version-check | grep -Ev '^(pip|uv)=='
    } >"$CONSTRAINTS.new"
    mv "$CONSTRAINTS.new" "$CONSTRAINTS"
    say "wrote $CONSTRAINTS"
}

dagbag_check() {
    installed
    # The summary goes to descriptor 3, the script's stdout; Airflow logs to stdout, sent to stderr.
    "$VENV/bin/python" - "$AIRFLOW__CORE__DAGS_FOLDER" 3>&1 1>&2 <<'PY'
"""Loads the DAG folder like the DAG processor does and writes what each DAG would run to
descriptor 3, as JSON."""
import os
import datetime as dt
import json
import sys
from types import SimpleNamespace

# Airflow 3.3's DagBag: examples are a bundle of their own, never part of a folder's bag (the
# include_examples flag is gone).
from airflow.dag_processing.dagbag import DagBag

# A fixed instant for rendering the templates: the first of a month at midnight, when every
# schedule of the DAG file is due. Variables are empty (no database), so defaults render.
RUN_AT = dt.datetime(2024, 4, 1, tzinfo=dt.timezone.utc)


def render(task, value):
    """`value` rendered as the task would render it at RUN_AT; a failure as {"render_error"}."""
    context = {"dag_run": SimpleNamespace(run_after=RUN_AT, data_interval_end=RUN_AT), "logical_date": RUN_AT,
               "data_interval_start": RUN_AT, "data_interval_end": RUN_AT,
               "params": task.params.dump(), "var": {"value": {}, "json": {}}}
    try:
        return task.render_template(value, context, jinja_env=task.dag.get_template_env())
    except Exception as error:  # noqa: BLE001 - reported, not raised: the check goes on
        return {"render_error": str(error)}


def task_summary(task):
    return {
        "operator": type(task).__name__,
        "conn_id": task._conn_id,
        "application": render(task, task.application),
        "application_args": render(task, list(task.application_args or [])),
        "py_files": render(task, task.py_files),
        "jars": render(task, task.jars),
        "name": render(task, task.name),
        "pool": task.pool,
        "trigger_rule": str(task.trigger_rule.value),
        "upstream": sorted(task.upstream_task_ids),
    }


bag = DagBag(dag_folder=sys.argv[1])
summary = {
    "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
    "warnings": {path: list(found) for path, found in bag.captured_warnings.items()},
    "dags": {
        dag_id: {
            "schedule": str(dag.schedule),
            "timetable": type(dag.timetable).__name__,
            "cron": getattr(dag.timetable, "expression", None),
            "timezone": str(dag.timezone),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tasks": {task.task_id: task_summary(task) for task in dag.tasks},
        }
        for dag_id, dag in sorted(bag.dags.items())
    },
}
with os.fdopen(3, "w") as out:
    json.dump(summary, out, indent=2, sort_keys=True, default=str)
    out.write("\n")
sys.exit(1 if bag.import_errors else 0)
PY
}

case "${1:-}" in
    setup) setup ;;
    python) installed; shift; exec "$VENV/bin/python" "$@" ;;
    airflow) installed; shift; exec "$VENV/bin/airflow" "$@" ;;
    dagbag-check) dagbag_check ;;
    freeze) freeze ;;
    *) echo "usage: $0 setup|python ARGS|airflow ARGS|dagbag-check|freeze" >&2; exit 2 ;;
esac
