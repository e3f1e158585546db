"""Small helpers shared by the tests: sample paths, tiny generated rasters, table snapshots."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
import rasterio
from psycopg import sql
from rasterio.transform import from_origin

from ecorest import samples

ROOT = Path(__file__).resolve().parent.parent


def testing_home() -> Path:
    """The test home: the embedded cluster, the derived demo files, lock files."""
    return Path(os.environ.get("ECOREST_TEST_HOME", ROOT / ".ecorest-test")).resolve()


@contextmanager
def file_lock(name: str) -> Iterator[None]:
    """An exclusive lock between the processes of a test run (pytest-xdist's workers): a lock
    file in the test home."""
    home = testing_home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / f"{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: the public sample data (ECOREST_SAMPLE_DATA, else ../shared/data beside the checkout)
SAMPLE = samples.locate()
WILLAMETTE = SAMPLE / "invest_willamette"
#: the demo's derived files, made by the project's code for this test session (one process at
#: a time: files being rewritten are not read half-written)
with file_lock("derived"):
    DERIVED = samples.derive(SAMPLE, testing_home() / "derived")

#: tables whose content a failed load must leave untouched
DATA_TABLES = (
    "registry.regions", "registry.legends", "registry.legend_classes", "registry.zones",
    "registry.zone_tiles",
    "registry.projects", "registry.project_measures", "registry.survey_plots",
    "registry.plot_measurements", "registry.plot_trees", "registry.plot_soil_layers",
    "registry.reference_samples", "registry.parameter_sets", "registry.parameter_values",
    "raster.catalog", "raster.tiles", "etl.quarantine",
)


def snapshot(conn: psycopg.Connection) -> dict[str, str]:
    """An md5 of every data table's rows (order-independent)."""
    out = {}
    for table in DATA_TABLES:
        query = sql.SQL("select count(*) || ':' || coalesce(md5(string_agg(md5(t::text), '' "
                        "order by md5(t::text))), '') from {} t").format(
            sql.Identifier(*table.split(".")))
        out[table] = conn.execute(query).fetchone()[0]
    conn.rollback()
    return out


def write_raster(path: Path, data: np.ndarray, *, crs: str | None = "EPSG:26910",
                 origin: tuple[float, float] = (450_000.0, 4_950_000.0), res: float = 30.0,
                 nodata: float | None = None, descriptions: list[str] | None = None) -> Path:
    """A GeoTIFF with the given array (2-D, or 3-D bands first)."""
    arr = data if data.ndim == 3 else data[None]
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1],
                       count=arr.shape[0], dtype=arr.dtype, crs=crs,
                       transform=from_origin(origin[0], origin[1], res, res),
                       nodata=nodata) as dst:
        dst.write(arr)
        for i, d in enumerate(descriptions or []):
            dst.set_band_description(i + 1, d)
    return path


def willamette_region(conn: psycopg.Connection) -> None:
    """The demo region and its legend, as `ecorest demo` creates them."""
    from ecorest.etl.legends import load_legend
    from ecorest.etl.regions import create_region

    create_region(conn, "willamette", DERIVED / "willamette_region.geojson")
    load_legend(conn, "willamette", DERIVED / "willamette_legend.csv")


def value_counts(conn: psycopg.Connection, catalog_id: int) -> dict[int, int]:
    rows = conn.execute(
        "select (vc).value::int, sum((vc).count)::bigint from (select st_valuecount(rast) vc "
        "from raster.tiles where catalog_id = %s) s group by 1", (catalog_id,)).fetchall()
    return dict(rows)


def footprint(tmp: Path, raster: Path) -> Path:
    """A GeoJSON rectangle (in the raster's own CRS) covering the raster."""
    with rasterio.open(raster) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs.to_string()
    f = tmp / "footprint.geojson"
    f.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": crs}},
        "features": [{"type": "Feature", "properties": {}, "geometry": {
            "type": "Polygon", "coordinates": [[[left, bottom], [right, bottom], [right, top],
                                                [left, top], [left, bottom]]]}}]}))
    return f


def square_project(tmp: Path, start_date: str, col: int = 20, row: int = 20,
                   size_px: int = 10) -> Path:
    """A GeoJSON with one square project 'P1' on the 30 m UTM test grid of write_raster."""
    x0, y0 = 450_000 + col * 30, 4_950_000 - row * 30
    d = size_px * 30
    square = [[x0, y0], [x0 + d, y0], [x0 + d, y0 - d], [x0, y0 - d], [x0, y0]]
    path = tmp / "projects.geojson"
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
        "features": [{"type": "Feature", "properties": {
            "project_id": "P1", "name": "Test planting", "project_type": "afforestation",
            "start_date": start_date},
            "geometry": {"type": "Polygon", "coordinates": [square]}}]}))
    return path
