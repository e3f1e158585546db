"""The whole assessment of one region, stage by stage, against plain numpy of the same work.

    python -m bench.scenario [--size N] [--workdir DIR] [--dsn URL] [--nodes K]

Inputs (generated under the work folder, reused when present; N = 10000 is 10^8 px a layer,
30 m, UTM 10N): two land-cover epochs (2000, 2010; bench/carbon.py's pair), a 10-epoch NDVI
series (2011-2020, int16 x 1e-4) on the same grid, a DEM (bench/services.py's ridges and
valleys), two zone sets (13 districts, 2 halves split on a diagonal), a carbon pool table with
uncertainties. Everything is loaded into a fresh database (load times reported), then `ecorest
run` builds every model — carbon stocks and changes, the NDVI trend, slope and the other
identification factors (six here), weighted overlay, grades, patches, zone scores, the Monte
Carlo uncertainty — and runs every dbt test; then the same run again (nothing changed).

Per stage: ecorest's seconds (the dbt nodes of the stage, from run_results.json; they overlap
when dbt runs models in parallel, so the stages add up to more than the wall time), a plain
numpy/rasterio/scipy baseline of the same computation measured in the same run (each in its own
process), the ratio and the peak memory. Results are compared where both compute the same
number (stocks per epoch, NDVI-trend classes, slope-class areas, zone pixel counts).

With --nodes K the same inputs are loaded and assessed a second time on a coordinator with K
data nodes (local clusters on 127.0.0.1 beside the benchmark's, under .ecorest-bench/nodes/):
both runs' stage tables, their times and the ratio, and the results compared (they must be
equal). On one machine the nodes share its cores: this shows the mechanism's cost and
overlap, not the speed-up of separate machines (docs/ARCHITECTURE.md, "Scale-out").

Then the class x class cross-tab of the two land-cover epochs by the server's kernel
(raster.crosstab over every pair of tiles) in one process, its CPU seconds per 10^8 pixel
pairs against the compute floor measured in the same run: numpy's bincount of the pairs held
in memory, on one core.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from .carbon import model_timings, second_epoch
from .identification import numpy_trend
from .load import ORIGIN, _drop, _landcover, aligned_region_db
from .memory import backend_cpu_seconds, server_cpu_seconds, server_peak

CELL = 30.0
YEARS = list(range(2011, 2021))
#: class -> (IPCC land category, agb, bgb, soc, dead wood t C/ha)
CLASSES = {53: ("forest_land", 120, 30, 90, 12), 54: ("forest_land", 95, 24, 85, 9),
           56: ("grassland", 6, 14, 70, 0), 58: ("grassland", 4, 10, 60, 0),
           60: ("cropland", 5, 1, 45, 0), 67: ("wetlands", 20, 8, 150, 2),
           85: ("settlements", 2, 0.5, 30, 0), 87: ("other_land", 0, 0, 15, 0)}
POOLS = ("agb", "bgb", "soc", "dead_wood")
UNCERTAINTY = {"agb": 30, "bgb": 40, "soc": 50, "dead_wood": 60}    # % (95 % half-width)
#: dbt node -> stage
STAGES = (("carbon", ("landcover", "carbon", "density", "trajector", "biomass", "soc_",
                      "quantity", "stock", "gain_loss", "tier1", "ipcc", "signal")),
          ("NDVI trend", ("ndvi",)),
          ("slope", ("slope",)),
          ("factors, overlay, grades", ("factor", "priority", "score_breaks", "ident",
                                        "transition_severity", "accuracy", "constraint")),
          ("patches", ("patch",)),
          ("zone scores", ("zone",)),
          ("uncertainty", ("uncertainty",)))


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------

def _profile(n: int, dtype: str, nodata, count: int = 1) -> dict:
    return dict(driver="GTiff", width=n, height=n, count=count, dtype=dtype, crs="EPSG:26910",
                nodata=nodata, tiled=True, blockxsize=512, blockysize=512,
                transform=from_origin(*ORIGIN, CELL, CELL))


def _ndvi_rows(n: int, r0: int, r1: int, band: int, rng) -> np.ndarray:
    """NDVI x 1e4 of rows r0..r1-1 in year ``band``: a smooth field, a trend that changes sign
    across the region (-60 ... +60 a year) and noise, so that all five trend classes occur."""
    r = np.arange(r0, r1, dtype=np.float64)[:, None]
    c = np.arange(n, dtype=np.float64)[None, :]
    base = 5000 + 2500 * np.sin(c * 20 / n) * np.cos(r * 15 / n)
    trend = 60 * np.sin(2 * math.pi * (r + c) / n)
    return (base + trend * band + rng.normal(0, 250, (r1 - r0, n))).astype(np.int16)


def generate(work: Path, n: int) -> dict[str, Path]:
    from .services import _surface

    work.mkdir(parents=True, exist_ok=True)
    out = {"lc1": work / f"scn_landcover_{n}.tif", "ndvi": work / f"scn_ndvi_{n}x10.tif",
           "dem": work / f"scn_dem_{n}.tif"}
    if not out["lc1"].exists():
        with rasterio.open(out["lc1"], "w", **_profile(n, "uint8", 255)) as dst:
            dst.write(_landcover(n, np.random.default_rng(42)), 1)
    out["lc2"] = second_epoch(out["lc1"])
    if not out["ndvi"].exists():
        tmp = out["ndvi"].with_suffix(".part.tif")
        rng = np.random.default_rng(11)
        with rasterio.open(tmp, "w", **_profile(n, "int16", -3000, len(YEARS))) as dst:
            for b, year in enumerate(YEARS):
                dst.set_band_description(b + 1, f"NDVI_{year}")
                for r0 in range(0, n, 1024):
                    r1 = min(n, r0 + 1024)
                    dst.write(_ndvi_rows(n, r0, r1, b, rng), b + 1,
                              window=rasterio.windows.Window(0, r0, n, r1 - r0))
        tmp.rename(out["ndvi"])
    if not out["dem"].exists():
        with rasterio.open(out["dem"], "w", **_profile(n, "float32", -9999.0)) as dst:
            for r0 in range(0, n, 1024):
                r1 = min(n, r0 + 1024)
                dst.write(_surface(n, "dem", r0, r1), 1,
                          window=rasterio.windows.Window(0, r0, n, r1 - r0))
    out.update(_zones(work, n))
    out.update(_tables(work))
    return out


def _zones(work: Path, n: int) -> dict[str, Path]:
    """13 districts (irregular column and row cuts, not on tile borders) and 2 halves split on
    the diagonal, as GeoJSON in UTM 10N."""
    x0, y1 = ORIGIN
    x1, y0 = x0 + n * CELL, y1 - n * CELL

    def fc(features):
        return {"type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
                "features": [{"type": "Feature", "properties": {"zone_code": code, "name": code},
                              "geometry": {"type": "Polygon", "coordinates": [ring]}}
                             for code, ring in features]}

    def box(a, b, c, d):
        return [[a, b], [c, b], [c, d], [a, d], [a, b]]

    xs = [x0 + f * (x1 - x0) for f in (0, 0.23, 0.51, 0.77, 1)]
    ys = [y0 + f * (y1 - y0) for f in (0, 0.31, 0.64, 1)]
    districts = []
    for i in range(4):
        for j in range(3):
            districts.append((f"D{len(districts) + 1:02d}", box(xs[i], ys[j], xs[i + 1],
                                                                ys[j + 1])))
    # the twelfth cell split in two: 13 districts
    code, ring = districts.pop()
    (a, b), (c, _), _, (_, d), _ = ring
    mid = (a + c) / 2 + 0.37 * CELL
    districts += [("D12", box(a, b, mid, d)), ("D13", box(mid, b, c, d))]
    halves = [("H1", [[x0, y0], [x1, y0], [x1, y1], [x0, y0]]),
              ("H2", [[x0, y0], [x1, y1], [x0, y1], [x0, y0]])]
    out = {}
    for name, feats in (("districts", districts), ("halves", halves)):
        path = work / f"scn_{name}_{n}.geojson"
        path.write_text(json.dumps(fc(feats)))
        out[name] = path
    return out


def _projects(work: Path, n: int, count: int) -> Path:
    """``count`` restoration projects of 60 x 60 px (started 2015) on a regular grid over the
    region, as GeoJSON in UTM 10N."""
    x0, y1 = ORIGIN
    side = max(1, math.ceil(math.sqrt(count)))
    feats = []
    for k in range(count):
        i, j = divmod(k, side)
        c0 = int((j + 0.5) * n / side) - 30
        r0 = int((i + 0.5) * n / side) - 30
        a, b = x0 + c0 * CELL, y1 - (r0 + 60) * CELL
        c, d = a + 60 * CELL, y1 - r0 * CELL
        feats.append({"type": "Feature", "properties": {
            "project_id": f"P{k + 1:03d}", "name": f"Project {k + 1}",
            "project_type": "grassland_restoration", "start_date": "2015-01-01"},
            "geometry": {"type": "Polygon", "coordinates": [
                [[a, b], [c, b], [c, d], [a, d], [a, b]]]}})
    path = work / f"scn_projects_{n}_{count}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
        "features": feats}))
    return path


def _tables(work: Path) -> dict[str, Path]:
    legend = work / "scn_legend.csv"
    legend.write_text("class_code,name_en,ipcc_category\n" + "".join(
        f"{c},class {c},{v[0]}\n" for c, v in CLASSES.items()))
    pools = work / "scn_pools.csv"
    pools.write_text("parameter,class_code,pool,value,unit,uncertainty_pct,source\n" + "".join(
        f"carbon_density,{c},{p},{v[1 + i]},t C/ha,{UNCERTAINTY[p]},bench\n"
        for c, v in CLASSES.items() for i, p in enumerate(POOLS)))
    growth = work / "scn_growth.csv"     # land entering a forest class grows at these rates
    growth.write_text("parameter,class_code,pool,value,unit,uncertainty_pct,source\n" + "".join(
        f"growth_rate,{c},{p},{g},t C/ha/yr,40,bench\n" for c in (53, 54)
        for p, g in (("agb", 3.0), ("bgb", 0.8))))
    return {"legend": legend, "pools": pools, "growth": growth}


# ------------------------------------------------------------------------------------------------
# numpy baselines (each stage in its own process)
# ------------------------------------------------------------------------------------------------

def _read(path, band=1, rows=None):
    with rasterio.open(path) as src:
        window = None if rows is None else rasterio.windows.Window(0, rows[0], src.width,
                                                                   rows[1] - rows[0])
        return src.read(band, window=window)


def base_carbon(files: dict) -> dict:
    """Class-pair counts of the two epochs, stocks per epoch and pool."""
    a, b = _read(files["lc1"]), _read(files["lc2"])
    valid = (a != 255) & (b != 255)
    pairs = np.bincount(a[valid].astype(np.int32) * 256 + b[valid], minlength=65536)
    lut = np.zeros((4, 256))
    for c, v in CLASSES.items():
        lut[:, c] = v[1:]
    ha = CELL * CELL / 1e4
    first = (lut * np.bincount(a[a != 255], minlength=256)).sum(axis=1) * ha
    last = (lut * np.bincount(b[b != 255], minlength=256)).sum(axis=1) * ha
    return {"stock_t": [first.sum(), last.sum()], "pairs": int(pairs.sum())}


def base_trend(files: dict) -> dict:
    """Theil-Sen + Mann-Kendall of the 10 years (bench/identification.py's numpy_trend), in
    blocks of rows (the whole stack as float64 would need 8 GB)."""
    years = np.asarray(YEARS, np.float64)
    classes = np.zeros(8, np.int64)
    with rasterio.open(files["ndvi"]) as src:
        n = src.width
        for r0 in range(0, n, 256):
            w = rasterio.windows.Window(0, r0, n, min(256, n - r0))
            raw = src.read(window=w)
            x = np.where(raw == -3000, np.nan, raw * 1e-4).reshape(len(YEARS), -1)
            x = np.round(x, 9)
            slope, s, var, z, p = numpy_trend(x, years)
            cls = np.full(slope.shape, 3)
            sig = p < 0.05
            cls[(slope <= -0.0005) & ~sig] = 2
            cls[(slope <= -0.0005) & sig] = 1
            cls[(slope >= 0.0005) & ~sig] = 4
            cls[(slope >= 0.0005) & sig] = 5
            classes += np.bincount(cls, minlength=8)
    return {"trend_classes": classes.tolist()}


def horn_slope(dem: np.ndarray, cell: float) -> np.ndarray:
    z = np.pad(dem.astype(np.float64), 1, mode="edge")
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * cell)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * cell)
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy)))


def base_slope(files: dict) -> dict:
    s = horn_slope(_read(files["dem"]), CELL)
    cls = np.digitize(s, [5, 15, 25, 35, 45]) + 1
    return {"slope_classes": np.bincount(cls.ravel(), minlength=7).tolist()}


def _factors(files: dict) -> list[np.ndarray]:
    """Six factor rasters of the same kind as the run's: trend score, transition severity,
    slope, steep cropland, carbon density, vegetation cover (float32, NaN = no data)."""
    a, b = _read(files["lc1"]), _read(files["lc2"])
    ndvi = _read(files["ndvi"], len(YEARS)).astype(np.float32) * 1e-4
    dens = np.full(256, np.nan, np.float32)
    for c, v in CLASSES.items():
        dens[c] = sum(v[1:])
    slope = horn_slope(_read(files["dem"]), CELL).astype(np.float32)
    return [np.where(ndvi < 0.3, 1.0, 0.0).astype(np.float32),
            (dens[a] > dens[b]).astype(np.float32), slope,
            ((b == 60) & (slope >= 25)).astype(np.float32), dens[b],
            np.clip((ndvi - 0.1) / 0.7, 0, 1)]


def base_overlay(files: dict) -> dict:
    """Normalise six factors (min-max between percentiles for two), weight them into the
    degradation and importance scores, grade each in three and apply the priority matrix."""
    f = _factors(files)
    t0 = time.perf_counter()
    grade = _grade(f)
    return {"seconds_kernel": time.perf_counter() - t0,
            "grades": np.bincount(grade.ravel(), minlength=6).tolist()}


def _grade(f: list[np.ndarray]) -> np.ndarray:
    def norm(x, lo=None, hi=None):
        if lo is None:
            lo, hi = np.nanpercentile(x[::7, ::7], [2, 98])
        return np.clip((x - lo) / max(hi - lo, 1e-12), 0, 1)

    d = 0.4 * norm(f[0], 0, 1) + 0.3 * norm(f[1], 0, 1) + 0.2 * norm(f[2], 0, 35) \
        + 0.1 * norm(f[3], 0, 1)
    i = 0.6 * norm(f[4]) + 0.4 * norm(f[5])
    dc = np.digitize(d, [1 / 3, 2 / 3]) + 1
    ic = np.digitize(i, [1 / 3, 2 / 3]) + 1
    matrix = np.array([5, 5, 3, 5, 3, 2, 4, 2, 1])
    g = matrix[(ic - 1) * 3 + dc - 1]
    return np.where(np.isnan(d) | np.isnan(i), 0, g)


def base_patches(files: dict) -> dict:
    """4-connected components of equal grades (scipy.ndimage.label per grade) and their areas,
    on the baseline's own grade raster."""
    from scipy import ndimage

    grade = _grade(_factors(files))
    t0 = time.perf_counter()
    n = 0
    for g in range(1, 6):
        lab, k = ndimage.label(grade == g)
        np.bincount(lab.ravel())
        n += k
    return {"seconds_kernel": time.perf_counter() - t0, "patches": n}


def base_zones(files: dict) -> dict:
    """Both zone sets onto the grid (rasterio.features.rasterize) and per zone the pixel counts
    of the grades and the sums of the carbon density."""
    from rasterio import features

    with rasterio.open(files["lc1"]) as src:
        shape, transform = (src.height, src.width), src.transform
    f = _factors(files)
    grade = _grade(f)
    t0 = time.perf_counter()
    counts = {}
    for name in ("districts", "halves"):
        gj = json.loads(Path(files[name]).read_text())
        shapes = [(ft["geometry"], k + 1) for k, ft in enumerate(gj["features"])]
        z = features.rasterize(shapes, out_shape=shape, transform=transform, fill=0,
                               dtype="int32")
        np.bincount(z.ravel() * 6 + grade.ravel())
        np.bincount(z.ravel(), weights=np.nan_to_num(f[4]).ravel())
        counts[name] = np.bincount(z.ravel())[1:].tolist()
    return {"seconds_kernel": time.perf_counter() - t0, "zone_pixels": counts}


def base_uncertainty(files: dict) -> dict:
    """Monte Carlo of the region's stock per epoch: 10,000 draws of each class x pool density
    (normal, the stated 95 % half-width), as the run's carbon_uncertainty does."""
    a = _read(files["lc1"])
    counts = np.bincount(a[a != 255], minlength=256)
    rng = np.random.default_rng(1)
    total = np.zeros(10_000)
    for c, v in CLASSES.items():
        for i, p in enumerate(POOLS):
            sd = v[1 + i] * UNCERTAINTY[p] / 100 / 1.96
            total += rng.normal(v[1 + i], sd, 10_000) * counts[c] * 0.09
    return {"p2.5": float(np.percentile(total, 2.5)), "p97.5": float(np.percentile(total, 97.5))}


BASELINES = {"carbon": base_carbon, "NDVI trend": base_trend, "slope": base_slope,
             "factors, overlay, grades": base_overlay, "patches": base_patches,
             "zone scores": base_zones, "uncertainty": base_uncertainty}


def step_baseline(stage: str, files: dict) -> dict:
    t0 = time.perf_counter()
    out = BASELINES[stage](files)
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# ------------------------------------------------------------------------------------------------
# ecorest
# ------------------------------------------------------------------------------------------------

def with_nodes(dburl: str, k: int) -> list[tuple[str, str]]:
    """Register k data nodes with the coordinator database ``dburl``: a fresh database on each
    of k local node clusters (started when needed, under the benchmark's cluster folder).
    Returns (node administrator URL, database) pairs, for dropping them afterwards."""
    import uuid

    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from ecorest.etl import nodes as nodemod
    from ecorest.store.nodes import start_local_nodes

    from .load import BENCH_HOME

    made = []
    for j, node_url in enumerate(start_local_nodes(BENCH_HOME, k)):
        name = f"ecorest_bench_node_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(node_url, autocommit=True) as c:
            c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        made.append((node_url, name))
        nodemod.add_node(dburl, f"n{j + 1}", make_conninfo(node_url, dbname=name))
    return made


def step_ecorest(files: dict, url: str, keep: bool = False, data_nodes: int = 0) -> dict:
    from ecorest.etl.legends import load_legend
    from ecorest.etl.params import load_params
    from ecorest.etl.rasters import load_raster
    from ecorest.etl.vector_loads import load_projects, load_zones
    from ecorest.run import run_assessment

    tmp = Path(tempfile.mkdtemp(prefix="ecorest-bench-scenario-"))
    name, dburl, conn = aligned_region_db(url, files["lc1"])
    node_dbs = with_nodes(dburl, data_nodes) if data_nodes else []
    loads = {}
    try:
        t0 = time.perf_counter()
        load_legend(conn, "bench", files["legend"])
        load_params(conn, files["pools"], region="bench", name="bench", kind="carbon_pools",
                    source_text="bench")
        load_params(conn, files["growth"], region="bench", name="bench_growth",
                    kind="growth_rates", source_text="bench")
        for path, epoch in ((files["lc1"], "2000"), (files["lc2"], "2010")):
            load_raster(conn, "bench", "landcover", path, epoch=epoch, legend="bench",
                        show_progress=False)
        loads["land cover (2 epochs)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_raster(conn, "bench", "ndvi", files["ndvi"], epoch_from="band", scale=0.0001,
                    show_progress=False)
        loads["NDVI (10 epochs)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_raster(conn, "bench", "dem", files["dem"], epoch="2020", show_progress=False)
        for zone_set in ("districts", "halves"):
            load_zones(conn, "bench", files[zone_set], zone_set=zone_set)
        if files.get("projects"):
            load_projects(conn, "bench", files["projects"])
        conn.commit()
        loads["DEM, 2 zone sets" + (", projects" if files.get("projects") else "")] = \
            time.perf_counter() - t0
        t0 = time.perf_counter()
        cpu0 = server_cpu_seconds(conn.info.backend_pid)
        client0 = resource.getrusage(resource.RUSAGE_SELF)
        with server_peak(name) as server:
            run_id = run_assessment(conn, dburl, "bench", work_dir=tmp / "dbt")
        run_s = time.perf_counter() - t0
        cpu1 = server_cpu_seconds(conn.info.backend_pid)
        client1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {"server_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
               "client_cpu_s": (client1.ru_utime + client1.ru_stime
                                - client0.ru_utime - client0.ru_stime)}
        nodes = model_timings(tmp / "dbt")
        carbon_alone = _stage_alone(conn, tmp / "dbt", "carbon")
        t0 = time.perf_counter()
        again = run_assessment(conn, dburl, "bench", work_dir=tmp / "dbt")
        noop_s = time.perf_counter() - t0
        assert again == run_id
        results = _results(conn, run_id)
        # (one server's kernel over its own tiles; on a coordinator the tiles would travel
        # through postgres_fdw: the node-side cross-tab is timed by bench/scaleout.py)
        results["crosstab"] = None if data_nodes else _crosstab(conn)
        # kernel calls of the run (track_functions = 'pl' on the embedded cluster): a kernel
        # called more often than there are tiles shows a plan that repeats it
        results["kernel_calls"] = {f"{s}.{f}": [int(n), round(ms / 1000, 2)] for s, f, n, ms in
                                   conn.execute("select schemaname, funcname, calls, total_time "
                                                "from pg_stat_user_functions "
                                                "order by total_time desc")}
        results["tiles_per_layer"] = conn.execute(
            "select max(n) from (select count(*) as n from raster.tiles group by catalog_id) s"
        ).fetchone()[0]
        results["database"] = name if keep else None
        conn.close()
    finally:
        if not keep:
            _drop(url, name)
            for node_url, node_db in node_dbs:
                _drop(node_url, node_db)
    return {"data_nodes": data_nodes, "loads": loads, "run_s": run_s, "noop_s": noop_s,
            "nodes": nodes, **cpu,
            "carbon_alone": carbon_alone,
            "server_peak_mb": server["peak_mb"],
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **results}


def _results(conn, run_id: int) -> dict:
    stocks = [float(r[0]) for r in conn.execute(
        "select sum(carbon_t) from marts.carbon_stocks where run_id = %s and zone_set = 'region' "
        "group by epoch_label order by epoch_label", (run_id,))]
    trend = conn.execute(
        "select trend_class, sum(pixels) from marts.ndvi_trends where run_id = %s "
        "and zone_set = 'region' group by 1 order by 1", (run_id,)).fetchall()
    zones = conn.execute(
        "select zone_set, count(*) from marts.zone_scores where run_id = %s group by 1 "
        "order by 1", (run_id,)).fetchall()
    patches = conn.execute("select count(*) from marts.restoration_patches where run_id = %s",
                           (run_id,)).fetchone()[0]
    # the projects' benefit against their baseline rings and their matched pixels (none
    # without projects)
    benefit, matched = conn.execute(
        "select (select coalesce(round(sum(benefit_t)::numeric, 6), 0) from "
        "marts.project_benefits where run_id = %s), (select coalesce(sum((data ->> "
        "'matched_pixels')::bigint), 0) from intermediate.int_matched_results where section = "
        "'match')", (run_id,)).fetchone()
    return {"stock_t": stocks, "trend_classes": {int(c): int(n) for c, n in trend if c},
            "zones": {z: n for z, n in zones}, "patches": patches,
            "projects": [str(benefit), int(matched)]}


def _stage_alone(conn, dbt_dir: Path, stage: str) -> dict:
    """The models of one stage run again alone, one after the other in the run's order, each
    on its own (their compiled SELECT as a temporary table, with dbt's session settings, so
    with the same parallel workers): in the run they share the 2 cores with the other stage's
    models (dbt's 2 threads), so the sum of their seconds there says little about the stage
    itself. Returns the seconds per model and their sum."""
    from ecorest.dbt_invoke import DBT_SESSION_OPTIONS

    target = dbt_dir / "target"
    compiled = {f.stem: f for f in (target / "compiled").glob("*/models/**/*.sql")}
    results = json.loads((target / "run_results.json").read_text())["results"]
    started = {r["unique_id"]: min((t["started_at"] for t in r["timing"]), default="")
               for r in results}
    conn.rollback()
    for opt in DBT_SESSION_OPTIONS.split("-c ")[1:]:
        name, value = opt.strip().split("=", 1)
        conn.execute("select set_config(%s, %s, false)", (name, value))
    conn.commit()                                   # the settings stay for the session
    seconds = {}
    for uid in sorted(started, key=started.get):
        kind, _, name = uid.split(".", 2)
        if kind != "model" or stage_of(name) != stage:
            continue
        query = "\n".join(line for line in compiled[name].read_text().splitlines()
                          if not line.lstrip().startswith("--"))
        t0 = time.perf_counter()
        conn.execute(f"create temporary table bench_stage_alone as {query}")  # noqa: S608
        seconds[name] = time.perf_counter() - t0
        conn.rollback()
    conn.execute("reset all")
    conn.commit()
    return {"models": seconds, "seconds": sum(seconds.values())}


def _crosstab(conn) -> dict:
    """The class x class cross-tab of the two land-cover epochs by the server's kernel
    (raster.crosstab over every pair of tiles) in one process (no parallel workers): its CPU
    seconds (the backend's, from /proc), wall seconds and the seconds inside the kernel itself
    (the function's self time: its numpy work, without reading and decompressing the tiles),
    median of 3, and the pairs counted."""
    q = ("select sum(x.pixels) from raster.catalog c1 "
         "join raster.catalog c2 on c2.layer = 'landcover' and c2.epoch_label = '2010' "
         "join raster.tiles a on a.catalog_id = c1.catalog_id "
         "join raster.tiles b on b.catalog_id = c2.catalog_id and b.tile_x = a.tile_x "
         " and b.tile_y = a.tile_y "
         "cross join lateral raster.crosstab(null, a.rast, b.rast) x "
         "where c1.layer = 'landcover' and c1.epoch_label = '2000'")
    conn.execute("set max_parallel_workers_per_gather = 0")
    pid = conn.info.backend_pid
    conn.execute(q).fetchone()                  # kernels loaded, tiles cached
    kernel = ("select pg_stat_get_xact_function_self_time("
              "'raster.crosstab(bytea, bytea, bytea)'::regprocedure)")
    cpu, wall, inside, pairs = [], [], [], 0
    for _ in range(3):
        k0 = conn.execute(kernel).fetchone()[0] or 0.0
        c0, t0 = backend_cpu_seconds(pid), time.perf_counter()
        pairs = int(conn.execute(q).fetchone()[0])
        wall.append(time.perf_counter() - t0)
        cpu.append(backend_cpu_seconds(pid) - c0)
        inside.append(((conn.execute(kernel).fetchone()[0] or 0.0) - k0) / 1000)
    conn.execute("reset max_parallel_workers_per_gather")
    conn.rollback()
    return {"cpu_s": statistics.median(cpu), "wall_s": statistics.median(wall),
            "kernel_s": statistics.median(inside), "pairs": pairs}


def step_floor(files: dict) -> dict:
    """The compute floor of a class x class cross-tab on one core: both epochs in memory
    (uint8), one bincount of (a << 8 | b) over every pixel pair, in blocks of a tile's size
    (256² pixels, as the server's kernel counts them: the arrays stay in the CPU's caches);
    median of 3."""
    import ctypes

    # the allocator setting the server's kernels use (sql/030_kernels.sql): temporaries stay
    # on the heap instead of fresh mmap()s; without it this floor is 2-3 times higher
    libc = ctypes.CDLL(None)
    libc.mallopt(-3, 32 << 20)
    libc.mallopt(-1, 128 << 20)
    with rasterio.open(files["lc1"]) as a_src, rasterio.open(files["lc2"]) as b_src:
        a, b = a_src.read(1), b_src.read(1)
    a, b = a.ravel(), b.ravel()
    block = 1 << 16
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        counts = np.zeros(1 << 16, np.int64)
        for i in range(0, a.size, block):
            c = np.bincount((a[i:i + block].astype(np.uint16) << 8) | b[i:i + block])
            counts[:c.size] += c
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "pairs": int(counts.sum())}


def stage_of(node: str) -> str:
    if node.startswith(("assert_", "not_null", "unique", "accepted", "relationships",
                        "interval_", "dbt_utils")) or "__" in node and not node.startswith(
                            ("stg_", "int_")):
        return "dbt tests"
    for stage, keys in STAGES:
        if any(k in node for k in keys):
            return stage
    return "other models"


# ------------------------------------------------------------------------------------------------

def child(step: str, **kwargs) -> dict:
    cmd = [sys.executable, "-m", "bench.scenario", step, json.dumps(kwargs, default=str)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(),
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step {step} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.scenario", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000, help="Edge length in pixels.")
    ap.add_argument("--workdir", default=None, help="Where to write the generated inputs.")
    ap.add_argument("--dsn", default=os.environ.get("ECOREST_DATABASE_URL"),
                    help="Server to use (default: an embedded cluster under .ecorest-bench/).")
    ap.add_argument("--skip-baselines", action="store_true",
                    help="Only the ecorest side (a quick look).")
    ap.add_argument("--nodes", type=int, default=0,
                    help="Also load and assess on a coordinator with this many data nodes "
                         "(local clusters), and compare.")
    ap.add_argument("--keep", action="store_true",
                    help="Keep ecorest's database after the run, to look into it (its name is "
                         "printed; drop it afterwards).")
    ap.add_argument("--projects", type=int, default=0,
                    help="Also load this many restoration projects (60 x 60 px each, spread "
                         "over the region), so that the run computes their benefits.")
    args = ap.parse_args(argv)
    from .load import bench_cluster_url

    work = Path(args.workdir or tempfile.mkdtemp(prefix="ecorest-bench-"))
    n = args.size
    t0 = time.monotonic()
    if args.projects < 0:
        ap.error("--projects must be 0 or more")
    files = {k: str(v) for k, v in generate(work, n).items()}
    if args.projects:
        files["projects"] = str(_projects(work, n, args.projects))
    print(f"scenario {n}² ({n * n / 1e6:.0f} Mpx a layer): inputs ready in "
          f"{time.monotonic() - t0:.0f} s under {work}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    url = args.dsn or bench_cluster_url()
    ours = child("ecorest", files=files, url=url, keep=args.keep)
    ours["crosstab_floor"] = child("floor", files=files)
    base = {} if args.skip_baselines else {s: child("baseline", stage=s, files=files)
                                           for s in BASELINES}
    report(n, ours, base)
    if args.nodes:
        spread = child("ecorest", files=files, url=url, keep=args.keep, data_nodes=args.nodes)
        spread["crosstab_floor"] = ours["crosstab_floor"]
        print(f"\nthe same on a coordinator with {args.nodes} data nodes (local clusters on "
              "this machine; server CPU and memory are the coordinator's only):")
        report(n, spread, {})
        compare_setups(ours, spread)


def compare_setups(one: dict, spread: dict) -> None:
    """One server against the coordinator with nodes: times, ratio, results equal."""
    k = spread["data_nodes"]
    print(f"\n  one server vs coordinator + {k} nodes: load "
          f"{sum(one['loads'].values()):.1f} vs {sum(spread['loads'].values()):.1f} s, run "
          f"{one['run_s']:.1f} vs {spread['run_s']:.1f} s (ratio "
          f"{spread['run_s'] / one['run_s']:.2f}), no-op {one['noop_s']:.2f} vs "
          f"{spread['noop_s']:.2f} s")
    for model in ("int_landcover_trajectories", "int_ndvi_trend_tiles", "int_slope_tiles",
                  "ndvi_trends", "int_factor_tiles", "int_project_trajectories",
                  "int_benefit_pixels", "int_matched_results"):
        a, b = one["nodes"].get(model), spread["nodes"].get(model)
        if a is not None and b is not None:
            print(f"    {model:28} {a:7.1f} vs {b:7.1f} s")
    keys = ("stock_t", "trend_classes", "zones", "patches", "projects")
    same = all(one[key] == spread[key] if key != "stock_t" else all(
        math.isclose(a, b, rel_tol=1e-9) for a, b in zip(one[key], spread[key], strict=True))
        for key in keys)
    print(f"  results {'equal' if same else 'DIFFER'}: stocks per epoch, NDVI trend classes, "
          f"zone scores per set, {one['patches']} patches, project benefits "
          f"({one['projects'][0]} t, {one['projects'][1]} matched pixels)")
    if not same:
        raise SystemExit("the coordinator's results differ from one server's")


def report(n: int, ours: dict, base: dict) -> None:
    for what, s in ours["loads"].items():
        print(f"  load {what:30} {s:8.1f} s")
    stages: dict[str, float] = {}
    for node, s in ours["nodes"].items():
        stages[stage_of(node)] = stages.get(stage_of(node), 0.0) + s
    print(f"\n  {'stage':28} {'ecorest s':>10} {'numpy s':>9} {'ratio':>6} {'numpy MB':>9}")
    def cell(x, width: int, digits: int = 1) -> str:
        return f"{x:{width}.{digits}f}" if isinstance(x, (int, float)) else f"{'-':>{width}}"

    for stage in [s for s, _ in STAGES] + ["other models", "dbt tests"]:
        b = base.get(stage, {})
        ours_s = stages.get(stage, 0.0)
        bs = b.get("seconds")
        print(f"  {stage:28} {ours_s:10.1f} {cell(bs, 9)} "
              f"{cell(ours_s / bs if bs else None, 6, 2)} {cell(b.get('peak_mb'), 9, 0)}")
    total_base = sum(b["seconds"] for b in base.values())
    print(f"  {'whole ecorest run (wall)':28} {ours['run_s']:10.1f} "
          f"{cell(total_base if base else None, 9)} "
          f"{cell(ours['run_s'] / total_base if base else None, 6, 2)}")
    if ours.get("server_cpu_s") is not None:
        print(f"  CPU of the run: server {ours['server_cpu_s']:.1f} s, client (dbt) "
              f"{ours['client_cpu_s']:.1f} s — on 2 cores the wall time cannot go below half "
              "their sum; it shows the work whatever the machine's load")
    print(f"  ecorest run again, nothing changed: {ours['noop_s']:.2f} s; peak memory: one "
          f"server process {ours['server_peak_mb']:.0f} MB, the run's client "
          f"{ours['peak_mb']:.0f} MB; load average now {os.getloadavg()[0]:.1f}")
    alone = ours.get("carbon_alone")
    if alone:
        top = sorted(alone["models"].items(), key=lambda kv: -kv[1])[:4]
        print(f"  carbon stage alone (its {len(alone['models'])} models run again one after the "
              f"other, nothing beside them): {alone['seconds']:.1f} s ("
              + ", ".join(f"{k} {v:.1f}" for k, v in top) + ")")
    x, fl = ours.get("crosstab"), ours.get("crosstab_floor")
    if x and fl:
        per = 1e8 / x["pairs"]
        print(f"  cross-tab of the two land-cover epochs ({x['pairs'] / 1e6:.0f} M pixel pairs, "
              f"one process): raster.crosstab {x['cpu_s'] * per:.2f} s CPU "
              f"({x['wall_s'] * per:.2f} s wall) per 10^8 pairs, of which "
              f"{x.get('kernel_s', 0) * per:.2f} s inside the kernel; numpy bincount floor "
              f"{fl['seconds'] * 1e8 / fl['pairs']:.2f} s per 10^8 pairs on one core; ratio "
              f"{x['cpu_s'] / fl['seconds'] * fl['pairs'] / x['pairs']:.2f} (the kernel alone "
              f"{x.get('kernel_s', 0) / fl['seconds'] * fl['pairs'] / x['pairs']:.2f})")
    slow = sorted(ours["nodes"].items(), key=lambda kv: -kv[1])[:10]
    print("  slowest dbt nodes (s): " + ", ".join(f"{k} {v:.1f}" for k, v in slow))
    if ours.get("database"):
        print(f"  database kept: {ours['database']}")
    calls = ours.get("kernel_calls") or {}
    if calls:
        print(f"  kernel calls (calls, s; {ours['tiles_per_layer']} tiles a layer): " + ", ".join(
            f"{k.split('.')[-1]} {n} {t:.1f}" for k, (n, t) in list(calls.items())[:12]))
    if base:
        st = base["carbon"]["stock_t"]
        print(f"  stocks per epoch, ecorest {[round(x) for x in ours['stock_t']]} vs numpy "
              f"{[round(x) for x in st]}")
        print(f"  NDVI trend classes, ecorest {ours['trend_classes']} vs numpy "
              f"{dict(enumerate(base['NDVI trend']['trend_classes']))}")
    print(json.dumps({"ours": ours, "base": base}, default=str), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("baseline", "ecorest", "floor"):
        step, kw = sys.argv[1], json.loads(sys.argv[2])
        fn = {"baseline": step_baseline, "ecorest": step_ecorest, "floor": step_floor}[step]
        print(json.dumps(fn(**kw), default=float))
    else:
        main()
