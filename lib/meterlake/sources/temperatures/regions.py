"""The 13 metropolitan French regions a temperature point can be assigned to.

Contours are La Poste's (one bare GeoJSON geometry per region, `laposte/singleGeoJson-<code>.json`,
[lon, lat] pairs); names come from the IGN-derived `regions.geojson` (`properties.code`,
`properties.nom`), read only for the names: its contours differ from La Poste's and are not the
ones the partner's rule is written against.

A region's bounding box is the min/max lat and lon over every point of its La Poste contour
(the partner spec's rule); the contour itself travels as WKB so that a `Region` pickles cheaply
to Spark executors and is rebuilt there with `shapely.from_wkb`. No Spark here: the poller and the
driver can load regions without a JVM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

CONTOURS_DIR = "laposte"
CONTOUR_FILE = re.compile(r"^singleGeoJson-(?P<code>[0-9A-Za-z]+)\.json$")
NAMES_FILE = "regions.geojson"
CONTOUR_TYPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class Region:
    """One region: its INSEE code, its name, the bounding box of its contour, the contour."""

    code: str
    name: str
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float
    wkb: bytes

    def geometry(self) -> shapely.Geometry:
        """The contour, rebuilt from its WKB (x = lon, y = lat)."""
        return shapely.from_wkb(self.wkb)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from exc


def read_names(path: Path) -> dict[str, str]:
    """Region code -> name from a FeatureCollection with `properties.code` and `.nom`."""
    if not path.is_file():
        raise FileNotFoundError(f"region names file not found: {path}")
    collection = _read_json(path)
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list):
        raise ValueError(f"{path}: not a GeoJSON FeatureCollection")
    names = {}
    for feature in features:
        properties = feature.get("properties") or {}
        if "code" in properties and "nom" in properties:
            names[str(properties["code"])] = str(properties["nom"])
    return names


def read_contour(path: Path) -> shapely.Geometry:
    """The contour in one La Poste file: a bare Polygon or MultiPolygon, valid and not empty."""
    raw = _read_json(path)
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind not in CONTOUR_TYPES:
        raise ValueError(f"{path}: the contour is a {kind!r} geometry, expected one of "
                         f"{', '.join(CONTOUR_TYPES)}")
    try:
        contour = shapely.from_geojson(json.dumps(raw))
    except shapely.errors.GEOSException as exc:
        raise ValueError(f"{path}: unreadable {kind} ({exc})") from exc
    # Point-in-polygon answers are undefined on an invalid polygon (self-crossing rings).
    if contour.is_empty or not contour.is_valid:
        raise ValueError(f"{path}: the {kind} is empty or invalid "
                         f"({shapely.is_valid_reason(contour)})")
    return contour


def region_of(code: str, name: str, contour: shapely.Geometry) -> Region:
    """A Region whose box spans every contour point (shapely's bounds are that min/max)."""
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in shapely.bounds(contour))
    return Region(code=code, name=name, min_lat=min_lat, max_lat=max_lat, min_lon=min_lon,
                  max_lon=max_lon, wkb=shapely.to_wkb(contour))


def load_regions(regions_dir: Path) -> tuple[Region, ...]:
    """Every region with a contour in `regions_dir/laposte/`, sorted by code (the order both
    assignment rules break ties in).

    Reads about 30 MB of GeoJSON (about a second): load once per job and pass the tuple along;
    it is immutable and hashable. Raises FileNotFoundError for a missing directory, names file
    or empty contour directory, and ValueError naming the file for a contour that is not a
    valid Polygon/MultiPolygon or a code that has no name.
    """
    if not Path(regions_dir).is_dir():
        raise FileNotFoundError(f"regions directory not found: {regions_dir}")
    contours_dir = Path(regions_dir) / CONTOURS_DIR
    if not contours_dir.is_dir():
        raise FileNotFoundError(f"region contours directory not found: {contours_dir}")
    names_path = Path(regions_dir) / NAMES_FILE
    names = read_names(names_path)
    paths = {}
    for path in contours_dir.iterdir():
        matched = CONTOUR_FILE.match(path.name)
        if matched:
            paths[matched["code"]] = path
    if not paths:
        raise FileNotFoundError(f"no singleGeoJson-<code>.json contour in {contours_dir}")
    regions = []
    for code in sorted(paths):
        if code not in names:
            raise ValueError(f"{paths[code]}: region code {code!r} has no name in {names_path}")
        regions.append(region_of(code, names[code], read_contour(paths[code])))
    return tuple(regions)


def prepared_contours(regions: Sequence[Region]) -> list[shapely.Geometry]:
    """The regions' contours rebuilt from WKB and prepared (GEOS builds an index of each ring's
    segments, so a point-in-polygon test is logarithmic, not linear, in the contour's ~30k
    vertices). Rebuilding all 13 takes milliseconds: done once per Spark partition."""
    contours = [region.geometry() for region in regions]
    shapely.prepare(contours)
    return contours


def polygon_region_index(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64],
    regions: Sequence[Region], contours: Sequence[shapely.Geometry],
) -> npt.NDArray[np.int64]:
    """For each point, the position in `regions` of the first region whose contour covers it
    (interior or boundary: `shapely.intersects_xy`), or -1; NaN coordinates give -1.

    Regions are tried in the given order and a point leaves the candidates once assigned, so
    with `regions` in code order a point on a boundary two regions share gets the lower code.
    Each region only tests the still unassigned points inside its bounding box: about one
    region's worth of contour tests per point instead of thirteen.
    """
    index = np.full(lat.shape, -1, dtype=np.int64)
    for position, (region, contour) in enumerate(zip(regions, contours, strict=True)):
        # NaN compares false, so null coordinates never become candidates.
        candidates = np.flatnonzero(
            (index < 0) & (lat >= region.min_lat) & (lat <= region.max_lat)
            & (lon >= region.min_lon) & (lon <= region.max_lon))
        if candidates.size:
            covered = shapely.intersects_xy(contour, lon[candidates], lat[candidates])
            index[candidates[covered]] = position
    return index
