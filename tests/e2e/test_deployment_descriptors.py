"""The deployment descriptors of infra/: the Airflow DAG and the crontab, checked against one
table of jobs (JOBS), and the S3 lifecycle of the bucket, checked against the S3 API's model.

The DAG is loaded by Airflow's own DagBag, in the virtualenv `infra/airflow.sh setup` makes
(Airflow never enters .venv): those tests are `slow`. The crontab is read as cron reads it, its
arguments expanded by bash; the lifecycle needs only botocore.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape
from botocore.validate import ParamValidator

from meterlake.sources.registry import SOURCE_NAMES
from tests.helpers.paths import REPO

CONF, BOOK, MONTH = "{conf}", "{book}", "{month}"


@dataclass(frozen=True)
class Job:
    """One scheduled spark-submit: its DAG and task, its UTC cron schedule, its entry point and
    arguments (CONF, BOOK, MONTH stand for what each descriptor passes), and the writer group it
    is serialised in (a pool in Airflow for `silver`, a flock lock in cron)."""

    dag_id: str
    task_id: str
    cron: str
    application: str
    arguments: tuple[str, ...]
    writers: str

    def argv(self, conf: str, book: str, month: str) -> list[str]:
        return [a.format(conf=conf, book=book, month=month) for a in self.arguments]


JOBS = (
    *(Job("meterlake_ingest", f"ingest_{source}", "*/15 * * * *", "jobs/ingest.py",
          ("--conf", CONF, source), "ingest") for source in SOURCE_NAMES),
    Job("meterlake_snapshot", "snapshot", "0 * * * *", "jobs/snapshot.py", ("--conf", CONF),
        "silver"),
    Job("meterlake_daily", "grid", "0 0 * * *", "jobs/grid.py", ("--conf", CONF), "silver"),
    Job("meterlake_daily", "optimize", "0 0 * * *", "jobs/optimize.py", ("--conf", CONF),
        "silver"),
    Job("meterlake_settle", "settle", "0 0 1 * *", "jobs/settle.py",
        ("--conf", CONF, "--book", BOOK, "--month", MONTH), "settle"),
)
DAG_SCHEDULES = {"meterlake_ingest": "*/15 * * * *", "meterlake_snapshot": "@hourly",
                 "meterlake_daily": "@daily", "meterlake_settle": "@monthly"}
# In each DAG, the writers that must not overlap run in this order, whatever the one before did.
AFTER = {"ingest_smrt": "ingest_utility_drops", "ingest_dropzone": "ingest_smrt",
         "ingest_temperatures": "ingest_dropzone", "ingest_sensors": "ingest_temperatures",
         "optimize": "grid"}
SECONDS_BETWEEN_RUNS = {"*/15 * * * *": 900, "0 * * * *": 3600, "0 0 * * *": 86400,
                        "0 0 1 * *": 28 * 86400}
JARS = "/jars/delta-spark.jar,/jars/hadoop-aws.jar"


def test_jobs_schedule_every_registered_source_and_every_entry_point() -> None:
    assert [j.task_id for j in JOBS if j.application == "jobs/ingest.py"] == [
        f"ingest_{s}" for s in ("utility_drops", "smrt", "dropzone", "temperatures", "sensors")]
    assert {j.application for j in JOBS} == {f"jobs/{p.name}" for p in (REPO / "jobs").glob("*.py")}


# --- Airflow -----------------------------------------------------------------------------------


def _airflow(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(REPO / "infra/airflow.sh"), *command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def _dag_summary(**environment: str) -> dict[str, Any]:
    """`infra/airflow.sh dagbag-check` in an environment without meterlake's or Airflow's own
    settings, plus `environment`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METERLAKE_", "AIRFLOW"))}
    check = _airflow("dagbag-check", env={**env, **environment})
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    return json.loads(check.stdout)


@pytest.fixture(scope="module")
def airflow_venv() -> None:
    setup = _airflow("setup")
    assert setup.returncode == 0, setup.stderr[-3000:]


@pytest.mark.slow
def test_dag_file_loads_with_the_schedules_and_spark_submits_of_jobs(airflow_venv: None) -> None:
    summary = _dag_summary(METERLAKE_JARS=JARS)
    assert (summary["import_errors"], summary["warnings"]) == ({}, {})
    assert sorted(summary["dags"]) == sorted(DAG_SCHEDULES)
    for dag_id, dag in summary["dags"].items():
        jobs = [j for j in JOBS if j.dag_id == dag_id]
        assert (dag["schedule"], dag["timetable"], dag["timezone"]) == (
            DAG_SCHEDULES[dag_id], "CronTriggerTimetable", "UTC")
        assert {dag["cron"]} == {j.cron for j in jobs}
        assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
        assert list(dag["tasks"]) == sorted(j.task_id for j in jobs)
    for job in JOBS:
        task = summary["dags"][job.dag_id]["tasks"][job.task_id]
        after = AFTER.get(job.task_id)
        assert task == {
            "operator": "SparkSubmitOperator",
            "conn_id": "meterlake_spark",
            "application": str(REPO / job.application),
            # Rendered for the run due on 2024-04-01T00:00Z: settle takes March.
            "application_args": job.argv(str(REPO / "conf/cluster.yaml"),
                                         str(REPO / "conf/settlement.yaml"), "2024-03"),
            "py_files": str(REPO / "dist/meterlake.zip"),
            "jars": JARS,
            "name": f"meterlake-{job.task_id}",
            "pool": "meterlake_silver" if job.writers == "silver" else "default_pool",
            "trigger_rule": "all_done" if job.writers == "ingest" or after else "all_success",
            "upstream": [after] if after else [],
        }


@pytest.mark.slow
def test_dag_settings_come_from_the_environment_and_jars_are_required(airflow_venv: None) -> None:
    tasks = _dag_summary(METERLAKE_HOME="/opt/meterlake", METERLAKE_SPARK_CONN_ID="spark_prod",
                         METERLAKE_CONF="/etc/meterlake/prod.yaml",
                         METERLAKE_BOOK="/etc/meterlake/book.yaml")["dags"]["meterlake_settle"]
    settle = tasks["tasks"]["settle"]
    assert (settle["conn_id"], settle["application"], settle["py_files"]) == (
        "spark_prod", "/opt/meterlake/jobs/settle.py", "/opt/meterlake/dist/meterlake.zip")
    assert settle["application_args"][:4] == ["--conf", "/etc/meterlake/prod.yaml",
                                              "--book", "/etc/meterlake/book.yaml"]
    assert settle["jars"] == {"render_error": "meterlake_jars / METERLAKE_JARS is not set "
                                              "(see infra/airflow/meterlake_dag.py)"}


@pytest.mark.slow
def test_settle_takes_the_month_before_the_run_whenever_it_runs(airflow_venv: None) -> None:
    instants = ["2024-01-01T00:00:00+00:00", "2024-03-31T23:59:00+00:00",
                "2024-03-01T00:30:00+01:00", "2024-12-15T12:00:00+00:00"]
    script = ("import importlib.util, json, sys; from datetime import datetime; "
              "spec = importlib.util.spec_from_file_location('dag', sys.argv[1]); "
              "dag = importlib.util.module_from_spec(spec); spec.loader.exec_module(dag); "
              "print(json.dumps([dag.previous_month(datetime.fromisoformat(t)) "
              "for t in sys.argv[2:]]))")
    result = _airflow("python", "-c", script, str(REPO / "infra/airflow/meterlake_dag.py"),
                      *instants)
    assert result.returncode == 0, result.stderr[-3000:]
    # 2024-03-01T00:30+01:00 is still February in UTC: the previous month is January.
    assert json.loads(result.stdout) == ["2023-12", "2024-02", "2024-01", "2024-11"]


# --- cron --------------------------------------------------------------------------------------

CRON_LINE = re.compile(
    r'(?P<cron>(?:\S+ ){4}\S+) +cd "\$METERLAKE_HOME" && '
    r"flock (?P<flock>-n|-w \d+) /run/lock/meterlake-(?P<writers>\w+)\.lock "
    r"bash infra/cron/submit\.sh (?P<application>jobs/\w+\.py) (?P<arguments>.+) "
    r'>>"\$METERLAKE_LOG_DIR/(?P<log>\w+)\.log" 2>&1')


def _crontab() -> tuple[dict[str, str], list[dict[str, str]]]:
    """The crontab's variables, and its job lines as CRON_LINE's groups (each must match)."""
    variables, lines = {}, []
    for line in (REPO / "infra/cron/meterlake.crontab").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if assignment := re.fullmatch(r"([A-Z_]+)=(.*)", line):
            variables[assignment[1]] = assignment[2]
            continue
        match = CRON_LINE.fullmatch(line)
        assert match, f"not a meterlake job line: {line}"
        lines.append(match.groupdict())
    return variables, lines


def _as_bash_expands(arguments: str, variables: dict[str, str]) -> list[str]:
    """The argument words the shell of a cron job gets (cron turns `\\%` into `%` first)."""
    script = "printf '%s\\0' " + arguments.replace("\\%", "%")
    env = {**variables, "PATH": os.environ["PATH"]}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                            timeout=30, check=True)
    return result.stdout.split("\0")[:-1]


def test_crontab_runs_the_jobs_on_the_same_schedules_in_utc_one_writer_at_a_time() -> None:
    variables, lines = _crontab()
    assert {k: variables[k] for k in ("SHELL", "CRON_TZ", "TZ")} == {
        "SHELL": "/bin/bash", "CRON_TZ": "UTC", "TZ": "UTC"}
    now = datetime.now(UTC)
    previous_month = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    found = [(line["cron"], line["application"],
              _as_bash_expands(line["arguments"], variables), line["writers"]) for line in lines]
    expected = [(job.cron, job.application,
                 job.argv(variables["METERLAKE_CONF"], "conf/settlement.yaml", previous_month),
                 job.writers) for job in JOBS]
    assert found == expected
    assert [line["log"] for line in lines] == [job.task_id for job in JOBS]
    for line in lines:
        # A run waiting for its lock gives up before its line is due again.
        waits = line["flock"].removeprefix("-w ")
        assert line["flock"] == "-n" or int(waits) < SECONDS_BETWEEN_RUNS[line["cron"]]


def test_cron_wrapper_adds_master_jars_package_and_credentials(tmp_path: Path) -> None:
    fake_submit = tmp_path / "spark-submit"
    fake_submit.write_text('#!/bin/sh\nprintf "%s\\n" "$AWS_ACCESS_KEY_ID" "$@"\nexit 3\n')
    fake_submit.chmod(0o755)
    env_file = tmp_path / "env"
    env_file.write_text("AWS_ACCESS_KEY_ID=key-from-the-env-file\n")
    env = {"PATH": os.environ["PATH"], "SPARK_SUBMIT": str(fake_submit),
           "METERLAKE_ENV_FILE": str(env_file), "METERLAKE_SPARK_MASTER": "spark://m:7077",
           "METERLAKE_JARS": JARS}
    result = subprocess.run(["bash", "infra/cron/submit.sh", "jobs/grid.py", "--conf", "a b.yaml"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 3
    start, *submitted, end = result.stdout.splitlines()
    assert submitted == ["key-from-the-env-file", "--master", "spark://m:7077", "--jars", JARS,
                         "--py-files", "dist/meterlake.zip", "jobs/grid.py", "--conf", "a b.yaml"]
    assert re.fullmatch(r"\S+Z start: jobs/grid.py --conf a b.yaml", start)
    assert re.fullmatch(r"\S+Z end: jobs/grid.py exit 3", end)


# --- S3 lifecycle ------------------------------------------------------------------------------


def load_lifecycle() -> dict[str, Any]:
    """infra/s3-lifecycle.json, the LifecycleConfiguration of put_bucket_lifecycle_configuration.

    landing/ is the raw archive: kept forever (no Expiration, no NoncurrentVersionExpiration),
    moved after 30 days to GLACIER_IR. Not GLACIER (Flexible Retrieval) or DEEP_ARCHIVE: their
    objects cannot be read without a restore taking hours, and every ingest run reads each
    `.meta.json` of its source to find what is pending, while a replay or an audit reads old
    files. Glacier Instant Retrieval reads in milliseconds. Objects of 128 KiB or less stay in
    STANDARD (the `.meta.json` files: Instant Retrieval bills 128 KiB at least, and a fee per
    read). Incomplete multipart uploads, anywhere in the bucket, are aborted after 7 days.

    The prefix is the landing_root of conf/cluster.example.yaml (s3a://<bucket>/landing). For AWS
    S3: SeaweedFS answers NotImplemented to a configuration with a Transition (it has tiers of
    its own), so there only the second rule applies.
    """
    return json.loads((REPO / "infra/s3-lifecycle.json").read_text())


def _lifecycle_errors(configuration: dict[str, Any]) -> list[str]:
    """What the S3 API's model (botocore's, offline) finds wrong: botocore's validator for the
    structure and types, plus the enums, which it does not check."""
    operation = botocore.session.get_session().get_service_model("s3").operation_model(
        "PutBucketLifecycleConfiguration")
    params = {"Bucket": "meterlake", "LifecycleConfiguration": configuration}
    report = ParamValidator().validate(params, operation.input_shape)
    errors = report.generate_report().splitlines() if report.has_errors() else []
    return errors + _enum_errors(params, operation.input_shape, "")


def _enum_errors(value: Any, shape: Shape, path: str) -> list[str]:
    if shape.type_name == "structure" and isinstance(value, dict):
        return [e for name, item in value.items() if name in shape.members
                for e in _enum_errors(item, shape.members[name], f"{path}.{name}")]
    if shape.type_name == "list" and isinstance(value, list):
        return [e for i, item in enumerate(value)
                for e in _enum_errors(item, shape.member, f"{path}[{i}]")]
    enum = getattr(shape, "enum", None)
    return [f"{path}: {value!r} is not one of {enum}"] if enum and value not in enum else []


def test_lifecycle_is_a_valid_put_bucket_lifecycle_configuration() -> None:
    assert _lifecycle_errors(load_lifecycle()) == []
    broken = {"Rules": [{"Status": "On", "Filter": {"Prefix": "landing/"},
                         "Transitions": [{"Days": "30", "StorageClass": "COLD"}]}]}
    assert len(_lifecycle_errors(broken)) == 3


def test_lifecycle_moves_landing_to_glacier_ir_after_30_days_and_never_expires() -> None:
    rules = load_lifecycle()["Rules"]
    assert rules == [
        {"ID": "landing-to-glacier-ir-after-30-days-kept-forever", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "landing/", "ObjectSizeGreaterThan": 131072}},
         "Transitions": [{"Days": 30, "StorageClass": "GLACIER_IR"}]},
        {"ID": "abort-incomplete-multipart-uploads-after-7-days", "Status": "Enabled",
         "Filter": {"Prefix": ""}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
    ]
    forever = {"Expiration", "NoncurrentVersionExpiration", "NoncurrentVersionTransitions"}
    assert [forever & rule.keys() for rule in rules] == [set(), set()]
