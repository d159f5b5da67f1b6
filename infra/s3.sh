#!/usr/bin/env bash
# A throw-away S3-compatible object store (SeaweedFS) for the landing zone and the lake, on
# loopback only.
#
#   bash infra/s3.sh start        build weed if missing, start, wait, create the bucket
#   bash infra/s3.sh stop         stop the server (the data directory is kept)
#   bash infra/s3.sh status       exit 0 when it runs, 1 when it does not
#   bash infra/s3.sh env [ROLE]   print `export` lines for ROLE: jobs (default), receiver, analyst
#
# The server is `weed mini` (master, volume, filer and S3 gateway in one process) from the
# pinned SeaweedFS build of infra/lib/build-seaweedfs.sh (built on first use, about 5 minutes).
# One bucket, `meterlake`, holds the lake under lake/ and the landing zone under landing/;
# SeaweedFS scopes an identity's actions by key prefix (`Write:meterlake/landing*`), so each role
# gets exactly its part:
#
#   jobs       Spark jobs: read, write and list the lake and the landing zone
#   receiver   the receivers: read and write the landing zone, nothing of the lake
#   analyst    read and list the lake, nothing else
#   admin      this script only: it creates the bucket
#
# The prefix patterns have no slash before the `*` because S3A also asks for the bare key
# (HEAD lake, when it checks whether s3a://meterlake/lake is a file) and must get a 404 there,
# not a 403; they would also cover a `lakeside/`, which nothing in the bucket uses. The keys are fixed throw-away secrets, like the database scripts' password. Data,
# identities, pid and log live under the repository's ignored var/infra/s3 (or
# $METERLAKE_S3_DIR).
set -euo pipefail

SERVER=s3
PORT=18333
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
ENDPOINT="http://127.0.0.1:$PORT"
REGION=us-east-1
BUCKET=meterlake
DATA="$STATE/data"
PID="$STATE/weed.pid"
IDENTITIES="$STATE/identities.json"
ADMIN_KEY=meterlake-admin ADMIN_SECRET=meterlake-admin-secret

weed_binary() { bash "$REPO/infra/lib/build-seaweedfs.sh"; }

write_identities() {
    local lake="$BUCKET/lake*" landing="$BUCKET/landing*"
    mkdir -p "$STATE"
    cat >"$IDENTITIES" <<EOF
{
  "identities": [
    {"name": "admin",
     "credentials": [{"accessKey": "$ADMIN_KEY", "secretKey": "$ADMIN_SECRET"}],
     "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
    {"name": "jobs",
     "credentials": [{"accessKey": "meterlake-jobs", "secretKey": "meterlake-jobs-secret"}],
     "actions": ["Read:$lake", "Write:$lake", "List:$lake",
                 "Read:$landing", "Write:$landing", "List:$landing"]},
    {"name": "receiver",
     "credentials": [{"accessKey": "meterlake-receiver", "secretKey": "meterlake-receiver-secret"}],
     "actions": ["Read:$landing", "Write:$landing"]},
    {"name": "analyst",
     "credentials": [{"accessKey": "meterlake-analyst", "secretKey": "meterlake-analyst-secret"}],
     "actions": ["Read:$lake", "List:$lake"]}
  ]
}
EOF
}

is_running() { runs_from_pid_file "$PID" weed; }

# Every listener on 127.0.0.1 and on a port of meterlake's 183xx range instead of SeaweedFS's
# defaults (9333, 8080, 8888, 8333, 12535, ... and their +10000 gRPC twins). WebDAV, the admin
# UI, the Iceberg and Lance catalogs and telemetry are off; the admin server itself always runs
# in `weed mini` (its maintenance worker talks to it), so it gets ports in the range too.
launch() {
    local weed; weed="$(weed_binary)"
    mkdir -p "$DATA"
    # Signing keys (security.toml's jwt.*, given as WEED_* variables) for the filer's and the
    # volume server's HTTP APIs: without them any local process could read and write every
    # object there, around the S3 identities. The S3 gateway in the same process signs its own
    # requests with them.
    export WEED_JWT_SIGNING_KEY=meterlake-volume-write WEED_JWT_SIGNING_READ_KEY=meterlake-volume-read
    export WEED_JWT_FILER_SIGNING_KEY=meterlake-filer-write
    export WEED_JWT_FILER_SIGNING_READ_KEY=meterlake-filer-read
    # setsid: the server outlives this script and the shell or test that called it.
    setsid nohup "$weed" mini -dir="$DATA" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port=18330 -master.port.grpc=18331 \
        -volume.port=18340 -volume.port.grpc=18341 \
        -filer.port=18350 -filer.port.grpc=18351 \
        -s3.port="$PORT" -s3.port.grpc=18334 -s3.config="$IDENTITIES" \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -admin.ui=false -admin.port=18360 -admin.port.grpc=18361 -admin.port.legacy=0 \
        -webdav=false -webdav.port=18370 \
        -master.telemetry=false >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PID"
}

# curl signs with AWS Signature V4 itself: no S3 client needed in the script.
as_admin() {
    curl -sS --max-time 5 --aws-sigv4 "aws:amz:$REGION:s3" --user "$ADMIN_KEY:$ADMIN_SECRET" "$@"
}

# Ready means: the S3 gateway answers an authenticated ListBuckets, so identities are loaded.
admin_lists_buckets() { [[ "$(as_admin -o /dev/null -w '%{http_code}' "$ENDPOINT/")" == 200 ]]; }

create_bucket() {
    local code
    code="$(as_admin -o /dev/null -w '%{http_code}' -X PUT "$ENDPOINT/$BUCKET")"
    # 409: BucketAlreadyOwnedByYou, from an earlier start.
    [[ "$code" == 200 || "$code" == 409 ]] || { say "creating bucket $BUCKET: HTTP $code"; exit 1; }
}

start() {
    if is_running; then
        say "already running on $ENDPOINT"
    else
        write_identities
        say "starting on $ENDPOINT (log: $LOG)"
        launch
    fi
    succeeds_within_60s admin_lists_buckets || fail_showing_log "no answer on $ENDPOINT after 60 s"
    create_bucket
}

stop() {
    if ! is_running; then
        say "not running"
        return 0
    fi
    stop_from_pid_file "$PID" weed
    say "stopped"
}

print_env() {
    local role="${1:-jobs}"
    case "$role" in
        jobs | receiver | analyst) ;;
        *) echo "usage: $0 env [jobs|receiver|analyst]" >&2; exit 2 ;;
    esac
    cat <<EOF
export AWS_ACCESS_KEY_ID=meterlake-$role
export AWS_SECRET_ACCESS_KEY=meterlake-$role-secret
export AWS_REGION=$REGION
export AWS_ENDPOINT_URL=$ENDPOINT
export METERLAKE_S3_ENDPOINT=$ENDPOINT
export METERLAKE_LAKE=s3a://$BUCKET/lake
export METERLAKE_LANDING=s3a://$BUCKET/landing
EOF
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) is_running || exit 1 ;;
    env) print_env "${2:-}" ;;
    *) echo "usage: $0 start|stop|status|env [jobs|receiver|analyst]" >&2; exit 2 ;;
esac
