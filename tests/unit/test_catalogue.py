"""The data catalogue: what the contracts declare for it (every column described, every input
known, so the catalogue cannot drift from the code), and the builder's parts on small Delta
tables written with delta-rs (no Spark)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from meterlake.catalog import ALL_TABLES, EVERY_LANDING_ZONE, table_descriptions
from meterlake.core.config import ObjectStoreSettings
from meterlake.core.contracts import TableContract
from meterlake.core.table_description import (
    EVERY_LANDING,
    LANDING,
    REFERENCE,
    REFERENCES,
    ColumnDescription,
    TableDescription,
)
from meterlake.engine.snapshot import SNAPSHOT_PROGRESS
from meterlake.quality.expectations import DQ_RESULTS
from meterlake.quality.quarantine import QUARANTINE
from meterlake.serve import catalogue_reads as creads
from meterlake.serve.catalogue import CatalogueBuilder, _freshness
from meterlake.serve.catalogue_pages import catalogue_html, catalogue_text, duration
from meterlake.serve.delta_reads import LatestTables, TableRef
from meterlake.silver.meter_readings import SILVER_METER_READINGS
from meterlake.sources.registry import DATASETS, SOURCE_NAMES
from meterlake.sources.utility_drops.contract import BRONZE_UTILITY_DROPS

_UTC_MICROS = pa.timestamp("us", tz="UTC")
T0 = datetime(2025, 11, 12, 10, 0, tzinfo=UTC)
TABLE_NAMES = {c.qualified_name for c in ALL_TABLES}


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("contract", ALL_TABLES, ids=lambda c: c.qualified_name)
def test_every_column_is_described(contract: TableContract) -> None:
    undescribed = [name for name, (text, _unit) in contract.column_docs.items() if not text]
    assert (undescribed, list(contract.column_docs)) == ([], contract.column_names)


@pytest.mark.parametrize("contract", ALL_TABLES, ids=lambda c: c.qualified_name)
def test_every_input_exists(contract: TableContract) -> None:
    known = {*TABLE_NAMES, *(f"{LANDING}{s}" for s in SOURCE_NAMES), EVERY_LANDING,
             *(f"{REFERENCE}{r}" for r in REFERENCES)}
    assert contract.fed_by and [n for n in contract.fed_by if n not in known] == []
    assert contract.qualified_name not in contract.fed_by


def test_every_keyed_dataset_names_its_bronze_as_input_of_its_silver_and_the_progress() -> None:
    for dataset in DATASETS:
        assert dataset.bronze.qualified_name in dataset.silver.fed_by, dataset.name
        assert dataset.bronze.qualified_name in SNAPSHOT_PROGRESS.fed_by, dataset.name


def test_every_table_with_expectations_feeds_the_quality_results() -> None:
    checked = [c.qualified_name for c in ALL_TABLES if c.expectations]
    assert [name for name in checked if name not in DQ_RESULTS.fed_by] == []


def test_descriptions_stay_out_of_the_schema_spark_and_delta_see() -> None:
    energy = BRONZE_UTILITY_DROPS.schema["energy_wh"]
    assert (energy.metadata, BRONZE_UTILITY_DROPS.column_docs["energy_wh"]) == (
        {}, ("energy measured over the interval", "Wh"))
    assert all(f.metadata == {} for c in ALL_TABLES for f in c.schema.fields)


def test_a_description_says_what_the_contract_declares() -> None:
    described = BRONZE_UTILITY_DROPS.describe()
    assert (described.qualified_name, described.keys, described.partition_by, described.owner,
            described.retention, described.is_append_only, described.fed_by) == (
        "bronze.utility_drops", ("meter_id", "interval_start"), ("interval_date",),
        "data platform team", "forever", True, ("landing:utility_drops",))
    assert described.columns[:4] == (
        ColumnDescription("meter_id", "string", False, "the meter, as the utility names it"),
        ColumnDescription("interval_start", "timestamp", False,
                          "start of the 15-minute interval (UTC; sent with an offset)"),
        ColumnDescription("interval_date", "date", False, "the UTC date of interval_start"),
        ColumnDescription("energy_wh", "double", False, "energy measured over the interval",
                          "Wh"),
    )
    assert described.row_rules[:2] == ("line_has_wrong_field_count", "meter_id_is_empty")
    assert TableDescription.from_dict(described.to_dict()) == described
    checked = SILVER_METER_READINGS.describe()
    assert (checked.row_rules, checked.expectations[-1]) == ((), (
        "ExpectColumnValuesToBeBetween(column=value, min_value=0.0, "
        "max_value=quality.max_value_per_unit[unit])"))


def test_the_catalogue_spells_out_every_landing_zone() -> None:
    described = {d.qualified_name: d for d in table_descriptions()}
    assert QUARANTINE.fed_by == (EVERY_LANDING,)
    assert described["bronze.quarantine"].fed_by == EVERY_LANDING_ZONE == (
        "landing:utility_drops", "landing:smrt", "landing:dropzone", "landing:temperatures",
        "landing:sensors")
    assert [d.qualified_name for d in table_descriptions()] == [
        c.qualified_name for c in ALL_TABLES]


def test_an_empty_lake_lists_every_table_as_not_written_with_its_lineage(
    tmp_path: Path,
) -> None:
    root = str(tmp_path / "lake")
    catalogue = CatalogueBuilder(table_descriptions(), LatestTables(root),
                                 f"{root}/landing").build()
    entries = {e.description.qualified_name: e for e in catalogue.entries}
    assert list(entries) == [c.qualified_name for c in ALL_TABLES]
    assert [name for name, e in entries.items() if e.freshness is not None] == []
    assert [(z.name, z.newest_arrival) for z in catalogue.landing] == [
        (zone, None) for zone in EVERY_LANDING_ZONE]
    hourly = entries["gold.meter_usage_hourly"]
    assert (hourly.sources, hourly.feeds, hourly.location) == (
        ("landing:smrt", "landing:utility_drops"), (), f"{root}/gold/meter_usage_hourly")
    assert entries["silver.meter_readings"].feeds == (
        "gold.meter_intervals_15min", "gold.settlement_lines", "ops.dq_results",
        "ops.report_runs")
    assert entries["gold.sensor_quality"].sources == ("landing:sensors",
                                                      "reference:sensor_registry")
    text = catalogue_text(catalogue)
    assert "gold.sensor_quality (owner: analytics engineering team; retention: configured)" \
        in text
    assert text.count("freshness: not written yet") == len(ALL_TABLES)


def _times(changed: float | None, committed: float | None = None) -> creads.CommitTimes:
    at = None if changed is None else _at(changed)
    return creads.CommitTimes(_at(committed if committed is not None else changed or 0), at)


def _description(name: str, fed_by: tuple[str, ...], grain: str = "one row per thing"
                 ) -> TableDescription:
    layer, table = name.split(".")
    return TableDescription(layer, table, grain, ("id",), (), (), "someone", "forever", True,
                            fed_by, (ColumnDescription("id", "string", False, "the id"),))


def test_lag_is_how_much_later_the_newest_input_changed() -> None:
    silver = _description("silver.readings", ("bronze.a", "bronze.b", "bronze.c"))
    times = {"bronze.a": _times(5), "bronze.b": _times(42.5), "silver.readings": _times(10)}
    fresh = _freshness(silver, 3, times["silver.readings"], times, {}, {})
    assert (fresh.version, fresh.committed_at, fresh.lag_seconds, fresh.behind) == (
        3, _at(10), 32.5, "bronze.b")
    times["bronze.b"] = _times(None, committed=60)  # only OPTIMIZE since: no new rows
    fresh = _freshness(silver, 3, times["silver.readings"], times, {}, {})
    assert (fresh.lag_seconds, fresh.behind) == (0.0, None)


def test_a_landed_file_ingest_already_decided_is_no_lag() -> None:
    bronze = _description("bronze.a", ("landing:a",))
    own = _times(10)
    arrivals = {"landing:a": _at(20)}
    waiting = _freshness(bronze, 1, own, {}, arrivals, {})
    assert (waiting.lag_seconds, waiting.behind) == (10.0, "landing:a")
    # The newest file was a duplicate: no bronze commit, but ingest logged it at 21 s.
    files = {"a": creads.SourceFiles(_at(20), _at(21))}
    assert _freshness(bronze, 1, own, {}, arrivals, files).lag_seconds == 0.0
    nothing_landed = _freshness(bronze, 1, own, {}, {"landing:a": None}, {})
    assert (nothing_landed.lag_seconds, nothing_landed.behind) == (None, None)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (42.5, "42.5 s"), (185, "3 min 5 s"), (7800, "2 h 10 min"),
    (273_600, "3 d 4 h")])
def test_lags_read_as_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_page_escapes_what_it_shows(tmp_path: Path) -> None:
    hostile = _description("gold.x", ("reference:<b>",), grain="<script>alert(1)</script>")
    catalogue = CatalogueBuilder([hostile], LatestTables(str(tmp_path)), str(tmp_path)).build()
    page = catalogue_html(catalogue)
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "reference:&lt;b&gt;" in page


def _landed(directory: Path, names: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"x")


def test_the_newest_landed_object_is_found_by_walking_down_the_newest_dates(
    tmp_path: Path,
) -> None:
    source = tmp_path / "landing" / "sensors"
    older = "20251112T095959.999000Z_aa_batch.jsonl"
    newest = "20251112T100001.250000Z_bb_batch.jsonl"
    _landed(source / "2025" / "11" / "11", ["20251111T230000.000000Z_cc_b.jsonl.meta.json"])
    _landed(source / "2025" / "11" / "12", [older, f"{older}.meta.json", newest,
                                            f"{newest}.meta.json",
                                            "20251112T100002.000000Z_dd_b.jsonl"])
    # A later day holding only an object still being written (no metadata yet).
    _landed(source / "2025" / "11" / "13", [".20251113T000000.000000Z_ee_b.jsonl.meta.json",
                                            "20251113T000000.000000Z_ee_b.jsonl"])
    found = creads.newest_landed_arrival(str(tmp_path / "landing"), "sensors",
                                         ObjectStoreSettings())
    assert found == datetime(2025, 11, 12, 10, 0, 1, 250000, tzinfo=UTC)
    assert creads.newest_landed_arrival(str(tmp_path / "landing"), "smrt",
                                        ObjectStoreSettings()) is None


def _table(root: Path, layer: str, name: str, columns: dict[str, pa.Array | list]) -> None:
    write_deltalake(str(root / layer / name), pa.table(columns))


def test_quality_is_each_expectation_s_latest_result(tmp_path: Path) -> None:
    stamps = pa.array([_at(0), _at(0), _at(60), _at(60), _at(90), _at(90)], _UTC_MICROS)
    _table(tmp_path, "ops", "dq_results", {
        "checked_at": stamps,
        "table_name": ["silver.a", "silver.a", "silver.a", "silver.a", "silver.b", "silver.b"],
        "table_version": [1, 1, 2, 2, 7, 7],
        "scope": ["d1", "d1", "d2", "d2", "box", "polygon"],
        "expectation": ["unique", "not_null", "unique", "not_null", "inside", "inside"],
        "success": [False, True, True, False, True, False],
    })
    dq = LatestTables(str(tmp_path)).latest(TableRef("ops", "dq_results", ""))
    assert creads.latest_checks(dq) == {
        "silver.a": creads.TableChecks(_at(60), 2, (
            creads.CheckResult("not_null", "d2", False), creads.CheckResult("unique", "d2",
                                                                             True))),
        "silver.b": creads.TableChecks(_at(90), 7, (
            creads.CheckResult("inside", "box", True),
            creads.CheckResult("inside", "polygon", False))),
    }


def test_the_sensor_indicator_is_the_mean_of_the_newest_hour(tmp_path: Path) -> None:
    hours = pa.array([_at(0), _at(3600), _at(3600), _at(3600)], _UTC_MICROS)
    _table(tmp_path, "gold", "sensor_quality", {
        "sensor_id": ["Sensor 1", "Sensor 1", "Sensor 2", "Sensor 2"], "hour_start": hours,
        "quality_indicator": [10.0, 90.0, 60.0, 75.0],
    })
    quality = LatestTables(str(tmp_path)).latest(TableRef("gold", "sensor_quality", ""))
    assert creads.latest_sensor_hour(quality) == creads.SensorHour(_at(3600), 75.0, 2)


def test_a_table_written_by_another_tool_shows_less_instead_of_failing(
    tmp_path: Path,
) -> None:
    _table(tmp_path, "ops", "ingest_log", {"source": ["a"], "outcome": ["loaded"]})
    _table(tmp_path, "ops", "dq_results", {"table_name": ["silver.a"]})
    tables = LatestTables(str(tmp_path))
    assert creads.ingest_log_by_source(tables.latest(TableRef("ops", "ingest_log", ""))) == {}
    assert creads.latest_checks(tables.latest(TableRef("ops", "dq_results", ""))) == {}
