"""Raster load benchmark steps (each runs in its own process, see bench/__main__.py)."""

from __future__ import annotations

import json
import resource
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.warp import reproject

ORIGIN = (440_000.0, 4_960_000.0)  # UTM 10N, Willamette valley
CODES = np.array([54, 58, 60, 67, 85, 87, 53, 56], dtype=np.uint8)


#: the benchmark's own embedded cluster (and its local data-node clusters under nodes/)
BENCH_HOME = Path(__file__).resolve().parents[1] / ".ecorest-bench"


def bench_cluster_url() -> str:
    from ecorest.store.cluster import EmbeddedCluster

    cluster = EmbeddedCluster(BENCH_HOME)
    cluster.start()
    url = cluster.url("postgres")
    # the kernels' calls and times per function (pg_stat_user_functions), which the scenario
    # reports; the cluster is the benchmark's own
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("show track_functions").fetchone()[0] != "pl":
            conn.execute("alter system set track_functions = 'pl'")
            conn.execute("select pg_reload_conf()")
    return url


def _landcover(n: int, rng) -> np.ndarray:
    """Patchy classes: 64-px blocks of one class with 10 % speckle, nodata corners."""
    blocks = rng.choice(CODES, size=(n // 64 + 1, n // 64 + 1))
    a = np.kron(blocks, np.ones((64, 64), np.uint8))[:n, :n]
    speckle = rng.random((n, n)) < 0.1
    a[speckle] = rng.choice(CODES, size=int(speckle.sum()))
    a[: n // 10, : n // 10] = 255
    return a


def generate(work: Path, n_lc: int, n_ndvi: int) -> dict[str, Path]:
    rng = np.random.default_rng(42)
    lc = work / f"landcover_{n_lc}.tif"
    if not lc.exists():
        with rasterio.open(lc, "w", driver="GTiff", width=n_lc, height=n_lc, count=1,
                           dtype="uint8", crs="EPSG:26910", nodata=255, tiled=True,
                           blockxsize=512, blockysize=512, compress="deflate",
                           transform=from_origin(*ORIGIN, 30, 30)) as dst:
            dst.write(_landcover(n_lc, rng), 1)
    ndvi = work / f"ndvi_{n_ndvi}x10.tif"
    if not ndvi.exists():
        with rasterio.open(ndvi, "w", driver="GTiff", width=n_ndvi, height=n_ndvi, count=10,
                           dtype="int16", crs="EPSG:26910", nodata=-3000, tiled=True,
                           blockxsize=512, blockysize=512, compress="deflate",
                           transform=from_origin(*ORIGIN, 60, 60)) as dst:
            base = (np.sin(np.linspace(0, 20, n_ndvi))[None, :] *
                    np.cos(np.linspace(0, 15, n_ndvi))[:, None] * 2500 + 5000)
            for b in range(10):
                noise = rng.normal(0, 300, (n_ndvi, n_ndvi))
                dst.write((base + 60 * b + noise).astype(np.int16), b + 1)
                dst.set_band_description(b + 1, f"NDVI_{2010 + b}")
    return {"landcover": lc, "ndvi": ndvi}


def _fresh_db(url: str, path: str):
    """A fresh migrated database and a boundary file covering the raster at ``path``;
    returns (database name, its URL, an open connection, the boundary file)."""
    import psycopg
    from psycopg import sql

    from ecorest.store import db as dbmod

    name = f"ecorest_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dburl = psycopg.conninfo.make_conninfo(url, dbname=name)
    dbmod.migrate(dburl)
    with rasterio.open(path) as src:
        left, bottom, right, top = src.bounds
    boundary = Path(path).with_suffix(".boundary.geojson")
    boundary.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": {
            "type": "Polygon", "coordinates": [[[left, bottom], [right, bottom], [right, top],
                                                [left, top], [left, bottom]]]}}]}))
    return name, dburl, psycopg.connect(dburl), boundary


def _db(url: str, tile: int, path: str):
    """A fresh migrated database with a region covering the file, on a 30 m Albers grid."""
    from ecorest.etl.regions import create_region

    name, _, conn, boundary = _fresh_db(url, path)
    region = create_region(conn, "bench", boundary, crs="EPSG:5070", tile_size=tile)
    conn.rollback()
    return name, conn, region


def _drop(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as c:
        c.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(name)))


def step_baseline(path: str, url: str, tile: int, layer: str) -> dict:
    """rasterio read + warp of every band onto the region grid (whole arrays, no database)."""
    from ecorest.etl.regions import grid_crs

    name, conn, region = _db(url, tile, path)
    dst_crs = grid_crs(conn, region.srid)
    conn.close()
    _drop(url, name)
    resampling = Resampling.nearest if layer == "landcover" else Resampling.bilinear
    t0 = time.perf_counter()
    pixels = 0
    with rasterio.open(path) as src:
        for b in range(1, src.count + 1):
            dst = np.empty((region.height_px, region.width_px),
                           dtype=np.uint8 if layer == "landcover" else np.float32)
            reproject(rasterio.band(src, b), dst, dst_transform=region.transform,
                      dst_crs=dst_crs, dst_nodata=src.nodata, resampling=resampling)
            pixels += dst.size
    return {"seconds": time.perf_counter() - t0, "pixels": pixels}


def step_load(path: str, url: str, tile: int, layer: str, **kw) -> dict:
    from ecorest.etl.rasters import load_raster

    name, conn, region = _db(url, tile, path)
    try:
        if layer == "landcover":
            _bench_legend(conn)
            kw = {"epoch": "2020", "legend": "bench_legend"}
        t0 = time.perf_counter()
        ids = load_raster(conn, "bench", layer, path, show_progress=False, **kw)
        seconds = time.perf_counter() - t0
        pixels = len(ids) * region.width_px * region.height_px
    finally:
        conn.close()
        _drop(url, name)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "pixels": pixels, "peak_mb": peak}


def _bench_legend(conn) -> None:
    import tempfile

    from ecorest.etl.legends import load_legend

    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as fh:
        fh.write("class_code,name_en\n" + "".join(f"{c},class {c}\n" for c in CODES))
    load_legend(conn, "bench_legend", fh.name)
    conn.rollback()


if __name__ == "__main__":
    step, args = sys.argv[1], json.loads(sys.argv[2])
    report = {"baseline": step_baseline, "load": step_load}[step](**args)
    print(json.dumps(report))


def aligned_region_db(url: str, path: str):
    """A fresh migrated database with region 'bench' on the grid of the file (no resampling);
    returns (database name, its URL, an open connection). Drop it with _drop(url, name)."""
    from ecorest.etl.regions import create_region

    name, dburl, conn, boundary = _fresh_db(url, path)
    create_region(conn, "bench", boundary, align_to=path, allow_non_equal_area=True)
    return name, dburl, conn
