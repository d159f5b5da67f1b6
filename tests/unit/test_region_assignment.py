"""Unit tests for meterlake.sources.temperatures.regions and .assign: the La Poste contours and
IGN names, the box rule and the polygon rule on named points, and both rules on the captured
partner response.

Expected codes were worked out from the geography (which department a town is in, where the
sea is) and then checked against the fixture contours with plain shapely, outside this code.
"""

from __future__ import annotations

import json
import math
import re
from itertools import chain
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField

from meterlake.sources.temperatures.assign import (
    with_box_region,
    with_polygon_region,
)
from meterlake.sources.temperatures.regions import Region, load_regions
from tests.helpers.paths import FIXTURES

REGIONS_DIR = FIXTURES / "regions"
RESPONSE = FIXTURES / "temperature" / "mockaroo_sample_response_2019-04-26.json"
POINTS_DDL = "name STRING, lat DOUBLE, lon DOUBLE"
CODES_DDL = "name STRING, box_region_code STRING, polygon_region_code STRING"
# Where Île-de-France (11), Centre-Val de Loire (24) and Normandie (28) meet: a vertex of all
# three La Poste contours, so on the boundary of each.
TRIPOINT_11_24_28 = (48.94088433119898, 1.501928944228892)


@pytest.fixture(scope="module")
def regions() -> tuple[Region, ...]:
    return load_regions(REGIONS_DIR)


def _both_modes(points_df: DataFrame, regions: tuple[Region, ...]) -> DataFrame:
    return (points_df.transform(with_box_region, regions)
            .transform(with_polygon_region, regions))


def _points(spark: SparkSession, rows: list[tuple[str, float | None, float | None]]) -> DataFrame:
    return spark.createDataFrame(rows, POINTS_DDL)


def _contour_lonlats(code: str) -> list[list[float]]:
    """Every [lon, lat] pair of a La Poste file, flattened whatever the nesting depth."""
    coordinates = json.loads((REGIONS_DIR / "laposte" / f"singleGeoJson-{code}.json")
                             .read_text(encoding="utf-8"))["coordinates"]
    while not isinstance(coordinates[0][0], float):
        coordinates = list(chain.from_iterable(coordinates))
    return coordinates


def test_load_regions_gives_the_13_metropolitan_regions_by_code_with_their_names(
    regions: tuple[Region, ...],
) -> None:
    assert [(r.code, r.name) for r in regions] == [
        ("11", "Île-de-France"), ("24", "Centre-Val de Loire"), ("27", "Bourgogne-Franche-Comté"),
        ("28", "Normandie"), ("32", "Hauts-de-France"), ("44", "Grand Est"),
        ("52", "Pays de la Loire"), ("53", "Bretagne"), ("75", "Nouvelle-Aquitaine"),
        ("76", "Occitanie"), ("84", "Auvergne-Rhône-Alpes"),
        ("93", "Provence-Alpes-Côte d'Azur"), ("94", "Corse"),
    ]
    by_code = {r.code: r.geometry() for r in regions}
    assert by_code["11"].geom_type == "Polygon"
    assert len(by_code["11"].interiors) == 126  # slivers between postal areas, ~500 m² at most
    assert (by_code["53"].geom_type, len(by_code["53"].geoms)) == ("MultiPolygon", 5)


@pytest.mark.parametrize("code", ["11", "53", "94"])
def test_a_box_spans_every_point_of_the_contour(regions: tuple[Region, ...], code: str) -> None:
    lonlats = _contour_lonlats(code)
    region = next(r for r in regions if r.code == code)
    assert (region.min_lat, region.max_lat, region.min_lon, region.max_lon) == (
        min(lat for _, lat in lonlats), max(lat for _, lat in lonlats),
        min(lon for lon, _ in lonlats), max(lon for lon, _ in lonlats))


def test_box_values_of_ile_de_france_and_corse(regions: tuple[Region, ...]) -> None:
    by_code = {r.code: r for r in regions}
    assert by_code["11"].min_lon == 1.447462580513837
    assert by_code["11"].max_lat == 49.24137459432557
    assert by_code["94"].min_lat == 41.36456397427047
    assert by_code["94"].max_lon == 9.559698998488239


def test_named_points_in_both_modes(spark: SparkSession, regions: tuple[Region, ...]) -> None:
    actual_df = _both_modes(_points(spark, [
        ("paris", 48.8566, 2.3522),  # in the boxes of 11, 24 and 32
        ("mantes_la_jolie", 48.9908, 1.7167),  # Yvelines; boxes of 11, 28, 32
        ("vernon", 49.0925, 1.4847),  # Eure, so Normandie; boxes of 11, 28, 32: box says 11
        ("ajaccio", 41.9192, 8.7386),
        ("sea_in_bretagne_box", 47.5, -4.5),  # Atlantic south-west of Penmarc'h
        ("sea_west_of_ouessant", 48.0, -5.5),  # west of every box
        ("dortmund", 51.5136, 7.4653),  # north of every box (Hauts-de-France tops at 51.09)
        ("llivia", 42.4636, 1.9736),  # a Spanish enclave: a hole in Occitanie's contour
        ("hautes_pyrenees_enclave", 43.2756, -0.1103),  # Occitanie's islet in 75's box and hole
        # The Enclave des Papes (Vaucluse, PACA) is a hole in 84's contour that La Poste's 93
        # contour does not fill (IGN's does): French, yet no contour covers it.
        ("valreas", 44.3847, 4.9908),
        ("tripoint_11_24_28", *TRIPOINT_11_24_28),
        ("null_lat", None, 2.3522),
        ("null_lon", 48.8566, None),
    ]), regions).select("name", "box_region_code", "polygon_region_code")
    expected_df = spark.createDataFrame([
        ("paris", "11", "11"),
        ("mantes_la_jolie", "11", "11"),
        ("vernon", "11", "28"),
        ("ajaccio", "94", "94"),
        ("sea_in_bretagne_box", "53", None),
        ("sea_west_of_ouessant", None, None),
        ("dortmund", None, None),
        ("llivia", "76", None),
        ("hautes_pyrenees_enclave", "75", "76"),
        ("valreas", "84", None),
        ("tripoint_11_24_28", "11", "11"),
        ("null_lat", None, None),
        ("null_lon", None, None),
    ], CODES_DDL)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True)


def test_box_boundaries_are_inclusive(spark: SparkSession, regions: tuple[Region, ...]) -> None:
    corse = next(r for r in regions if r.code == "94")
    actual_df = _points(spark, [
        # Corsica's northernmost contour point is Cap Corse (lon 9.4); at lon 9.0 it is sea.
        ("on_top_edge", corse.max_lat, 9.0),
        ("just_above", math.nextafter(corse.max_lat, math.inf), 9.0),
        ("on_east_corner", corse.max_lat, corse.max_lon),
    ]).transform(with_box_region, regions).select("name", "box_region_code")
    expected_df = spark.createDataFrame(
        [("on_top_edge", "94"), ("just_above", None), ("on_east_corner", "94")],
        "name STRING, box_region_code STRING")
    assert_df_equality(actual_df, expected_df, ignore_row_order=True)


def test_the_lowest_code_wins_whatever_order_the_regions_come_in(
    spark: SparkSession, regions: tuple[Region, ...],
) -> None:
    reordered = tuple(reversed(regions))
    actual_df = _both_modes(_points(spark, [
        ("paris", 48.8566, 2.3522), ("tripoint_11_24_28", *TRIPOINT_11_24_28),
    ]), reordered).select("name", "box_region_code", "polygon_region_code")
    expected_df = spark.createDataFrame(
        [("paris", "11", "11"), ("tripoint_11_24_28", "11", "11")], CODES_DDL)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True)


def test_polygon_mode_keeps_the_input_columns_and_types(
    spark: SparkSession, regions: tuple[Region, ...],
) -> None:
    points_df = spark.createDataFrame(
        [(1, 48.8566, 2.3522, 21.5), (2, 41.9192, 8.7386, None), (3, None, None, 3.0)],
        "id INT, lat FLOAT, lon FLOAT, temperature DOUBLE")
    actual_df = with_polygon_region(points_df, regions, out="region")
    assert actual_df.schema.fields == [*points_df.schema.fields,
                                       StructField("region", StringType(), True)]
    # FLOAT rounding moves Paris and Ajaccio by under a metre: still well inside.
    assert sorted(actual_df.select("id", "region").collect()) == [(1, "11"), (2, "94"), (3, None)]


def test_an_existing_output_column_is_refused(spark: SparkSession,
                                              regions: tuple[Region, ...]) -> None:
    points_df = _points(spark, [("paris", 48.8566, 2.3522)])
    with pytest.raises(ValueError, match="already have a column 'name'"):
        with_polygon_region(points_df, regions, out="name")
    with pytest.raises(ValueError, match="no column"):
        with_box_region(points_df, regions, lat="latitude")


def test_both_modes_on_the_captured_response(spark: SparkSession,
                                             regions: tuple[Region, ...]) -> None:
    records = json.loads(RESPONSE.read_text(encoding="utf-8"))
    response_df = spark.createDataFrame(
        [(r["id"], r["lat"], r["lon"], r["country"]) for r in records],
        "id STRING, lat DOUBLE, lon DOUBLE, country STRING")
    france_df = _both_modes(response_df.filter(F.col("country") == "France"), regions)
    counts = france_df.agg(
        F.count("*").alias("points"),
        F.count("box_region_code").alias("in_a_box"),
        F.count("polygon_region_code").alias("in_a_contour"),
        F.count_if(~F.col("box_region_code").eqNullSafe(F.col("polygon_region_code")))
        .alias("disagree"),
    ).first()
    # Computed once with plain shapely and json over the fixture (per point: the first box and
    # the first intersecting contour by code), outside meterlake, then frozen here. The one
    # France point no contour covers is on the shore at Granville, ~25 m off Normandie's
    # contour; the largest group of disagreements (58 of 186) is Occitanie (76) points that
    # the box of Nouvelle-Aquitaine (75) takes.
    assert counts is not None
    assert counts.asDict() == {"points": 902, "in_a_box": 902, "in_a_contour": 901,
                               "disagree": 186}
    assert france_df.filter((F.col("box_region_code") == "75")
                            & (F.col("polygon_region_code") == "76")).count() == 58


def test_load_regions_names_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nowhere"))):
        load_regions(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "laposte"))):
        load_regions(tmp_path)


def _regions_dir(tmp_path: Path, contour: dict, names: dict[str, str]) -> Path:
    (tmp_path / "laposte").mkdir()
    (tmp_path / "laposte" / "singleGeoJson-11.json").write_text(json.dumps(contour))
    features = [{"type": "Feature", "geometry": None, "properties": {"code": c, "nom": n}}
                for c, n in names.items()]
    (tmp_path / "regions.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}))
    return tmp_path


SQUARE = {"type": "Polygon", "coordinates": [[[2, 48], [3, 48], [3, 49], [2, 49], [2, 48]]]}


def test_load_regions_names_a_contour_of_the_wrong_geometry_type(tmp_path: Path) -> None:
    regions_dir = _regions_dir(tmp_path, {"type": "LineString", "coordinates": [[2, 48], [3, 49]]},
                               {"11": "Île-de-France"})
    with pytest.raises(ValueError, match=r"singleGeoJson-11\.json: the contour is a 'LineString'"):
        load_regions(regions_dir)


def test_load_regions_names_a_code_without_a_name(tmp_path: Path) -> None:
    regions_dir = _regions_dir(tmp_path, SQUARE, {"24": "Centre-Val de Loire"})
    with pytest.raises(ValueError, match=r"singleGeoJson-11\.json: region code '11' has no name"):
        load_regions(regions_dir)


def test_load_regions_reads_a_minimal_directory(tmp_path: Path) -> None:
    (only,) = load_regions(_regions_dir(tmp_path, SQUARE, {"11": "Île-de-France"}))
    assert (only.code, only.name, only.min_lat, only.max_lat, only.min_lon, only.max_lon) == (
        "11", "Île-de-France", 48.0, 49.0, 2.0, 3.0)
    assert only.geometry().equals(only.geometry().envelope)
