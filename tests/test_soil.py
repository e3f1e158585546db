"""Soil retention (RUSLE as InVEST 3.20.2's SDR model computes it) and the SL 190 erosion class,
through `ecorest run` (intermediate.int_soil_tiles, kernel raster.np_soil_tiles).

Figures are worked out by hand on a plane and a V-shaped valley, and over a rough synthetic
terrain with pits and flats by an independent sequential implementation written here (priority
flood, per-pixel flow directions, recursive accumulation, the stream search pixel by pixel).
16-pixel tiles: every flow path crosses tile borders.
"""

from __future__ import annotations

import csv
import heapq
import math
import sys
from collections import deque
from pathlib import Path

import numpy as np
import psycopg
import pyogrio
import pytest
import rasterio
import shapely
from psycopg import sql
from rasterio.features import rasterize

from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from helpers import SAMPLE, footprint, write_raster

N = 40                      # 40 x 40 px of 30 m
CELL = 30.0
LEGEND = ("class_code,name_en,ipcc_category,ecosystem_type,cropland_kind\n"
          "1,forest,forest_land,forest,\n2,crop,cropland,cropland,annual\n"
          "3,bare,other_land,other,\n4,grass,grassland,grassland,\n"
          "5,dry crop,cropland,cropland,annual\n")
CARBON = "parameter,class_code,pool,value,unit\n" + "".join(
    f"carbon_density,{c},agb,{10 * c},t C/ha\n" for c in (1, 2, 3, 4, 5))
# C and P per class; class 3 has no usle_p (its soil loss is not computed); classes 4 and 5
# have no usle_c: C from the FVC layer by HJ 1173 Table A.1 (grassland, dry cropland)
SERVICES = ("parameter,class_code,value,unit\n"
            "usle_c,1,0.003,1\nusle_p,1,0.2,1\n"
            "usle_c,2,0.25,1\nusle_p,2,0.5,1\n"
            "usle_c,3,1.0,1\n"
            "usle_p,4,0.5,1\nusle_p,5,0.8,1\n")
# HJ 1173-2021 Table A.1 (FVC < 10 %, 10-30, 30-50, 50-70, 70-90, >= 90 %)
GRASS_C = (0.45, 0.24, 0.15, 0.09, 0.043, 0.011)
CP = {1: 0.003 * 0.2, 2: 0.25 * 0.5}
BANDS = {"rkls": 1, "usle": 2, "retention": 3, "ls": 4, "stream": 5, "fa": 6, "cls": 7,
         "sdr": 8, "export": 9}
# neighbour i = 0..7: E, NE, N, NW, W, SW, S, SE (row, column offsets)
NB = [(0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1)]


def _grid(conn: psycopg.Connection, band: int, source: sql.Composable,
          origin=(450_000.0, 4_950_000.0), shape=(N, N)) -> np.ndarray:
    """A band of a tile query (columns rast) on the grid of the files (upper-left `origin`,
    30 m, `shape`), NaN where it has no data."""
    ulx, uly, vals = conn.execute(sql.SQL(
        "select st_upperleftx(u), st_upperlefty(u), st_dumpvalues(u, 1) from "
        "(select st_union(rast, %s) u from ({}) s) s").format(source), (band,)).fetchone()
    out = np.full(shape, np.nan)
    if vals is None:
        return out
    a = np.array(vals, dtype=float)
    r0, c0 = round((origin[1] - uly) / CELL), round((ulx - origin[0]) / CELL)
    rs, cs, rd, cd = max(0, -r0), max(0, -c0), max(0, r0), max(0, c0)
    h, w = min(shape[0] - rd, a.shape[0] - rs), min(shape[1] - cd, a.shape[1] - cs)
    out[rd:rd + h, cd:cd + w] = a[rs:rs + h, cs:cs + w]
    return out


def _bands(conn, source: sql.Composable, **grid) -> dict[str, np.ndarray]:
    return {key: _grid(conn, band, source, **grid) for key, band in BANDS.items()}


def _region(conn: psycopg.Connection, tmp: Path, name: str, dem: np.ndarray, lc: np.ndarray,
            r: np.ndarray, k: np.ndarray, tile_size: int = 16) -> None:
    lc_path = write_raster(tmp / f"{name}_lc.tif", lc.astype(np.uint8), nodata=255)
    create_region(conn, name, footprint(tmp, lc_path), align_to=str(lc_path),
                  allow_non_equal_area=True, tile_size=tile_size)
    (tmp / "legend.csv").write_text(LEGEND)
    load_legend(conn, name, tmp / "legend.csv")
    load_raster(conn, name, "landcover", lc_path, epoch="2020", legend=name,
                show_progress=False)
    for layer, a in (("dem", dem), ("erosivity", r), ("erodibility", k)):
        path = write_raster(tmp / f"{name}_{layer}.tif", a.astype(np.float32), nodata=-9999)
        load_raster(conn, name, layer, path, epoch="2020", show_progress=False)
    (tmp / "carbon.csv").write_text(CARBON)
    load_params(conn, tmp / "carbon.csv", region=name, name=f"{name} carbon",
                kind="carbon_pools", source_text="test")
    (tmp / "services.csv").write_text(SERVICES)
    load_params(conn, tmp / "services.csv", region=name, name=f"{name} services",
                kind="services", source_text="test")


def _run(conn, db_url, tmp, name, **settings) -> dict[str, np.ndarray]:
    """`ecorest run` of the region (its settings as --set values); int_soil_tiles' bands."""
    run_assessment(conn, db_url, name, work_dir=tmp / f"dbt_{name}", dbt_vars=settings or None,
                   force=True)
    return _bands(conn, sql.SQL("select rast from intermediate.int_soil_tiles"))


def _kernel(conn, name, method="mfd", threshold=1000, l_max=122,
            erosion_region="southwest", kinds: dict[int, str] | None = None, **grid
            ) -> dict[str, np.ndarray]:
    """The kernel of int_soil_tiles called directly on the region's loaded layers and services
    parameters, for other settings without another run (kinds: HJ 1173 cover kind by class,
    for C from the region's fvc layer)."""
    query = sql.SQL("""
        with c as (
            select max(c.catalog_id) filter (where layer = 'dem') dem,
                   max(c.catalog_id) filter (where layer = 'erosivity') r,
                   max(c.catalog_id) filter (where layer = 'erodibility') k,
                   max(c.catalog_id) filter (where layer = 'landcover') lc,
                   max(c.catalog_id) filter (where layer = 'fvc') fvc,
                   max(c.scale_factor) filter (where layer = 'fvc') fvc_scale
            from raster.catalog c join registry.regions g using (region_id)
            where g.name = {name}
        ), cp as (
            select v.class_code code,
                   max(v.value) filter (where v.parameter = 'usle_c') c,
                   max(v.value) filter (where v.parameter = 'usle_p') p
            from registry.parameter_values v
            join registry.parameter_sets s using (parameter_set_id)
            where s.name = {sets} and v.parameter in ('usle_c', 'usle_p')
            group by v.class_code
        )
        select st_rastfromwkb(s.rast) as rast from c,
          (select array_agg(code order by code) codes, array_agg(c order by code) cs,
                  array_agg(p order by code) ps from cp) a,
          raster.np_soil_tiles(c.dem, c.r, c.k, c.lc, array[1, 1, 1], array[0, 0, 0],
                               a.codes, a.cs, a.ps, {method}, {threshold}, {l_max},
                               {region}, 2, 0.5, 0.8, c.fvc, c.fvc_scale, 0,
                               {kind_codes}, {kinds}) s""").format(
        name=sql.Literal(name), sets=sql.Literal(f"{name} services"),
        method=sql.Literal(method), threshold=sql.Literal(float(threshold)),
        l_max=sql.Literal(float(l_max)), region=sql.Literal(erosion_region),
        kind_codes=sql.Literal(list((kinds or {}).keys())),
        kinds=sql.Literal(list((kinds or {}).values())))
    return _bands(conn, query, **grid)


# ------------------------------------------------------------------------------------------------
# the InVEST 3.20.2 LS factor and SL 190, written from their published descriptions
# ------------------------------------------------------------------------------------------------
def ls_invest(fa: float, pct: float, l_max: float = 122.0) -> float:
    """Desmet & Govers / Winchell et al. (2008) eq. 3 with the square root of the upslope area,
    as InVEST 3.20.2 states it (aspect term |sin| + |cos| of the slope angle)."""
    theta = math.atan(pct / 100)
    s = 10.8 * math.sin(theta) + 0.03 if pct < 9 else 16.8 * math.sin(theta) - 0.5
    if pct <= 1:
        m = 0.2
    elif pct <= 3.5:
        m = 0.3
    elif pct <= 5:
        m = 0.4
    elif pct <= 9:
        m = 0.5
    else:
        beta = (math.sin(theta) / 0.0896) / (3 * math.sin(theta) ** 0.8 + 0.56)
        m = beta / (1 + beta)
    a = math.sqrt((fa - 1) * CELL ** 2)
    x = abs(math.sin(theta)) + abs(math.cos(theta))
    big_l = ((a + CELL ** 2) ** (m + 1) - a ** (m + 1)) / (CELL ** (m + 2) * x ** m * 22.13 ** m)
    return min(big_l, l_max) * s


def sl190(t_per_km2: float, micro: float) -> int:
    for cls, upper in enumerate((micro, 2500, 5000, 8000, 15000), start=1):
        if t_per_km2 < upper:
            return cls
    return 6


# ------------------------------------------------------------------------------------------------
# by hand: a plane and a V-shaped valley
# ------------------------------------------------------------------------------------------------
def test_plane_by_hand_d8_and_mfd(db_url: str, tmp_path: Path) -> None:
    """z falls 3 m a pixel eastwards (10 % slope). D8: every pixel flows east, so the flow
    accumulation is column + 1 across tile borders; MFD: east 6/14, north-east and south-east
    4/14 each (weights 3, 3/sqrt 2, 3/sqrt 2 in 4 bits), so away from the north and south edges
    it is column + 1 too. Streams (threshold 20): D8 accumulation > 20; LS, RKLS, USLE by hand.
    MFD through `ecorest run`, D8 by the same kernel called directly. Rows 30-39 are grassland
    and dry cropland without usle_c: C by HJ 1173 Table A.1 from the FVC layer."""
    rows, cols = np.mgrid[0:N, 0:N]
    dem = 500.0 - 3.0 * cols
    lc = np.where(cols < 20, 1, 2)
    lc[30:] = np.where(cols[30:] < 10, 4, np.where(cols[30:] < 20, 5, 2))
    r = np.full((N, N), 1000.0)
    k = np.full((N, N), 0.03)
    fvc = np.round((0.0125 + 0.025 * cols) / 1e-4) * 1e-4       # never on a 10 % break
    with psycopg.connect(db_url) as conn:
        _region(conn, tmp_path, "plane", dem, lc, r, k)
        mfd = _run(conn, db_url, tmp_path, "plane", threshold_flow_accumulation=20)
        path = write_raster(tmp_path / "fvc.tif", fvc.astype(np.float32), nodata=-9999)
        load_raster(conn, "plane", "fvc", path, epoch="2020", show_progress=False)
        d8 = _kernel(conn, "plane", "d8", threshold=20, kinds={4: "grassland", 5: "dry_cropland"})
        # an input missing (here R): no tiles, the service is not computed
        none = conn.execute(
            "select count(*) from raster.catalog c, raster.np_soil_tiles(c.catalog_id, null, "
            "c.catalog_id, c.catalog_id, null, null, null, null, null) "
            "where c.layer = 'dem'").fetchone()[0]
        n_run = conn.execute("select count(distinct (tile_x, tile_y)), count(*) "
                             "from intermediate.int_soil_tiles").fetchone()
    assert none == 0
    assert n_run == (9, 9)                              # 40 x 40 px in 16-px tiles, one epoch
    assert np.array_equal(d8["fa"], cols + 1.0)
    # MFD: rows at least `col` pixels from the north and south edges have lost nothing
    far = (rows > cols) & (N - 1 - rows > cols)
    assert np.allclose(mfd["fa"][far], (cols + 1.0)[far], rtol=0, atol=1e-9)
    # the north edge: (0, 0) has no north-east neighbour: east 9/15 (int(0.5 + 3 / 5.1213 x 15)),
    # south-east 6/15; (1, 0) sends 4/14 north-east; (1, 1) gets 6/14 + 6/15 + 4/14
    assert mfd["fa"][0, 1] == pytest.approx(1 + 9 / 15 + 4 / 14, rel=1e-7)   # float32 band
    assert mfd["fa"][1, 1] == pytest.approx(1 + 6 / 14 + 6 / 15 + 4 / 14, rel=1e-7)
    assert np.array_equal(d8["stream"], (cols + 1 > 20).astype(float))
    # LS by hand at column 0 (no upslope area) and column 9 (9 upslope pixels), 10 % slope:
    # theta = atan 0.1, S = 16.8 sin(theta) - 0.5 = 1.17166, m = beta / (1 + beta) = 0.51795
    theta = math.atan(0.1)
    s = 16.8 * math.sin(theta) - 0.5
    beta = (math.sin(theta) / 0.0896) / (3 * math.sin(theta) ** 0.8 + 0.56)
    m = beta / (1 + beta)
    assert round(s, 5) == 1.17166 and round(m, 5) == 0.51795
    x = math.sin(theta) + math.cos(theta)
    ls0 = 900 ** (m + 1) / (30 ** (m + 2) * x ** m * 22.13 ** m) * s
    a9 = math.sqrt(9 * 900)                            # 90 m
    ls9 = ((a9 + 900) ** (m + 1) - a9 ** (m + 1)) / (30 ** (m + 2) * x ** m * 22.13 ** m) * s
    assert round(ls0, 4) == round(ls_invest(1, 10), 4)
    for res in (d8, mfd):
        assert res["ls"][20, 0] == pytest.approx(ls0, rel=1e-5)
        assert res["ls"][20, 9] == pytest.approx(ls9, rel=1e-5)
    assert d8["ls"][5, 38] == pytest.approx(ls_invest(39, 10), rel=1e-5)
    # RKLS = R K LS; USLE = RKLS C P; retention = RKLS - USLE; streams lose nothing
    rkls = 1000 * 0.03 * ls9
    assert d8["rkls"][20, 9] == pytest.approx(rkls, rel=1e-5)
    assert d8["usle"][20, 9] == pytest.approx(rkls * CP[1], rel=1e-5)
    assert d8["retention"][20, 9] == pytest.approx(rkls * (1 - CP[1]), rel=1e-5)
    on = d8["stream"] == 1
    assert (d8["rkls"][on] == 0).all() and (d8["usle"][on] == 0).all()
    assert (d8["rkls"][~on] > 0).all()
    # without an fvc layer (the run) classes 4 and 5 have no C: not computed
    assert np.isnan(mfd["usle"][30:, :20]).all() and np.isfinite(mfd["rkls"][30:, :20]).all()
    # with it (the kernel): grassland by cover class, dry cropland 0.221 - 0.595 lg FVC within
    # 0..1, times usle_p (0.5 and 0.8)
    grass = np.array(GRASS_C)[np.digitize(fvc, [0.1, 0.3, 0.5, 0.7, 0.9])]
    dry = np.clip(0.221 - 0.595 * np.log10(fvc), 0, 1)
    want_cp = np.where(cols < 10, grass * 0.5, np.where(cols < 20, dry * 0.8, CP[2]))
    body = (rows >= 30) & (d8["rkls"] > 0)
    assert body.sum() >= 200
    assert np.allclose(d8["usle"][body], (d8["rkls"] * want_cp)[body], rtol=1e-6)
    assert round(float(dry[0, 15]), 4) == 0.4660          # FVC 0.3875: 0.221 + 0.595 x 0.4117
    assert d8["usle"][35, 15] == pytest.approx(d8["rkls"][35, 15] * 0.4660 * 0.8, rel=1e-4)
    assert d8["usle"][35, 5] == pytest.approx(d8["rkls"][35, 5] * 0.24 * 0.5, rel=1e-6)
    assert d8["rkls"][35, 5] > 0 and d8["rkls"][35, 15] > 0


def test_v_valley_by_hand(db_url: str, tmp_path: Path) -> None:
    """z = 100 + 15 |col - 20| - 1.8 row: hillsides fall 15 m a pixel towards the valley
    (column 20) and 1.8 m a pixel southwards. D8: hillside pixels flow across (drop 15 beats
    (15 + 1.8) / sqrt 2 and 1.8), the valley flows south, so the valley at row r drains
    (r + 1) x 40 pixels. Slope: hillsides 100 sqrt(0.5^2 + 0.06^2) = 50.358 %, the valley
    6 % (m = 0.5, S = 10.8 sin + 0.03). l_max = 2 caps L at the valley's mouth."""
    rows, cols = np.mgrid[0:N, 0:N]
    dem = 100.0 + 15.0 * np.abs(cols - 20) - 1.8 * rows
    lc = np.full((N, N), 2)
    r = np.full((N, N), 800.0)
    k = np.full((N, N), 0.04)
    with psycopg.connect(db_url) as conn:
        _region(conn, tmp_path, "valley", dem, lc, r, k)
        d8 = _kernel(conn, "valley", "d8", threshold=100, l_max=2)
    want = np.where(cols < 20, cols + 1.0, np.where(cols > 20, N - cols + 0.0, 0))
    want[:, 20] = (np.arange(N) + 1) * N
    assert np.array_equal(d8["fa"], want)
    assert np.array_equal(d8["stream"][:, 20], (want[:, 20] > 100).astype(float))
    assert d8["stream"][:, :20].sum() == 0 and d8["stream"][:, 21:].sum() == 0
    # slope and LS of a hillside pixel (3 upslope pixels) and of the valley's head (40 pixels)
    hill = 100 * math.hypot(0.5, 0.06)
    assert round(hill, 3) == 50.359
    assert d8["ls"][20, 3] == pytest.approx(ls_invest(4, hill, 2), rel=1e-5)
    theta = math.atan(0.06)
    valley_ls = ((math.sqrt(39 * 900) + 900) ** 1.5 - math.sqrt(39 * 900) ** 1.5) / (
        30 ** 2.5 * (math.sin(theta) + math.cos(theta)) ** 0.5 * 22.13 ** 0.5) * (
        10.8 * math.sin(theta) + 0.03)
    assert round(valley_ls / (10.8 * math.sin(theta) + 0.03), 3) == 1.396   # L below l_max
    assert d8["ls"][0, 20] == pytest.approx(valley_ls, rel=1e-5)
    # at the mouth (1600 pixels) L = 2.29 is capped at 2: LS = 2 S
    assert round(ls_invest(1600, 6, math.inf) / (10.8 * math.sin(theta) + 0.03), 2) == 2.29
    assert d8["ls"][39, 20] == pytest.approx(2 * (10.8 * math.sin(theta) + 0.03), rel=1e-5)
    usle = 800 * 0.04 * ls_invest(4, hill, 2) * CP[2]
    assert d8["usle"][20, 3] == pytest.approx(usle, rel=1e-5)
    assert d8["cls"][20, 3] == sl190(usle * 100, 500)


# ------------------------------------------------------------------------------------------------
# SL 190 classes at the thresholds
# ------------------------------------------------------------------------------------------------
def test_erosion_classes_at_the_thresholds(db_url: str, tmp_path: Path) -> None:
    """R chosen pixel by pixel so that the soil loss lands 0.5 % below and above every SL 190
    break (t/(km2 yr)); micro threshold 500 (southwest), then 1000 (northwest_loess); a class
    without usle_p has no soil loss, retention or class, but its potential loss."""
    rows, cols = np.mgrid[0:N, 0:N]
    dem = 500.0 - 3.0 * cols                            # the plane: D8 accumulation col + 1
    lc = np.where(rows < 38, 2, 3)
    k = np.full((N, N), 0.03)
    targets = [200, 500, 1000, 2500, 5000, 8000, 15000]
    t_per_km2 = np.full((N, N), 50.0)
    for j, b in enumerate(targets):
        t_per_km2[2 * j + 2, :] = b * 0.995
        t_per_km2[2 * j + 3, :] = b * 1.005
    ls = np.array([[ls_invest(c + 1, 10) for c in range(N)]] * N)
    r = t_per_km2 / 100 / (ls * 0.03 * CP[2])
    with psycopg.connect(db_url) as conn:
        _region(conn, tmp_path, "classes", dem, lc, r, k)
        sw = _kernel(conn, "classes", "d8")
        nw = _kernel(conn, "classes", "d8", erosion_region="northwest_loess")
    body = rows < 38
    assert np.allclose(sw["usle"][body] * 100, t_per_km2[body], rtol=1e-5)
    for micro, res in ((500, sw), (1000, nw)):
        want = np.vectorize(lambda x, m=micro: sl190(x, m))(t_per_km2)
        assert np.array_equal(res["cls"][body], want[body].astype(float))
    assert sw["cls"][2, 5] == 1 and sw["cls"][5, 5] == 2      # 497.5 micro, 502.5 light
    assert nw["cls"][5, 5] == 1 and nw["cls"][7, 5] == 2      # 1005 light in the loess
    assert sw["cls"][15, 5] == 6 and sw["cls"][14, 5] == 5    # 15075 severe, 14925 very strong
    # class 3 lacks usle_p: RKLS yes, USLE / retention / class not computed
    assert np.isfinite(sw["rkls"][38:]).all()
    assert np.isnan(sw["usle"][38:]).all() and np.isnan(sw["cls"][38:]).all()
    assert np.isnan(sw["retention"][38:]).all()


# ------------------------------------------------------------------------------------------------
# an independent sequential implementation (pygeoprocessing's algorithms, pixel by pixel)
# ------------------------------------------------------------------------------------------------
def _inside(r, c):
    return 0 <= r < N and 0 <= c < N


def ref_fill(z, ok):
    """Priority flood: the lowest unvisited pixel next to the visited ones, raised to the
    level it is reached at; seeds are the pixels next to no data or the grid's edge."""
    out = np.where(ok, z, np.nan).astype(float)
    seen = ~ok.copy()
    heap = []
    for r in range(N):
        for c in range(N):
            if ok[r, c] and any(not _inside(r + dr, c + dc) or not ok[r + dr, c + dc]
                                for dr, dc in NB):
                heapq.heappush(heap, (out[r, c], r, c))
                seen[r, c] = True
    while heap:
        level, r, c = heapq.heappop(heap)
        for dr, dc in NB:
            rr, cc = r + dr, c + dc
            if _inside(rr, cc) and not seen[rr, cc]:
                seen[rr, cc] = True
                out[rr, cc] = max(out[rr, cc], level)
                heapq.heappush(heap, (out[rr, cc], rr, cc))
    return out


def _outer(p, q, mid, e):
    """dz of an outer row or column (p - q), pygeoprocessing's fallbacks; (sum, weight)."""
    if p is not None and q is not None:
        return p - q, 2
    if p is not None and mid is not None:
        return p - mid, 1
    if mid is not None and q is not None:
        return mid - q, 1
    if p is not None:
        return (p - e) * 2 ** 0.5, 1
    if q is not None:
        return (e - q) * 2 ** 0.5, 1
    return 0.0, 0


def _inner(p, q, e):
    """dz of the middle row or column (2 (p - q)); (sum, weight)."""
    if p is not None and q is not None:
        return 2 * (p - q), 4
    if p is not None:
        return 2 * (p - e), 2
    if q is not None:
        return 2 * (e - q), 2
    return 0.0, 0


def ref_slope(z, ok):
    """Percent slope: Zevenbergen-Thorne with diagonals and pygeoprocessing's fallbacks."""
    out = np.full((N, N), np.nan)

    def v(r, c):
        return z[r, c] if _inside(r, c) and ok[r, c] else None

    for r in range(N):
        for c in range(N):
            if not ok[r, c]:
                continue
            e = z[r, c]
            a, b, cc, d = v(r - 1, c - 1), v(r - 1, c), v(r - 1, c + 1), v(r, c - 1)
            f, g, h, i = v(r, c + 1), v(r + 1, c - 1), v(r + 1, c), v(r + 1, c + 1)
            px = [_outer(a, cc, b, e), _inner(d, f, e), _outer(g, i, h, e)]
            py = [_outer(a, g, d, e), _inner(b, h, e), _outer(cc, i, f, e)]
            nx, ny = sum(p[1] for p in px), sum(p[1] for p in py)
            dzdx = sum(p[0] for p in px) / (nx * CELL) if nx else 0.0
            dzdy = sum(p[0] for p in py) / (ny * CELL) if ny else 0.0
            out[r, c] = 100 * math.hypot(dzdx, dzdy)
    return out


def ref_directions(z, ok, mfd):
    """Flow weights per pixel: {(r, c): [w0..w7]} (MFD 4-bit weights, D8 one weight of 1).
    Flats drain to their nearest pixel with a downhill neighbour (Dijkstra over the flat), a
    flat without one off the region."""
    flow = {}

    def valid(r, c):
        return _inside(r, c) and ok[r, c]

    def quant(ws):
        s = sum(ws)
        return [int(0.5 + w / s * 15) for w in ws]

    def downhill(r, c):
        ws = [0.0] * 8
        for i, (dr, dc) in enumerate(NB):
            if valid(r + dr, c + dc) and z[r + dr, c + dc] < z[r, c]:
                ws[i] = (z[r, c] - z[r + dr, c + dc]) / (math.sqrt(2) if i % 2 else 1)
        return ws

    def steepest(ws):
        best = max(range(8), key=lambda i: (ws[i], -i))
        return [1 if i == best else 0 for i in range(8)]

    for r in range(N):
        for c in range(N):
            if ok[r, c] and sum(downhill(r, c)) > 0:
                ws = downhill(r, c)
                flow[(r, c)] = quant(ws) if mfd else steepest(ws)
    done = set()
    for r in range(N):
        for c in range(N):                               # row order: the first undrained pixel
            if not ok[r, c] or (r, c) in flow or (r, c) in done:
                continue
            flat, order, todo = {(r, c)}, [], deque([(r, c)])
            while todo:                                  # breadth first, directions in order
                p = todo.popleft()
                order.append(p)
                for dr, dc in NB:
                    n = (p[0] + dr, p[1] + dc)
                    if valid(*n) and n not in flat and z[n] == z[r, c]:
                        flat.add(n)
                        todo.append(n)
            done |= flat
            drains = [p for p in order if sum(downhill(*p)) > 0]
            if not drains:
                for p in order:
                    ws = [0.0 if valid(p[0] + dr, p[1] + dc) else (1 / math.sqrt(2) if i % 2
                                                                   else 1.0)
                          for i, (dr, dc) in enumerate(NB)]
                    if sum(ws) > 0:
                        drains.append(p)
                        if mfd:
                            flow[p] = quant(ws)
                        else:
                            card = [i for i in (0, 2, 4, 6) if ws[i] > 0]
                            best = card[0] if card else [i for i in (1, 3, 5, 7) if ws[i]][-1]
                            flow[p] = [1 if i == best else 0 for i in range(8)]
            if not mfd:
                # pygeoprocessing flow_dir_d8: first in, first out from the drains; a pixel
                # points at the neighbour that last shortened its distance
                dist = dict.fromkeys(drains, 0.0)
                fifo = deque(drains)
                while fifo:
                    p = fifo.popleft()
                    for i, (dr, dc) in enumerate(NB):
                        n = (p[0] + dr, p[1] + dc)
                        nd = dist[p] + (math.sqrt(2) if i % 2 else 1.0)
                        if n in flat and n not in drains and nd < dist.get(n, math.inf):
                            dist[n] = nd
                            flow[n] = [1 if j == (i + 4) % 8 else 0 for j in range(8)]
                            fifo.append(n)
                continue
            dist = {p: 0.0 for p in drains}
            heap = [(0.0, p) for p in drains]
            while heap:
                d, p = heapq.heappop(heap)
                if d > dist[p]:
                    continue
                for i, (dr, dc) in enumerate(NB):
                    n = (p[0] + dr, p[1] + dc)
                    nd = d + (math.sqrt(2) if i % 2 else 1.0)
                    if n in flat and nd < dist.get(n, math.inf):
                        dist[n] = nd
                        heapq.heappush(heap, (nd, n))
            for p in flat:
                if p in drains or p not in dist:
                    continue
                closer = [i for i, (dr, dc) in enumerate(NB)
                          if (p[0] + dr, p[1] + dc) in dist and dist[(p[0] + dr, p[1] + dc)]
                          < dist[p]]
                ws = [(1 / math.sqrt(2) if i % 2 else 1.0) if i in closer else 0.0
                      for i in range(8)]
                flow[p] = quant(ws)
    return flow


def ref_accumulate(flow, ok, weight=None):
    """Upslope pixels (or the sum of `weight` over them), the pixel itself included, by
    recursion over the inflows."""
    memo = {}
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))

    def acc(p):
        if p not in memo:
            total = 1.0 if weight is None else float(weight[p])
            for i, (dr, dc) in enumerate(NB):
                u = (p[0] - dr, p[1] - dc)          # u's neighbour i is p
                if u in flow and flow[u][i] > 0:
                    total += acc(u) * flow[u][i] / sum(flow[u])
            memo[p] = total
        return memo[p]

    return np.array([[acc((r, c)) if ok[r, c] else np.nan for c in range(N)]
                     for r in range(N)])


def ref_distance_down(flow, ok, stream, weight, mfd):
    """Distance down to a stream weighted by `weight`: 0 on a stream; D8 the pixel's weight +
    the distance of its downstream pixel; MFD the flow-weighted mean over the downstream
    pixels that reach a stream of (their weight + their distance). NaN: no stream reached."""
    memo = {}

    def dist(p):
        if p not in memo:
            if stream[p] == 1:
                memo[p] = 0.0
                return 0.0
            num = den = 0.0
            for i, (dr, dc) in enumerate(NB):
                n = (p[0] + dr, p[1] + dc)
                if flow[p][i] and _inside(*n) and ok[n] and not math.isnan(dist(n)):
                    if mfd:
                        num += flow[p][i] * (weight[n] + dist(n))
                        den += flow[p][i]
                    else:
                        num, den = weight[p] + dist(n), 1.0
            memo[p] = num / den if den else math.nan
        return memo[p]

    return np.array([[dist((r, c)) if ok[r, c] else np.nan for c in range(N)]
                     for r in range(N)])


def ref_streams_mfd(flow, fa, ok, threshold, trace=0.7):
    """pygeoprocessing extract_streams_mfd, pixel by pixel: outlets in row order, a FIFO
    search upstream, tentative pixels (2) joined when a stream pixel is found upstream."""
    st = np.full((N, N), -1)

    def valid(r, c):
        return _inside(r, c) and ok[r, c]

    for r in range(N):
        for c in range(N):
            if not ok[r, c] or st[r, c] != -1:
                continue
            st[r, c] = 0
            if fa[r, c] < threshold:
                continue
            if not any(flow[(r, c)][i] and not valid(r + dr, c + dc)
                       for i, (dr, dc) in enumerate(NB)):
                continue
            st[r, c] = 1
            queue = deque([(r, c)])
            while queue:
                x = queue.popleft()
                for i, (dr, dc) in enumerate(NB):
                    u = (x[0] + dr, x[1] + dc)
                    if not valid(*u) or flow[u][(i + 4) % 8] == 0 or st[u] in (1, 2):
                        continue
                    if fa[u] >= threshold:
                        st[u] = 1
                        queue.append(u)
                        back = deque([u])
                        while back:
                            b = back.popleft()
                            for j, (er, ec) in enumerate(NB):
                                y = (b[0] + er, b[1] + ec)
                                if flow[b][j] and valid(*y) and st[y] == 2:
                                    st[y] = 1
                                    back.append(y)
                    elif fa[u] >= trace * threshold:
                        st[u] = 2
                        queue.append(u)
    return np.where(ok, (st == 1).astype(float), np.nan)


def rough_terrain() -> np.ndarray:
    """A valley with bumps, two pits (one filled into a flat) and an integer-rounded plateau."""
    rng = np.random.default_rng(7)
    rows, cols = np.mgrid[0:N, 0:N]
    z = 200 + 2.5 * np.abs(cols - 17) - 1.2 * rows + rng.normal(0, 1.5, (N, N))
    z[8:12, 25:30] -= 12                                # a pit
    z[26:30, 5:9] = 180.0                               # a plateau of equal heights
    return np.round(z, 2)


@pytest.mark.parametrize("method", ["mfd", "d8"])
def test_against_an_independent_implementation(db_url: str, tmp_path: Path, method) -> None:
    """Pits filled, slope, flow accumulation, streams, LS, RKLS, USLE and retention over a rough
    terrain equal a pixel-by-pixel implementation of pygeoprocessing's algorithms; the corners
    are left out (no data), so water also leaves the region there. The same region in 64-pixel
    tiles (one tile) gives the same numbers as in 16-pixel tiles."""
    rows, cols = np.mgrid[0:N, 0:N]
    dem = rough_terrain()
    ok = ~(((rows < 4) & (cols < 4)) | ((rows > 35) & (cols > 35)))
    dem_file = np.where(ok, dem, -9999)
    lc = np.where(cols < 17, 1, 2)
    r = 900 + 5.0 * rows
    k = np.where(rows % 7 == 0, 0.02, 0.035)
    threshold = 30
    with psycopg.connect(db_url) as conn:
        _region(conn, tmp_path, "rough", dem_file, lc, r, k)
        got = _kernel(conn, "rough", method, threshold)
        _region(conn, tmp_path, "onetile", dem_file, lc, r, k, tile_size=64)
        one = _kernel(conn, "onetile", method, threshold)
    for key in BANDS:
        assert np.array_equal(got[key], one[key], equal_nan=True), key
    z = ref_fill(dem.astype(np.float32).astype(float), ok)
    assert (z[ok] > dem[ok] + 1).sum() >= 10              # the pit was filled
    flow = ref_directions(z, ok, method == "mfd")
    fa = ref_accumulate(flow, ok)
    assert np.allclose(got["fa"][ok], fa[ok], rtol=1e-6)
    if method == "mfd":
        stream = ref_streams_mfd(flow, fa, ok, threshold)
    else:
        stream = np.where(ok, (fa > threshold).astype(float), np.nan)
    assert np.array_equal(got["stream"], stream, equal_nan=True)
    assert 10 < np.nansum(stream) < 400
    pct = ref_slope(z, ok)
    ls = np.array([[ls_invest(fa[i, j], pct[i, j]) if ok[i, j] else np.nan
                    for j in range(N)] for i in range(N)])
    assert np.allclose(got["ls"][ok], ls[ok], rtol=2e-5)
    cp = np.where(lc == 1, CP[1], CP[2])
    rkls = np.where(stream == 1, 0.0, r * k * ls)
    assert np.allclose(got["rkls"][ok], rkls[ok], rtol=2e-5, atol=1e-9)
    assert np.allclose(got["usle"][ok], (rkls * cp)[ok], rtol=2e-5, atol=1e-9)
    assert np.allclose(got["retention"][ok], (rkls * (1 - cp))[ok], rtol=2e-5, atol=1e-9)
    assert np.isnan(got["rkls"][~ok]).all()
    # sediment delivery (InVEST): W = C >= 0.001, S = slope in 0.005..1 m/m; D_up = W_bar
    # S_bar sqrt(area); D_dn = distance down to a stream weighted by 1 / (W S)
    c = np.where(lc == 1, 0.003, 0.25)
    s = np.clip(pct / 100, 0.005, 1.0)
    d_up = (ref_accumulate(flow, ok, c) / fa) * (ref_accumulate(flow, ok, s) / fa) * np.sqrt(
        fa * CELL ** 2)
    d_dn = ref_distance_down(flow, ok, stream, 1 / (c * s), method == "mfd")
    with np.errstate(divide="ignore", invalid="ignore"):
        sdr = 0.8 / (1 + np.exp((0.5 - np.log10(d_up / d_dn)) / 2))
    sdr = np.where(stream == 1, 1.0, sdr)
    assert np.array_equal(np.isfinite(got["sdr"]), np.isfinite(sdr))
    assert np.isfinite(sdr).sum() > 0.9 * ok.sum()
    assert np.allclose(got["sdr"][np.isfinite(sdr)], sdr[np.isfinite(sdr)], rtol=1e-4)
    both = np.isfinite(sdr)
    assert np.allclose(got["export"][both], (rkls * cp * sdr)[both], rtol=2e-4, atol=1e-9)


# ------------------------------------------------------------------------------------------------
# InVEST 3.20.2 on its Willamette sample
# ------------------------------------------------------------------------------------------------
ES = SAMPLE / "invest_willamette" / "ecosystem_services"
# watershed_results_sdr.shp of InVEST 3.20.2 SDR (natcap.invest 3.20.2 from its sdist, run on
# the files below with threshold 1000, k_b 2, IC0 0.5, SDR_max 0.8, l_max 122): per ws_id
# usle_tot, avoid_eros and sed_export in t/yr
INVEST = {
    "mfd": {0: (2316.93837890625, 3492957.96, 67.83660461426),
            1: (7787.3428125, 9932478.48, 307.61020019531),
            2: (1369.1576953125, 1830738.24, 50.98604370117)},
    "d8": {0: (2262.36427734375, 3405494.16, 65.72184082031),
           1: (7585.5375, 9643480.56, 312.04764404297),
           2: (1305.69626953125, 1745984.52, 50.32500732422)},
}


def test_willamette_equals_invest(db_url: str, tmp_path: Path) -> None:
    """The Willamette sample loaded on a region aligned to dem_30m.tif (boundary: the three
    watersheds, InVEST's SDR table as usle_c / usle_p): soil loss, avoided erosion and sediment
    export per watershed equal InVEST 3.20.2's, MFD and D8 (pixels without K left out, as
    InVEST does)."""
    dem = SAMPLE / "invest_willamette" / "dem_30m.tif"
    sheds = SAMPLE / "invest_willamette" / "watersheds.shp"
    rows = list(csv.DictReader((ES / "sdr" / "biophysical_table_sdr.csv").read_text().splitlines()))
    (tmp_path / "legend.csv").write_text("class_code,name_en\n" + "".join(
        f"{int(r['lucode'])},class {int(r['lucode'])}\n" for r in rows))
    (tmp_path / "sdr.csv").write_text("parameter,class_code,value,unit\n" + "".join(
        f"usle_c,{int(r['lucode'])},{r['usle_c']},1\nusle_p,{int(r['lucode'])},{r['usle_p']},1\n"
        for r in rows))
    with rasterio.open(dem) as src:
        shape, transform = src.shape, src.transform
    _meta, _fids, geoms, fields = pyogrio.raw.read(sheds)
    ws = rasterize([(shapely.from_wkb(g), int(w)) for g, w in zip(geoms, fields[0], strict=True)],
                   out_shape=shape, transform=transform, fill=-1, dtype="int32")
    with psycopg.connect(db_url) as conn:
        load_legend(conn, "wil", tmp_path / "legend.csv")
        create_region(conn, "wil", str(sheds), align_to=str(dem), allow_non_equal_area=True,
                      legend="wil")
        for layer, path in (("landcover", ES / "derived_lulc_cur_demgrid.tif"), ("dem", dem),
                            ("erosivity", ES / "sdr" / "derived_erosivity_const_demgrid.tif"),
                            ("erodibility", ES / "sdr" / "derived_erodibility_demgrid.tif")):
            load_raster(conn, "wil", layer, path, epoch="1990", show_progress=False)
        load_params(conn, tmp_path / "sdr.csv", region="wil", name="wil services",
                    kind="services", source_text="InVEST Willamette SDR table")
        for method, want in INVEST.items():
            got = _kernel(conn, "wil", method, origin=(transform.c, transform.f), shape=shape)
            assert np.isfinite(got["usle"]).sum() == 154_738     # InVEST's mutual mask
            for wid, (usle, avoided, export) in want.items():
                m = ws == wid
                assert np.nansum(got["usle"][m]) * 0.09 == pytest.approx(usle, rel=1e-6)
                assert np.nansum(got["retention"][m]) * 0.09 == pytest.approx(avoided, rel=1e-6)
                assert np.nansum(got["export"][m]) * 0.09 == pytest.approx(export, rel=1e-5)
