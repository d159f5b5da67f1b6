#!/usr/bin/env bash
# spark-submit of one meterlake job, as infra/cron/meterlake.crontab runs it, from the checkout:
#
#   bash infra/cron/submit.sh jobs/<job>.py [ARGS...]
#
# adds what every job needs (README.md, "spark-submit"): the master, the jars and the package.
#
#   METERLAKE_SPARK_MASTER  the master URL, required (spark://spark-master:7077)
#   METERLAKE_JARS          comma-separated jars (default: `python -m meterlake.core.jars paths`)
#   METERLAKE_PY_FILES      the package (default: dist/meterlake.zip, from `make package`)
#   METERLAKE_ENV_FILE      VAR=value lines exported first (default: /etc/meterlake/env, if it
#                           exists): the S3 credentials, which a crontab must not hold; make it
#                           readable by the jobs' user only
#   SPARK_SUBMIT            the spark-submit to run (default: the one on PATH)
#
# The job's output is framed by a start and an end line with the UTC time and the exit status,
# which is also this script's.
set -euo pipefail

env_file="${METERLAKE_ENV_FILE:-/etc/meterlake/env}"
if [[ -r "$env_file" ]]; then
    set -a
    # shellcheck disable=SC1090
    source "$env_file"
    set +a
fi
master="${METERLAKE_SPARK_MASTER:?set METERLAKE_SPARK_MASTER, e.g. spark://spark-master:7077}"
jars="${METERLAKE_JARS:-$(python -m meterlake.core.jars paths)}"
py_files="${METERLAKE_PY_FILES:-dist/meterlake.zip}"

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
echo "$(now) start: $*"
status=0
"${SPARK_SUBMIT:-spark-submit}" --master "$master" --jars "$jars" --py-files "$py_files" "$@" \
    || status=$?
echo "$(now) end: $1 exit $status"
exit "$status"
