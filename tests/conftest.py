"""The fixtures every tier shares: one Spark session for the whole run (building one costs
seconds) and lakes under tmp_path. Helpers that are not fixtures live in tests/helpers/.

A module-scoped fixture may build a lake once for several tests only if they all just read it;
a test that writes to a lake (ingests again, merges, vacuums) takes its own from `make_lake`,
fresh or a copy of the module's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from meterlake.core.lake import Lake
from meterlake.core.spark import build_session
from tests.helpers.database_servers import running_servers
from tests.helpers.lakes import MakeLake, copy_lake, lake_at, local_test_settings
from tests.helpers.mqtt_broker import MqttBroker, running_mqtt_broker
from tests.helpers.object_store_server import ObjectStore, running_object_store
from tests.helpers.spark_cluster import running_spark_cluster
from tests.helpers.trino_server import running_trino


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = build_session(local_test_settings(tmp_path_factory.mktemp("session")),
                            "meterlake-tests")
    yield session
    session.stop()


@pytest.fixture
def make_lake(spark: SparkSession, tmp_path: Path) -> MakeLake:
    """A function that makes lakes under the test's tmp_path (see `MakeLake`); each name once."""
    made: set[str] = set()

    def make(name: str = "lake", *, max_value_per_unit: dict[str, float] | None = None,
             copy_of: Lake | None = None) -> Lake:
        if name in made:
            raise ValueError(f"this test already made a lake named {name!r}")
        made.add(name)
        if copy_of is None:
            return lake_at(spark, tmp_path / name, max_value_per_unit)
        if max_value_per_unit is not None:
            raise ValueError("a copy keeps the settings of the lake it copies")
        return copy_lake(copy_of, tmp_path / name)

    return make


@pytest.fixture
def lake(make_lake: MakeLake) -> Lake:
    """An empty lake of the test's own, on tmp_path/lake."""
    return make_lake("lake")


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    """PostgreSQL and MariaDB, started once for the session by infra/; their URLs by name."""
    with running_servers() as urls:
        yield urls


@pytest.fixture(scope="session")
def object_store() -> Iterator[ObjectStore]:
    """The SeaweedFS S3 server, started once for the session by infra/s3.sh; each role's
    environment by name (`object_store["jobs"]`)."""
    with running_object_store() as store:
        yield store


@pytest.fixture(scope="session")
def object_store_env(object_store: ObjectStore) -> dict[str, str]:
    """The jobs' identity (keys, region, endpoint): what a Spark job on the S3 lake runs with."""
    return {key: value for key, value in object_store["jobs"].items()
            if key.startswith("AWS_") or key == "METERLAKE_S3_ENDPOINT"}


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[str]:
    """A Spark standalone master and two workers, started once for the session by
    infra/spark-cluster.sh; its master URL."""
    with running_spark_cluster() as master:
        yield master


@pytest.fixture(scope="session")
def trino_url() -> Iterator[str]:
    """Trino with the lake's `lake` (read-only) and `lake_admin` catalogs, started once for the
    session by infra/trino.sh (fetched into ~/.cache/meterlake on first use); its URL."""
    with running_trino() as url:
        yield url


@pytest.fixture(scope="session")
def mqtt_broker() -> Iterator[MqttBroker]:
    """Mosquitto with the sensor source's users and ACL, started once for the session by
    infra/mosquitto.sh (only when a test asks for it); where it is and who may use it."""
    with running_mqtt_broker() as broker:
        yield broker
