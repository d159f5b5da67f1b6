"""The tests' S3-compatible object store: SeaweedFS on loopback, started by the project's own
infra/s3.sh (see the `object_store` fixture in conftest), with one identity per role."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from tests.helpers.paths import REPO

SCRIPT = REPO / "infra" / "s3.sh"
ROLES = ("jobs", "receiver", "analyst")
# A first start builds SeaweedFS (infra/lib/build-seaweedfs.sh; `make test` builds it before):
# about 5 minutes on two cores.
START_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class ObjectStore:
    """Where the running server is and who may do what there. `store[role]` is that role's
    environment, as `infra/s3.sh env ROLE` prints it (AWS_*, METERLAKE_S3_ENDPOINT,
    METERLAKE_LAKE, METERLAKE_LANDING): what a job or a receiver of that role runs with."""

    endpoint: str
    region: str
    lake: str
    landing: str
    environments: Mapping[str, Mapping[str, str]]

    def __getitem__(self, role: str) -> dict[str, str]:
        return dict(self.environments[role])

    def credentials(self, role: str) -> Credentials:
        env = self.environments[role]
        return Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])

    @property
    def lake_bucket(self) -> str:
        return bucket_and_key(self.lake)[0]

    @property
    def lake_prefix(self) -> str:
        """The lake's key prefix in its bucket, with the trailing slash."""
        return bucket_and_key(self.lake)[1] + "/"

    @property
    def landing_bucket(self) -> str:
        return bucket_and_key(self.landing)[0]

    @property
    def landing_prefix(self) -> str:
        """The landing zone's key prefix in its bucket, with the trailing slash."""
        return bucket_and_key(self.landing)[1] + "/"


def bucket_and_key(url: str) -> tuple[str, str]:
    """('meterlake', 'lake') for s3a://meterlake/lake."""
    bucket, _, key = url.removeprefix("s3a://").partition("/")
    return bucket, key.rstrip("/")


def run_script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def role_environment(role: str) -> dict[str, str]:
    """The `export NAME=value` lines of `infra/s3.sh env ROLE`, as a dict."""
    result = run_script("env", role)
    assert result.returncode == 0, f"s3.sh env {role} failed:\n{result.stderr}"
    lines = result.stdout.splitlines()
    return dict(line.removeprefix("export ").split("=", 1) for line in lines)


@contextmanager
def running_object_store() -> Iterator[ObjectStore]:
    """The server running; yields where it is and each role's environment; stops it at the end
    only when it was not running before."""
    was_running = run_script("status").returncode == 0
    try:
        result = run_script("start", timeout=START_TIMEOUT_S)
        assert result.returncode == 0, f"s3.sh start failed:\n{result.stderr}"
        environments = {role: role_environment(role) for role in ROLES}
        jobs = environments["jobs"]
        yield ObjectStore(endpoint=jobs["METERLAKE_S3_ENDPOINT"], region=jobs["AWS_REGION"],
                          lake=jobs["METERLAKE_LAKE"], landing=jobs["METERLAKE_LANDING"],
                          environments=environments)
    finally:
        if not was_running:
            run_script("stop")
