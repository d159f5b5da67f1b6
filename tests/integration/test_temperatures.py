"""The temperature source end to end on a real lake: landed responses to bronze, silver and the
hourly table, the 3-hours-before query in Spark SQL, the quality record, re-runs, and the real
fixture response's means checked against an independent computation."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from statistics import fmean

import pytest
import shapely
from pyspark.sql import functions as F

from meterlake.core.lake import Lake
from meterlake.engine.ingest import ingest_paths, ingest_pending
from meterlake.gold.region_comparison import compare_assignments
from meterlake.gold.region_temperature_hourly import (
    GOLD_REGION_TEMPERATURE_HOURLY,
    OUTSIDE_EVERY_REGION,
)
from meterlake.lake_jobs import snapshot_source
from meterlake.quality.expectations import DQ_RESULTS
from meterlake.quality.quarantine import QUARANTINE
from meterlake.silver.temperature_records import SILVER_TEMPERATURE_RECORDS
from meterlake.sources.registry import source_named
from meterlake.sources.temperatures import NAME
from meterlake.sources.temperatures.regions import load_regions
from tests.helpers.lakes import MakeLake
from tests.helpers.paths import FIXTURES, REPO
from tests.helpers.temperature_case import (
    EXPECTED_3_HOURS_BEFORE,
    EXPECTED_HOURLY,
    NINE,
    RESPONSES,
    land_response,
    sql_rows,
    stage_temperature_lake,
)

RESPONSE_FIXTURE = FIXTURES / "temperature" / "mockaroo_sample_response_2019-04-26.json"
QUERY = (REPO / "sql" / "temperature_3_hours_before.sql").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def staged(spark, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    from tests.helpers.lakes import lake_at

    return stage_temperature_lake(lake_at(spark, tmp_path_factory.mktemp("temperatures")))


def hourly_rows(lake: Lake) -> list[tuple]:
    return sorted(tuple(r) for r in lake.read(GOLD_REGION_TEMPERATURE_HOURLY).collect())


def test_the_hourly_table_has_each_region_hour_and_assignment(staged: Lake) -> None:
    assert hourly_rows(staged) == EXPECTED_HOURLY


def test_silver_holds_every_record_once_with_the_correction(staged: Lake) -> None:
    silver = {r["record_id"]: r for r in staged.read(SILVER_TEMPERATURE_RECORDS).collect()}
    assert len(silver) == sum(len({str(r["id"]) for r in records}) for _, records in RESPONSES) - 1
    corrected = silver["paris-1"]
    assert (corrected["temperature"], corrected["version_count"]) == (14.0, 2)
    assert corrected["first_request_started_at"] == NINE.replace(tzinfo=None)
    assert silver["paris-3"]["temperature"] is None
    assert (silver["dortmund-1"]["is_in_france"], silver["ajaccio-1"]["is_in_france"]) == (
        False, True)


def test_the_3_hours_before_query_joins_on_time_not_on_rows(spark, staged: Lake) -> None:
    view_df = staged.read(GOLD_REGION_TEMPERATURE_HOURLY).select(
        "hour", F.col("region_code").alias("region"), "assignment", "temperature",
        F.col("number_of_points").alias("numberOfPoints"))
    view_df.createOrReplaceTempView("region_temperature_hourly")
    assert sql_rows(spark, QUERY) == EXPECTED_3_HOURS_BEFORE


def test_a_france_point_outside_every_region_is_in_the_quality_results(staged: Lake) -> None:
    results = staged.read(DQ_RESULTS).filter(F.col("expectation") == OUTSIDE_EVERY_REGION)
    last = max(r["table_version"] for r in results.collect())
    latest = {r["scope"]: (r["success"], r["element_count"], r["unexpected_count"], r["details"])
              for r in results.filter(F.col("table_version") == last).collect()}
    # Nine France records in silver (ten ids, Dortmund is not): the sea point has a box, no
    # contour. The Paris record without a temperature counts: it is a point, just no reading.
    assert latest == {
        "France points, box assignment": (True, 9, 0, None),
        "France points, polygon assignment": (False, 9, 1, "record ids: sea-1"),
    }


def test_compare_names_the_points_the_modes_disagree_on(staged: Lake) -> None:
    comparison = compare_assignments(staged)
    assert (comparison.france_points, comparison.disagreeing_points) == (9, 1)
    assert comparison.pairs == {("53", "-"): 1}
    shifts = {r.code: (r.box_points, r.polygon_points) for r in comparison.regions}
    assert (shifts["53"], shifts["-"], shifts["11"]) == ((1, 0), (0, 1), (5, 5))


def test_running_again_and_relanding_the_same_bytes_change_nothing(make_lake: MakeLake,
                                                                   staged: Lake) -> None:
    lake = make_lake("again", copy_of=staged)
    versions = {t.qualified_name: lake.version(t)
                for t in (SILVER_TEMPERATURE_RECORDS, GOLD_REGION_TEMPERATURE_HOURLY)}
    started, records = RESPONSES[0]
    land_response(lake, started, records)
    report = ingest_pending(lake, source_named(NAME).files)
    assert [f.outcome for f in report.files] == ["duplicate"]
    snapshot_source(lake, source_named(NAME))
    assert {name: lake.version(t) for name, t in (
        (t.qualified_name, t) for t in (SILVER_TEMPERATURE_RECORDS,
                                        GOLD_REGION_TEMPERATURE_HOURLY))} == versions
    assert hourly_rows(lake) == EXPECTED_HOURLY


def test_a_body_that_is_not_an_array_is_rejected_and_loads_nothing(lake: Lake,
                                                                   tmp_path: Path) -> None:
    body = tmp_path / "object.json"
    body.write_text('{"id": "x", "lat": 1}', encoding="utf-8")
    report = ingest_paths(lake, source_named(NAME).files, [body])
    assert [(f.outcome, f.reason) for f in report.files] == [("rejected", "not a JSON array")]
    assert lake.read(source_named(NAME).files.bronze).count() == 0


def independent_means(regions_dir: Path) -> dict[tuple[str, str], tuple[float, int]]:
    """The fixture's means per (assignment, region) computed without Spark: plain loops over
    the boxes in code order, and shapely per point for the contours."""
    regions = load_regions(regions_dir)
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for item in json.loads(RESPONSE_FIXTURE.read_text(encoding="utf-8")):
        lat, lon, temperature = item["lat"], item["lon"], item["temperature"]
        if item["country"].strip().lower() != "france" or temperature is None:
            continue
        box = next((r.code for r in regions if r.min_lat <= lat <= r.max_lat
                    and r.min_lon <= lon <= r.max_lon), None)
        contour = next((r.code for r in regions
                        if shapely.intersects_xy(r.geometry(), lon, lat)), None)
        for mode, code in (("box", box), ("polygon", contour)):
            if code is not None:
                values[(mode, code)].append(temperature)
    return {key: (fmean(v), len(v)) for key, v in values.items()}


def test_the_real_fixture_response_gives_the_independently_computed_means(
    lake: Lake
) -> None:
    ingest_paths(lake, source_named(NAME).files, [RESPONSE_FIXTURE])
    snapshot_source(lake, source_named(NAME))
    rows = lake.read(GOLD_REGION_TEMPERATURE_HOURLY).collect()
    assert len({r["hour"] for r in rows}) == 1  # one import, one hour
    got = {(r["assignment"], r["region_code"]): (r["temperature"], r["number_of_points"])
           for r in rows}
    expected = independent_means(FIXTURES / "regions")
    assert sorted(got) == sorted(expected)
    for key, (mean, points) in expected.items():
        assert got[key] == (pytest.approx(mean, rel=1e-12), points), key
    # 902 France records, 1000 in all: every record is valid (the nulls are not violations).
    assert lake.read(SILVER_TEMPERATURE_RECORDS).count() == 1000
    assert lake.read(QUARANTINE).count() == 0
