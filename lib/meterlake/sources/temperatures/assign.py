"""Assigning temperature points to French regions, in two modes (input: `lat`, `lon` in WGS84
degrees; grain: one output row per input row, the input columns unchanged plus one string code).

- **box** (the partner spec's rule): a point belongs to a region when it lies in the region's
  bounding box, the min/max lat and lon over every point of its La Poste contour. Boxes overlap
  a lot (Paris is in the boxes of 11, 24 and 32), so a point in several boxes goes to the first
  by ascending region code: stable, documented, and not geography.
- **polygon**: a point belongs to the region whose La Poste contour covers it (holes and
  multipolygons honoured: Llivia, a Spanish enclave, is a hole in Occitanie's contour).

Both modes: boundaries are inclusive (`between` for boxes; shapely's `intersects_xy`, i.e.
covers, for contours). A point on a border two contours share is covered by both and, as with
boxes, gets the lowest code. Codes are compared as strings; all 13 are two digits, so that is
numeric order too. A null or NaN lat/lon, or a point no box or contour covers, gets null.
The order is whatever `regions` holds re-sorted by code here, so callers cannot change it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from meterlake.sources.temperatures.regions import (
    Region,
    polygon_region_index,
    prepared_contours,
)

BOX_REGION_CODE = "box_region_code"
POLYGON_REGION_CODE = "polygon_region_code"

ArrowBatches = Callable[[Iterable[pa.RecordBatch]], Iterable[pa.RecordBatch]]


def in_code_order(regions: Sequence[Region]) -> tuple[Region, ...]:
    """The regions by ascending code, refusing a code given twice (the order would be moot)."""
    ordered = tuple(sorted(regions, key=lambda region: region.code))
    codes = [region.code for region in ordered]
    if len(set(codes)) != len(codes):
        raise ValueError(f"region codes given more than once: {codes}")
    return ordered


def in_box(lat: Column, lon: Column, region: Region) -> Column:
    """True when (lat, lon) is in `region`'s bounding box, boundaries included; null when
    lat or lon is null."""
    return (lat.between(F.lit(region.min_lat), F.lit(region.max_lat))
            & lon.between(F.lit(region.min_lon), F.lit(region.max_lon)))


def box_region_code(lat: Column, lon: Column, regions: Sequence[Region]) -> Column:
    """The code of the first region by ascending code whose box holds (lat, lon), else null:
    one CASE WHEN chain of built-in comparisons, no UDF."""
    ordered = in_code_order(regions)
    if not ordered:
        return F.lit(None).cast(StringType())
    first, *rest = ordered
    code = F.when(in_box(lat, lon, first), F.lit(first.code))
    for region in rest:
        code = code.when(in_box(lat, lon, region), F.lit(region.code))
    return code


def _check_columns(points_df: DataFrame, lat: str, lon: str, out: str) -> None:
    missing = [name for name in (lat, lon) if name not in points_df.columns]
    if missing:
        raise ValueError(f"points have no column {missing}; they have {points_df.columns}")
    if out in points_df.columns:
        raise ValueError(f"points already have a column {out!r}")


def with_box_region(points_df: DataFrame, regions: Sequence[Region], lat: str = "lat",
                    lon: str = "lon", out: str = BOX_REGION_CODE) -> DataFrame:
    """Adds `out`, the box-rule region code (string, null outside every box) of the point in
    columns `lat`, `lon`. One row per input row."""
    _check_columns(points_df, lat, lon, out)
    return points_df.select("*", box_region_code(F.col(lat), F.col(lon), regions).alias(out))


def _as_degrees(column: pa.Array) -> npt.NDArray[np.float64]:
    # float64 whatever the Spark type (float, decimal, int); nulls become NaN in to_numpy.
    return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)


def polygon_assigner(regions: Sequence[Region], lat: str, lon: str, out: str) -> ArrowBatches:
    """The mapInArrow function: each batch plus `out`, the code of the region (in the given
    order) whose contour covers the point. Contours are rebuilt once per partition."""
    codes = [region.code for region in regions]

    def assign(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        contours = prepared_contours(regions)
        code_array = pa.array(codes, type=pa.string())
        for batch in batches:
            index = polygon_region_index(_as_degrees(batch.column(lat)),
                                         _as_degrees(batch.column(lon)), regions, contours)
            # A null index takes a null code: no per-row Python.
            yield batch.append_column(out, pc.take(code_array, pa.array(index, mask=index < 0)))

    return assign


def with_polygon_region(points_df: DataFrame, regions: Sequence[Region], lat: str = "lat",
                        lon: str = "lon", out: str = POLYGON_REGION_CODE) -> DataFrame:
    """Adds `out`, the code (string) of the region whose La Poste contour covers the point in
    columns `lat`, `lon`: null if none does or lat/lon is null. One row per input row; the
    output schema is the input schema plus `out`.

    Runs shapely's vectorised `intersects_xy` on prepared contours inside `mapInArrow`, so it
    scales with partitions; each region only tests the points inside its bounding box.
    """
    _check_columns(points_df, lat, lon, out)
    schema = StructType([*points_df.schema.fields, StructField(out, StringType(), True)])
    return points_df.mapInArrow(polygon_assigner(in_code_order(regions), lat, lon, out), schema)
