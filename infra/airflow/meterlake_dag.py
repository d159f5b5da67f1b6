"""meterlake's schedules for Airflow 3: the jobs of jobs/ through spark-submit, on the Spark
standalone cluster named by one Airflow connection, the lake on S3. All times are UTC.

| DAG                  | schedule       | tasks                                                 |
|----------------------|----------------|-------------------------------------------------------|
| `meterlake_ingest`   | `*/15 * * * *` | ingest_utility_drops, _smrt, _dropzone, _temperatures, _sensors |
| `meterlake_snapshot` | `@hourly`      | snapshot                                              |
| `meterlake_daily`    | `@daily`       | grid, then optimize                                   |
| `meterlake_settle`   | `@monthly`     | settle the previous month                             |

(Trigger `meterlake_settle` with {"month": "YYYY-MM"} to settle another month.)

One DAG per schedule: a DAG has one schedule, and a task that skips itself on most runs of a
faster DAG (grid at hour 0 of the hourly DAG) hides the real schedule and fills the grid view
with skips. infra/cron/meterlake.crontab holds the same jobs on the same schedules.

Delta on S3 allows one writer per table at a time (S3 cannot create a log entry only if absent,
so two writers can both commit version N). Hence:
- every DAG has max_active_runs=1, and catchup is off (a missed run is not replayed: every job
  picks up whatever is pending, so the next run does the work);
- the ingests run one after another, since every source's ingest writes ops.ingest_batches,
  ops.ingest_log and bronze.quarantine. A chain in these DAGs orders writers and is no data
  dependency: each task runs whatever happened to the one before it (all_done), as in cron;
- snapshot, grid and optimize, which write silver and gold, share the pool `meterlake_silver` of
  one slot (snapshot first when they queue together). Create it once:
  `airflow pools set meterlake_silver 1 "meterlake silver and gold writers"`; until it exists,
  Airflow schedules none of these tasks (and shows a DAG warning);
- settle writes only its own tables.

Settings. The file is parsed again by each worker to run a task, so the environment is read
there (and by the DAG processor, for what the UI shows); an Airflow Variable, read when the task
runs, overrides the environment:

| what            | Variable             | environment               | default                |
|-----------------|----------------------|---------------------------|------------------------|
| Spark conn. id  | -                    | `METERLAKE_SPARK_CONN_ID` | `meterlake_spark`      |
| the checkout    | -                    | `METERLAKE_HOME`          | the one of this file   |
| --py-files      | `meterlake_py_files` | `METERLAKE_PY_FILES`      | `dist/meterlake.zip`   |
| --conf          | `meterlake_conf`     | `METERLAKE_CONF`          | `conf/cluster.yaml`    |
| settle's --book | `meterlake_book`     | `METERLAKE_BOOK`          | `conf/settlement.yaml` |
| --jars          | `meterlake_jars`     | `METERLAKE_JARS`          | none: required         |

Default paths are under the checkout. The jars are what `python -m meterlake.core.jars paths`
prints there; a task fails at its start while they are unset.

No credentials here: S3 keys come from the environment of the Airflow workers (the Spark driver
runs there, in client mode) and of the Spark workers. infra/airflow/README.md has the setup.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, Param, TriggerRule, chain

# The registry's source names (meterlake.sources.registry), in the order their ingests run.
INGEST_SOURCES = ("utility_drops", "smrt", "dropzone", "temperatures", "sensors")
SILVER_POOL = "meterlake_silver"

HOME = Path(os.environ.get("METERLAKE_HOME") or Path(__file__).resolve().parents[2])
CONN_ID = os.environ.get("METERLAKE_SPARK_CONN_ID") or "meterlake_spark"


def setting(variable: str, environment: str, default: str | None = None) -> str:
    """A template for one setting: the Airflow Variable, else the environment, else the default;
    with no default, the task fails when none of them is set."""
    fallback = json.dumps(os.environ.get(environment) or default or "")
    lookup = f"var.value.get({json.dumps(variable)}, {fallback})"
    if default is None:
        lookup += f" | required({json.dumps(f'{variable} / {environment}')})"
    return "{{ " + lookup + " }}"


def required(value: str, name: str) -> str:
    """A Jinja filter: `value`, unless it is empty."""
    if not value:
        raise ValueError(f"{name} is not set (see infra/airflow/meterlake_dag.py)")
    return value


def previous_month(instant: datetime) -> str:
    """A Jinja filter: the month before the one `instant` falls in, as YYYY-MM (UTC)."""
    first_of_month = instant.astimezone(UTC).replace(day=1)
    return (first_of_month - timedelta(days=1)).strftime("%Y-%m")


PY_FILES = setting("meterlake_py_files", "METERLAKE_PY_FILES", str(HOME / "dist/meterlake.zip"))
CONF = setting("meterlake_conf", "METERLAKE_CONF", str(HOME / "conf/cluster.yaml"))
BOOK = setting("meterlake_book", "METERLAKE_BOOK", str(HOME / "conf/settlement.yaml"))
JARS = setting("meterlake_jars", "METERLAKE_JARS")
# The month before the run's: the end of its data interval (the cron tick, or the logical date
# a run was triggered for; either timetable Airflow may make of a cron schedule), else when it
# was triggered (a manual run without a logical date has no interval).
MONTH = ("{{ params.month or "
         "((dag_run.data_interval_end or dag_run.run_after) | previous_month) }}")

DAG_DEFAULTS = {
    "start_date": datetime(2024, 1, 1, tzinfo=UTC),
    "catchup": False,
    "max_active_runs": 1,
    "tags": ["meterlake"],
    "user_defined_filters": {"required": required, "previous_month": previous_month},
    "default_args": {"retries": 1, "retry_delay": timedelta(minutes=5)},
}


def spark_job(task_id: str, job: str, *arguments: str, **options: object) -> SparkSubmitOperator:
    """spark-submit of jobs/<job>.py with the package, the jars and --conf, as jobs/ documents."""
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id=CONN_ID,
        application=str(HOME / "jobs" / f"{job}.py"),
        application_args=["--conf", CONF, *arguments],
        py_files=PY_FILES,
        jars=JARS,
        name=f"meterlake-{task_id}",
        **options,
    )


# A stuck ingest would hold back every later run (max_active_runs=1); after an hour it is stopped.
# Stopping one is safe: a batch is planned before it is written, and resumed by the next run.
with DAG("meterlake_ingest", schedule="*/15 * * * *", **DAG_DEFAULTS,
         dagrun_timeout=timedelta(minutes=60),
         doc_md="Load what the receivers landed, one source after another."):
    chain(*(spark_job(f"ingest_{source}", "ingest", source, trigger_rule=TriggerRule.ALL_DONE)
            for source in INGEST_SOURCES))

with DAG("meterlake_snapshot", schedule="@hourly", **DAG_DEFAULTS,
         doc_md="Merge what is new in bronze into silver."):
    spark_job("snapshot", "snapshot", pool=SILVER_POOL, priority_weight=10)

with DAG("meterlake_daily", schedule="@daily", **DAG_DEFAULTS,
         doc_md="Rebuild the 15-minute grid, then compact silver and gold."):
    chain(spark_job("grid", "grid", pool=SILVER_POOL),
          spark_job("optimize", "optimize", pool=SILVER_POOL, trigger_rule=TriggerRule.ALL_DONE))

with DAG("meterlake_settle", schedule="@monthly", **DAG_DEFAULTS,
         params={"month": Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                description="YYYY-MM to settle; empty: the previous month")},
         doc_md="Settle every partner of the book for the previous month."):
    spark_job("settle", "settle", "--book", BOOK, "--month", MONTH)
