"""Ecosystem-service kernels at 10^8 pixels against plain numpy: ``python -m bench.services``.

A generated region of N x N pixels (30 m, UTM 10N; default N = 10000) is written as GeoTIFFs
(land cover with a no-data corner, a DEM falling westwards with ridges and valleys, R, K,
precipitation, ET0, PAWC, root-restricting depth, vegetation cover, a road-grid threat), loaded
into a fresh database on the file's own grid (256-px tiles), and every kernel is timed as the
SQL that its model runs, over all tiles (results stored in a temporary table):

* water yield      raster.np_water_yield per tile (Budyko-Zhang, InVEST 3.20.2)
* habitat quality  raster.np_threat_decay per tile (threat tiles within the distance) and
                   raster.np_habitat_quality
* sensitivity      raster.np_sensitivity per tile (soil-erosion sensitivity: R, K, relief in a
                   1000 m window over the neighbouring DEM tiles, vegetation cover)
* soil retention   raster.np_soil_tiles over the whole region (D8 routing, flow accumulation,
                   streams, LS, RUSLE); the whole-region routing holds ~40 bytes a pixel in one
                   server process, so it runs on its own sizes (--soil-sizes)

Each baseline is plain numpy (+ rasterio to read, scipy's distance transform and max/min
filters) computing the same thing on whole arrays in one process, measured in the same run;
its time includes reading the files, as the kernel's includes reading the tiles. The results
of both are compared (sums, class counts). Every step runs in a fresh process (wall time,
peak resident memory; for the kernels the largest server process serving the database).

    python -m bench.services                        N = 10000, soil at 1000, 2000, 4000
    python -m bench.services --size 2500 --repeats 3   a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from .load import CODES, ORIGIN, _drop, _landcover, aligned_region_db

CELL = 30.0
# per land-cover class (bench.load.CODES): Kc, root depth (mm), vegetated, runoff coefficient,
# USLE C, USLE P, habitat suitability, sensitivity to the road threat
PARAMS = {
    54: (1.00, 5000, 1, 0.10, 0.003, 1.0, 1.0, 0.6),
    58: (0.95, 3000, 1, 0.15, 0.010, 1.0, 0.9, 0.5),
    60: (0.70, 1500, 1, 0.25, 0.080, 1.0, 0.6, 0.8),
    67: (0.65, 1000, 1, 0.30, 0.150, 0.8, 0.4, 0.7),
    85: (0.80, 800, 1, 0.40, 0.300, 0.6, 0.2, 0.4),
    87: (0.30, 1, 0, 0.80, 0.000, 1.0, 0.0, 0.0),
    53: (1.05, 6000, 1, 0.10, 0.002, 1.0, 1.0, 0.9),
    56: (0.20, 1, 0, 0.90, 0.900, 1.0, 0.0, 0.0),
}
ZHANG_Z = 5.0
THREAT_M = 1200.0          # road: linear decay, 1200 m
HALF_SAT = 0.5
RELIEF_WINDOW_M = 1000.0
SENS_BREAKS = {"erosivity": [25, 100, 400, 600], "erodibility": [0.01, 0.02, 0.03, 0.04],
               "relief": [20, 50, 100, 300], "cover": [0.2, 0.4, 0.6, 0.8],
               "class": [2, 4, 6, 8]}
THRESHOLD, L_MAX = 1000.0, 122.0
LAYERS = ("landcover", "dem", "erosivity", "erodibility", "precip", "et0", "pawc",
          "soil_depth", "fvc", "threat_road")
SOIL_LAYERS = ("landcover", "dem", "erosivity", "erodibility")


def _col(name: int) -> np.ndarray:
    return np.array([PARAMS[int(c)][name] for c in CODES], np.float64)


# ------------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------------

def _surface(n: int, layer: str, r0: int, r1: int) -> np.ndarray:
    """Rows r0..r1-1 of a generated layer (float32). The DEM rises 0.85 m a pixel eastwards (to
    8.9 km at N = 10000) with ridges and valleys along the rows (150 m, 400-px period): every
    pixel has a lower neighbour to its west, so there are no pits and no flats, and D8 flow
    converges into the valleys."""
    r = np.arange(r0, r1, dtype=np.float64)[:, None]
    c = np.arange(n, dtype=np.float64)[None, :]
    tau = 2 * math.pi
    if layer == "dem":
        z = (0.85 * c + 150 * np.sin(tau * r / 400) + 20 * np.sin(tau * c / 500)
             * np.cos(tau * r / 300) + 200)
    elif layer == "erosivity":
        z = 350 + 300 * np.sin(tau * c / 3100) * np.cos(tau * r / 2300) + 0 * r
    elif layer == "erodibility":
        z = 0.027 + 0.022 * np.sin(tau * (r + c) / 1700) + 0 * r
    elif layer == "precip":
        z = 1100 + 500 * np.sin(tau * r / 2900) + 200 * np.cos(tau * c / 1300)
    elif layer == "et0":
        z = 900 + 250 * np.cos(tau * (r - c) / 3700) + 0 * r
    elif layer == "pawc":
        z = 0.18 + 0.1 * np.sin(tau * c / 1900) + 0 * r
    elif layer == "soil_depth":
        z = 1600 + 1200 * np.sin(tau * r / 1100) * np.sin(tau * c / 800)
    elif layer == "fvc":
        z = 0.5 + 0.49 * np.sin(tau * r / 700) * np.cos(tau * c / 900)
    elif layer == "threat_road":        # a road every 700 rows and every 900 columns
        z = ((r % 700 == 350) | (c % 900 == 450)).astype(np.float64)
    else:
        raise ValueError(layer)
    return z.astype(np.float32)


def generate(work: Path, n: int, layers=LAYERS) -> dict[str, str]:
    """The layers of an n x n region under ``work`` (reused when present)."""
    out = {}
    for layer in layers:
        path = work / f"svc_{layer}_{n}.tif"
        out[layer] = str(path)
        if path.exists():
            continue
        lc = layer == "landcover"
        tmp = path.with_suffix(".part.tif")
        with rasterio.open(tmp, "w", driver="GTiff", width=n, height=n, count=1,
                           dtype="uint8" if lc else "float32", crs="EPSG:26910",
                           nodata=255 if lc else -9999.0, tiled=True, blockxsize=256,
                           blockysize=256, transform=from_origin(*ORIGIN, CELL, CELL)) as dst:
            if lc:
                dst.write(_landcover(n, np.random.default_rng(42)), 1)
            else:
                step = 1024
                for r0 in range(0, n, step):
                    r1 = min(n, r0 + step)
                    dst.write(_surface(n, layer, r0, r1), 1,
                              window=rasterio.windows.Window(0, r0, n, r1 - r0))
        tmp.rename(path)
    return out


def _read(files: dict, layer: str) -> np.ndarray:
    with rasterio.open(files[layer]) as src:
        a = src.read(1)
    return a


# ------------------------------------------------------------------------------------------------
# numpy baselines (whole arrays)
# ------------------------------------------------------------------------------------------------

def _lut(lc: np.ndarray, values: np.ndarray) -> np.ndarray:
    table = np.full(256, np.nan)
    table[CODES] = values
    return table[lc]


def numpy_water(files: dict) -> dict:
    lc = _read(files, "landcover")
    p = _read(files, "precip").astype(np.float64)
    et0 = _read(files, "et0").astype(np.float64)
    pawc = _read(files, "pawc").astype(np.float64)
    depth = _read(files, "soil_depth").astype(np.float64)
    kc, root, veg = _lut(lc, _col(0)), _lut(lc, _col(1)), _lut(lc, _col(2))
    ok = (lc != 255) & (p != 0)
    pet = kc * et0
    phi = pet / p
    awc = np.minimum(np.where(veg == 1, root, 1.0), depth) * pawc
    w = np.minimum(ZHANG_Z * awc / p + 1.25, 5.0)
    with np.errstate(all="ignore"):
        frac = np.where(veg == 1, np.minimum(phi, 1 + phi - (1 + phi ** w) ** (1 / w)),
                        np.minimum(pet, p) / p)
    wy = (1 - frac) * p
    return {"sum": float(wy[ok].sum()), "pixels": int(ok.sum())}


def numpy_habitat(files: dict) -> dict:
    from scipy.ndimage import distance_transform_edt

    lc = _read(files, "landcover")
    threat = _read(files, "threat_road")
    d = distance_transform_edt(threat == 0) * CELL
    decay = np.where(d <= THREAT_M, 1 - d / THREAT_M, 0.0)
    del d
    deg = decay * _lut(lc, _col(7))
    hab = _lut(lc, _col(6))
    z = 2.5
    q = hab * (1 - deg ** z / (deg ** z + HALF_SAT ** z))
    ok = lc != 255
    return {"sum": float(q[ok].sum()), "deg_sum": float(deg[ok].sum()), "pixels": int(ok.sum())}


def _grade(x, breaks, increasing=True):
    i = np.digitize(x, np.asarray(breaks, np.float64))
    return 1.0 + 2.0 * (i if increasing else len(breaks) - i)


def _cover(files: dict) -> np.ndarray:
    """Vegetation cover as stored (the fvc layer keeps 1e-4 steps, etl/rasters.py)."""
    return np.clip(np.round(_read(files, "fvc").astype(np.float64) * 1e4) * 1e-4, 0, 1)


def numpy_sensitivity(files: dict) -> dict:
    from scipy.ndimage import maximum_filter, minimum_filter

    lc = _read(files, "landcover")
    dem = _read(files, "dem").astype(np.float64)
    r = max(1, int(round(RELIEF_WINDOW_M / CELL / 2.0)))
    relief = maximum_filter(dem, 2 * r + 1, mode="nearest") - minimum_filter(
        dem, 2 * r + 1, mode="nearest")
    del dem
    b = SENS_BREAKS
    g = (np.log(_grade(_read(files, "erosivity").astype(np.float64), b["erosivity"]))
         + np.log(_grade(_read(files, "erodibility").astype(np.float64), b["erodibility"]))
         + np.log(_grade(relief, b["relief"]))
         + np.log(_grade(_cover(files), b["cover"], increasing=False)))
    cls = np.digitize(np.exp(g / 4), np.asarray(b["class"], np.float64), right=True) + 1
    return {"counts": np.bincount(cls[lc != 255], minlength=6)[1:].tolist()}


_DR = (0, -1, -1, -1, 0, 1, 1, 1)       # E, NE, N, NW, W, SW, S, SE
_DC = (1, 1, 0, -1, -1, -1, 0, 1)


def numpy_soil(files: dict) -> dict:
    """D8 soil retention on the generated DEM (no pits, no flats: no filling needed, checked):
    Zevenbergen-Thorne slope with pygeoprocessing's edge rules, steepest-descent receivers,
    flow accumulation in Kahn rounds, streams (accumulation > threshold), LS (Desmet & Govers,
    InVEST 3.20.2), RKLS, USLE and retention."""
    lc = _read(files, "landcover")
    h, w = lc.shape
    pad = lambda a, v: np.pad(a, 1, constant_values=v)  # noqa: E731
    ok = pad(lc != 255, False)
    z = pad(_read(files, "dem").astype(np.float64), 0.0)
    nb = [(slice(1 + dr, h + 1 + dr), slice(1 + dc, w + 1 + dc))
          for dr, dc in zip(_DR, _DC, strict=True)]
    c = (slice(1, h + 1), slice(1, w + 1))
    e, okc = z[c], ok[c]
    v = [z[s] for s in nb]
    m = [ok[s] for s in nb]
    # slope (percent)

    def outer(p, q, mid):
        num = np.where(m[p] & m[q], v[p] - v[q], np.where(m[p] & m[mid], v[p] - v[mid],
              np.where(m[mid] & m[q], v[mid] - v[q], np.where(m[p], (v[p] - e) * 2 ** 0.5,
              np.where(m[q], (e - v[q]) * 2 ** 0.5, 0.0)))))
        return num, np.where(m[p] & m[q], 2, np.where(m[p] | m[q], 1, 0))

    def inner(p, q):
        num = np.where(m[p] & m[q], 2 * (v[p] - v[q]),
                       np.where(m[p], 2 * (v[p] - e), np.where(m[q], 2 * (e - v[q]), 0.0)))
        return num, np.where(m[p] & m[q], 4, np.where(m[p] | m[q], 2, 0))

    px = [outer(3, 1, 2), inner(4, 0), outer(5, 7, 6)]
    py = [outer(3, 5, 4), inner(2, 6), outer(1, 7, 0)]
    nx, ny = sum(t[1] for t in px), sum(t[1] for t in py)
    with np.errstate(divide="ignore", invalid="ignore"):
        dzdx = np.where(nx > 0, sum(t[0] for t in px) / (nx * CELL), 0.0)
        dzdy = np.where(ny > 0, sum(t[0] for t in py) / (ny * CELL), 0.0)
    pct = (100 * np.sqrt(dzdx ** 2 + dzdy ** 2)).astype(np.float32)
    del dzdx, dzdy, nx, ny, px, py
    # D8 receivers: the steepest drop (diagonals / sqrt 2), the first direction on ties
    best = np.zeros((h, w))
    recv_dir = np.full((h, w), -1, np.int8)
    for i in range(8):
        s = (e - v[i]) / (math.sqrt(2) if i & 1 else 1.0)
        s = np.where(m[i] & (s > 0), s, 0.0)
        better = s > best
        best = np.where(better, s, best)
        recv_dir[better] = i
    del best
    touches = np.zeros((h, w), bool)
    for i in range(8):
        touches |= ~m[i]
    if (okc & (recv_dir < 0) & ~touches).any():
        raise SystemExit("the generated DEM has a pit or a flat: the baseline does not fill")
    idx = np.arange(h * w).reshape(h, w)
    off = np.array([dr * w + dc for dr, dc in zip(_DR, _DC, strict=True)])
    recv = np.where(okc & (recv_dir >= 0), idx + off[recv_dir.astype(np.int64)], -1).ravel()
    del idx, touches
    okf = okc.ravel()
    indeg = np.bincount(recv[recv >= 0], minlength=h * w).astype(np.int32)
    acc = okf.astype(np.float64)
    front = np.flatnonzero(okf & (indeg == 0))
    while front.size:
        r = recv[front]
        keep = r >= 0
        f, r = front[keep], r[keep]
        np.add.at(acc, r, acc[f])
        np.subtract.at(indeg, r, 1)
        r = np.unique(r)
        front = r[indeg[r] == 0]
    fa = acc.reshape(h, w)
    stream = fa > THRESHOLD
    # LS (InVEST 3.20.2 _calculate_ls_factor), RKLS, USLE
    area = np.sqrt(np.maximum(fa - 1, 0) * CELL ** 2)
    rad = np.arctan(pct / np.float32(100))
    sin = np.sin(rad)
    x = np.abs(sin) + np.abs(np.cos(rad))
    s_factor = np.where(pct < 9, 10.8 * sin + 0.03, 16.8 * sin - 0.5)
    beta = (sin / 0.0896) / (3 * sin ** 0.8 + 0.56)
    mexp = np.where(pct > 9, beta / (1 + beta),
                    np.select([pct <= 1, pct <= 3.5, pct <= 5], [0.2, 0.3, 0.4], 0.5))
    mexp = mexp.astype(np.float32)
    lf = (((area + CELL ** 2) ** (mexp + 1) - area ** (mexp + 1))
          / (CELL ** (mexp + 2) * x ** mexp * 22.13 ** mexp))
    ls = np.minimum(lf, L_MAX) * s_factor
    rkls = ls * _read(files, "erosivity") * _read(files, "erodibility")
    rkls = np.where(okc & ~stream, rkls.astype(np.float32), np.float32(0))
    cp = _lut(lc, _col(4) * _col(5)).astype(np.float32)
    usle = rkls * cp
    return {"usle": float(usle[okc].sum(dtype=np.float64)),
            "retention": float((rkls - usle)[okc].sum(dtype=np.float64)),
            "streams": int((stream & okc).sum()), "pixels": int(okc.sum())}


BASELINES = {"water": numpy_water, "habitat": numpy_habitat, "sensitivity": numpy_sensitivity,
             "soil": numpy_soil}


def step_numpy(kind: str, files: dict, repeats: int = 1) -> dict:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = BASELINES[kind](files)
        times.append(time.perf_counter() - t0)
    return {"seconds": times, "result": result,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ------------------------------------------------------------------------------------------------
# ecorest kernels (SQL over the stored tiles, as the models run them)
# ------------------------------------------------------------------------------------------------

# the kernels' arguments (psycopg literals)
ARGS = {
    "codes": [int(c) for c in CODES], "kc": _col(0).tolist(), "root": _col(1).tolist(),
    "veg": _col(2).tolist(), "rc": _col(3).tolist(), "usle_c": _col(4).tolist(),
    "usle_p": _col(5).tolist(), "habitat": _col(6).tolist(), "sens": _col(7).tolist(),
    "z": ZHANG_Z, "max_dist": THREAT_M, "k": HALF_SAT, "window": RELIEF_WINDOW_M,
    "threshold": THRESHOLD, "l_max": L_MAX,
    **{f"b_{k}": [float(x) for x in v] for k, v in SENS_BREAKS.items()},
    "b_aridity": [1.5, 4.0, 16.0, 24.0], "b_lithology": [0.1, 0.3, 0.5, 0.7],
    "b_slope": [5.0, 15.0, 25.0, 35.0],
}

_SAME_TILE = "{a}.tile_x = l.tile_x and {a}.tile_y = l.tile_y"

KERNEL_SQL = {
    "water": """
        create temp table out as
        select l.tile_x, l.tile_y, raster.np_water_yield(
            l.rast::bytea, t1.rast::bytea, t2.rast::bytea, t3.rast::bytea, t4.rast::bytea, null,
            array[c1.scale_factor, c2.scale_factor, c3.scale_factor, c4.scale_factor, 1],
            array[c1.add_offset, c2.add_offset, c3.add_offset, c4.add_offset, 0],
            {codes}::int[], {kc}::float8[], {root}::float8[], {veg}::float8[], {rc}::float8[],
            {z}) as r
        from raster.tiles l
        join raster.catalog c1 on c1.layer = 'precip'
        join raster.catalog c2 on c2.layer = 'et0'
        join raster.catalog c3 on c3.layer = 'pawc'
        join raster.catalog c4 on c4.layer = 'soil_depth'
        join raster.tiles t1 on t1.catalog_id = c1.catalog_id and {t1}
        join raster.tiles t2 on t2.catalog_id = c2.catalog_id and {t2}
        join raster.tiles t3 on t3.catalog_id = c3.catalog_id and {t3}
        join raster.tiles t4 on t4.catalog_id = c4.catalog_id and {t4}
        where l.catalog_id = (select catalog_id from raster.catalog where layer = 'landcover')""",
    "habitat": """
        create temp table out as
        with d as (
            select l.tile_x, l.tile_y, l.rast::bytea as lc, raster.np_threat_decay(
                l.rast::bytea,
                array(select t.rast::bytea from raster.tiles t
                      where t.catalog_id = c.catalog_id
                        and t.tile_x between l.tile_x - {reach} and l.tile_x + {reach}
                        and t.tile_y between l.tile_y - {reach} and l.tile_y + {reach}),
                {max_dist}, 0, c.scale_factor, c.add_offset) as decay
            from raster.tiles l
            join raster.catalog c on c.layer = 'threat_road'
            where l.catalog_id = (select catalog_id from raster.catalog
                                  where layer = 'landcover'))
        select tile_x, tile_y, raster.np_habitat_quality(
            lc, array[decay], array[1.0], {codes}::int[], {habitat}::float8[],
            {sens}::float8[], null, 1, 0, {k}) as r
        from d""",
    "sensitivity": """
        create temp table out as
        select l.tile_x, l.tile_y, raster.np_sensitivity(
            l.rast::bytea, r.rast::bytea, k.rast::bytea,
            array(select t.rast::bytea from raster.tiles t where t.catalog_id = cd.catalog_id
                  and t.tile_x between l.tile_x - 1 and l.tile_x + 1
                  and t.tile_y between l.tile_y - 1 and l.tile_y + 1),
            null, null, null, null, null, v.rast::bytea,
            array[cr.scale_factor, ck.scale_factor, cd.scale_factor, 1, 1, 1, 1, 1,
                  cv.scale_factor],
            array[cr.add_offset, ck.add_offset, cd.add_offset, 0, 0, 0, 0, 0, cv.add_offset],
            null, null, {window}, {b_erosivity}::float8[], {b_erodibility}::float8[],
            {b_relief}::float8[], {b_cover}::float8[], {b_class}::float8[],
            {b_aridity}::float8[], {b_cover}::float8[], {b_class}::float8[],
            {b_lithology}::float8[], {b_slope}::float8[], {b_cover}::float8[],
            {b_class}::float8[]) as r
        from raster.tiles l
        join raster.catalog cr on cr.layer = 'erosivity'
        join raster.catalog ck on ck.layer = 'erodibility'
        join raster.catalog cd on cd.layer = 'dem'
        join raster.catalog cv on cv.layer = 'fvc'
        join raster.tiles r on r.catalog_id = cr.catalog_id and {r}
        join raster.tiles k on k.catalog_id = ck.catalog_id and {k_}
        join raster.tiles v on v.catalog_id = cv.catalog_id and {v}
        where l.catalog_id = (select catalog_id from raster.catalog where layer = 'landcover')""",
    "soil": """
        create temp table out as
        select s.tile_x, s.tile_y, s.rast as r from raster.np_soil_tiles(
            (select catalog_id from raster.catalog where layer = 'dem'),
            (select catalog_id from raster.catalog where layer = 'erosivity'),
            (select catalog_id from raster.catalog where layer = 'erodibility'),
            (select catalog_id from raster.catalog where layer = 'landcover'),
            (select array[d.scale_factor, r.scale_factor, k.scale_factor]
             from raster.catalog d, raster.catalog r, raster.catalog k
             where d.layer = 'dem' and r.layer = 'erosivity' and k.layer = 'erodibility'),
            (select array[d.add_offset, r.add_offset, k.add_offset]
             from raster.catalog d, raster.catalog r, raster.catalog k
             where d.layer = 'dem' and r.layer = 'erosivity' and k.layer = 'erodibility'),
            {codes}::int[], {usle_c}::float8[], {usle_p}::float8[], 'd8', {threshold},
            {l_max}, 'southwest') s""",
}


def kernel_sql(kind: str, reach: int):
    """The kernel statement of ``kind`` with its arguments as literals."""
    from psycopg import sql

    lit = {k: sql.Literal(v) for k, v in ARGS.items()}
    same = {a if a != "k" else "k_": sql.SQL(_SAME_TILE.format(a=a))
            for a in ("t1", "t2", "t3", "t4", "r", "k", "v")}
    return sql.SQL(KERNEL_SQL[kind]).format(reach=sql.Literal(reach), **same, **lit)


# what is compared with the baseline (read after the timed statement)
RESULT_SQL = {
    "water": "select sum((st_summarystats(st_rastfromwkb(r), 1, true)).sum), "
             "sum((st_summarystats(st_rastfromwkb(r), 1, true)).count) from out",
    "habitat": "select sum((st_summarystats(st_rastfromwkb(r), 1, true)).sum), "
               "sum((st_summarystats(st_rastfromwkb(r), 2, true)).sum), "
               "sum((st_summarystats(st_rastfromwkb(r), 1, true)).count) from out",
    "sensitivity": "select (v).value, sum((v).count) from (select st_valuecount("
                   "st_rastfromwkb(r), 1, true) as v from out) x group by 1 order by 1",
    "soil": "select sum((st_summarystats(st_rastfromwkb(r), 2, true)).sum), "
            "sum((st_summarystats(st_rastfromwkb(r), 3, true)).sum), "
            "sum((st_summarystats(st_rastfromwkb(r), 5, true)).sum), "
            "sum((st_summarystats(st_rastfromwkb(r), 2, true)).count) from out",
}


def _result(kind: str, rows: list) -> dict:
    if kind == "water":
        return {"sum": float(rows[0][0]), "pixels": int(rows[0][1])}
    if kind == "habitat":
        return {"sum": float(rows[0][0]), "deg_sum": float(rows[0][1]),
                "pixels": int(rows[0][2])}
    if kind == "sensitivity":
        counts = [0] * 5
        for value, n in rows:
            counts[int(value) - 1] = int(n)
        return {"counts": counts}
    return {"usle": float(rows[0][0]), "retention": float(rows[0][1]),
            "streams": int(rows[0][2]), "pixels": int(rows[0][3])}


def step_ecorest(kinds: list, files: dict, url: str, repeats: int = 1,
                 tile: int = 256) -> dict:
    from ecorest.etl.rasters import load_raster

    from .load import _bench_legend
    try:
        from .memory import server_peak
    except ImportError:                 # an older checkout: no server memory figure
        from contextlib import nullcontext

        def server_peak(_name):
            return nullcontext({"peak_mb": float("nan")})

    name, _dburl, conn = aligned_region_db(url, files["landcover"])
    report = {}
    try:
        _bench_legend(conn)
        t0 = time.perf_counter()
        for layer in [x for x in LAYERS if x in files]:
            kw = {"legend": "bench_legend"} if layer == "landcover" else {}
            load_raster(conn, "bench", layer, files[layer], epoch="2020", show_progress=False,
                        **kw)
        conn.commit()
        report["load_s"] = time.perf_counter() - t0
        reach = math.ceil(math.floor(THREAT_M / CELL) / tile)
        for kind in kinds:
            times, peak = [], 0.0
            for _ in range(repeats):
                conn.execute("drop table if exists out")
                t0 = time.perf_counter()
                with server_peak(name) as server:
                    conn.execute(kernel_sql(kind, reach))
                times.append(time.perf_counter() - t0)
                peak = max(peak, server["peak_mb"])
            report[kind] = {"seconds": times, "server_peak_mb": peak,
                            "result": _result(kind, conn.execute(RESULT_SQL[kind]).fetchall())}
            conn.rollback()
        conn.close()
    finally:
        _drop(url, name)
    report["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


# ------------------------------------------------------------------------------------------------
# the comparison
# ------------------------------------------------------------------------------------------------

def _agree(kind: str, a: dict, b: dict) -> str:
    """How the kernel's result compares with the baseline's (relative differences)."""
    def rel(x, y):
        return (x - y) / y if y else float("nan")
    if kind == "sensitivity":
        return "class counts " + ("equal" if a["counts"] == b["counts"] else
                                  f"differ: {a['counts']} vs {b['counts']}")
    if kind == "soil":
        return (f"USLE {rel(a['usle'], b['usle']):+.1e}, retention "
                f"{rel(a['retention'], b['retention']):+.1e}, stream px "
                f"{a['streams']} vs {b['streams']}")
    extra = (f", degradation {rel(a['deg_sum'], b['deg_sum']):+.1e}"
             if kind == "habitat" else "")
    return (f"sum {rel(a['sum'], b['sum']):+.1e}, px {a['pixels']} vs {b['pixels']}{extra}")


LABEL = {"water": "water yield (Budyko-Zhang)", "habitat": "habitat quality (1 threat, 1.2 km)",
         "sensitivity": "soil-erosion sensitivity", "soil": "soil retention (D8, whole region)"}


def _row(kind: str, n: int, base: dict, ours: dict) -> str:
    b, o = statistics.median(base["seconds"]), statistics.median(ours["seconds"])
    return (f"{LABEL[kind]:36} {n * n / 1e6:7.1f} {b:9.2f} {o:10.2f} {o / b:6.2f} "
            f"{base['peak_mb']:8.0f} {ours['server_peak_mb']:9.0f}  "
            f"{_agree(kind, ours['result'], base['result'])}")


HEADER = (f"{'kernel':36} {'Mpx':>7} {'numpy s':>9} {'ecorest s':>10} {'ratio':>6} "
          f"{'numpy MB':>8} {'server MB':>9}  agreement (ecorest vs numpy)")


def main(argv: list[str] | None = None) -> None:
    from . import __main__ as bench_main
    from . import load as load_bench

    ap = argparse.ArgumentParser(prog="python -m bench.services", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000, help="Edge length in pixels.")
    ap.add_argument("--soil-sizes", default="1000,2000,4000",
                    help="Edge lengths for soil retention (whole-region routing).")
    ap.add_argument("--kernels", default="water,habitat,sensitivity,soil")
    ap.add_argument("--repeats", type=int, default=1, help="Repeats (medians are printed).")
    ap.add_argument("--workdir", default=None, help="Where to write the generated rasters.")
    ap.add_argument("--dsn", default=os.environ.get("ECOREST_DATABASE_URL"),
                    help="Server to use (default: an embedded cluster under .ecorest-bench/).")
    args = ap.parse_args(argv)
    kinds = [k for k in args.kernels.split(",") if k]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ecorest-bench-svc-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.dsn or load_bench.bench_cluster_url()
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores; "
          f"inputs under {work}")
    print(HEADER)
    per_tile = [k for k in kinds if k != "soil"]
    if per_tile:
        t0 = time.monotonic()
        files = generate(work, args.size)
        gen_s = time.monotonic() - t0
        ours = bench_main.child("ecorest", "bench.services", kinds=per_tile, files=files,
                                url=url, repeats=args.repeats)
        for kind in per_tile:
            base = bench_main.child("numpy", "bench.services", kind=kind, files=files,
                                    repeats=args.repeats)
            print(_row(kind, args.size, base, ours[kind]), flush=True)
        print(f"  (generated in {gen_s:.0f} s; the {len(files)} layers loaded in "
              f"{ours['load_s']:.0f} s)")
    if "soil" in kinds:
        for n in [int(s) for s in args.soil_sizes.split(",") if s]:
            files = generate(work, n, SOIL_LAYERS)
            ours = bench_main.child("ecorest", "bench.services", kinds=["soil"], files=files,
                                    url=url, repeats=args.repeats)
            base = bench_main.child("numpy", "bench.services", kind="soil", files=files,
                                    repeats=args.repeats)
            print(_row("soil", n, base, ours["soil"]), flush=True)
    print("numpy s / ecorest s: medians of the repeats; numpy: read the files + compute on "
          "whole arrays; ecorest: the kernel SQL over all tiles (reading the tiles, writing "
          "the result tiles); MB: peak resident memory of the numpy process / the largest "
          "server process (RssAnon)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] in ("numpy", "ecorest"):
        step, kw = sys.argv[1], json.loads(sys.argv[2])
        print(json.dumps({"numpy": step_numpy, "ecorest": step_ecorest}[step](**kw)))
    else:
        main()
