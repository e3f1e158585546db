"""Identification benchmark: NDVI trend of a 10-epoch stack and the weighted overlay.

ecorest: the in-database kernels over the stored tiles (raster.np_ndvi_trend per tile
position; raster.np_overlay of two factor tiles into scores, classes and priority grades),
timed as the SQL that the dbt models run, and the whole `ecorest run`. Baseline: plain numpy
on the same values read with rasterio (Theil-Sen over all pairs, Mann-Kendall S with the ties
correction, Z, p; min-max normalisation, weighted scores, fixed breaks, matrix lookup).
"""

from __future__ import annotations

import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from .load import _drop, aligned_region_db

MATRIX = np.array([5, 5, 3, 5, 3, 2, 4, 2, 1], dtype=np.float64)  # seeds/priority_matrix.csv


def numpy_trend(x: np.ndarray, years: np.ndarray, chunk: int = 1 << 16) -> tuple:
    """x: (years, pixels) float64 with NaN; the same statistics as raster.np_ndvi_trend."""
    t, p = x.shape
    i, j = np.triu_indices(t, 1)
    dy = (years[j] - years[i])[:, None]
    slope, s = np.empty(p), np.empty(p)
    for c in range(0, p, chunk):
        d = x[j, c:c + chunk] - x[i, c:c + chunk]
        slope[c:c + chunk] = np.nanmedian(d / dy, axis=0)
        s[c:c + chunk] = np.nansum(np.sign(d), axis=0)
    n = np.isfinite(x).sum(axis=0)
    srt = np.sort(x, axis=0)
    ties, run = np.zeros(p), np.ones(p)
    for k in range(1, t):
        same = srt[k] == srt[k - 1]
        ties += np.where(~same & (run > 1), run * (run - 1) * (2 * run + 5), 0)
        run = np.where(same, run + 1, 1)
    ties += np.where(run > 1, run * (run - 1) * (2 * run + 5), 0)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0))
    pval = np.array([math.erfc(abs(v) / math.sqrt(2)) for v in z])
    return slope, s, var, z, pval


def numpy_overlay(d_raw, i_raw, d_lo, d_hi, i_lo, i_hi):
    d = np.clip((d_raw - d_lo) / (d_hi - d_lo), 0, 1)
    i = np.clip((i_raw - i_lo) / (i_hi - i_lo), 0, 1)
    c = 0.5 * d + 0.5 * i
    dc = np.digitize(d, [1 / 3, 2 / 3]) + 1
    ic = np.digitize(i, [1 / 3, 2 / 3]) + 1
    grade = MATRIX[(ic - 1) * 3 + dc - 1]
    return grade, c


def step_baseline(path: str) -> dict:
    t0 = time.perf_counter()
    with rasterio.open(path) as src:
        stack = src.read().astype(np.float64) * 1e-4
        years = np.arange(2010, 2010 + src.count, dtype=np.float64)
    shape = stack.shape[1:]
    slope, *_ = numpy_trend(stack.reshape(stack.shape[0], -1), years)
    trend_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    # factors are float32 rasters in both (values exactly on a class break must agree)
    f32 = np.float32
    grade, _ = numpy_overlay(-slope.astype(f32).astype(np.float64),
                             stack[-1].ravel().astype(f32).astype(np.float64),
                             -0.02, 0.02, 0.2, 0.8)
    overlay_s = time.perf_counter() - t1
    return {"trend_s": trend_s, "overlay_s": overlay_s, "pixels": int(np.prod(shape)),
            "grade_counts": np.bincount(grade.astype(int), minlength=6).tolist()}


def step_ecorest(path: str, url: str) -> dict:
    from ecorest.etl.rasters import load_raster
    from ecorest.run import run_assessment

    tmp = Path(tempfile.mkdtemp(prefix="ecorest-bench-ident-"))
    name, dburl, conn = aligned_region_db(url, path)
    try:
        load_raster(conn, "bench", "ndvi", path, epoch_from="band", scale=0.0001,
                    show_progress=False)
        t0 = time.perf_counter()
        conn.execute("""
            create temp table trend as
            select t.tile_x, t.tile_y, raster.np_ndvi_trend(
                array_agg(t.rast::bytea order by c.epoch_date),
                array_agg(extract(year from c.epoch_date)::int order by c.epoch_date),
                array_agg(c.scale_factor order by c.epoch_date),
                array_agg(c.add_offset order by c.epoch_date), 'max', 8) as wkb
            from raster.catalog c join raster.tiles t using (catalog_id)
            where c.layer = 'ndvi' group by t.tile_x, t.tile_y""")
        trend_s = time.perf_counter() - t0
        conn.execute("""
            create temp table factors as
            select tile_x, tile_y, raster.np_physical(wkb, 1) as d,
                   raster.np_physical(wkb, 8) as i from trend""")
        t1 = time.perf_counter()
        counts = conn.execute("""
            select x.v1, sum(x.pixels) from (
              select st_rastfromwkb(raster.np_overlay(array[d, i], array[-0.02, 0.2],
                array[0.02, 0.8], array[-1, 1], array[1, 2], array[1.0, 1.0], 0.5,
                array[1/3.0, 2/3.0], array[1/3.0, 2/3.0], array[0.2, 0.4, 0.6, 0.8],
                array[5, 5, 3, 5, 3, 2, 4, 2, 1])) as r from factors) s
            cross join lateral raster.crosstab(null, s.r, null) x group by x.v1""").fetchall()
        overlay_s = time.perf_counter() - t1
        conn.commit()
        t2 = time.perf_counter()
        run_assessment(conn, dburl, "bench", work_dir=tmp / "dbt")
        run_s = time.perf_counter() - t2
        conn.close()
    finally:
        _drop(url, name)
    grade_counts = [0] * 6
    for g, n in counts:
        grade_counts[int(g)] = int(n)
    return {"trend_s": trend_s, "overlay_s": overlay_s, "run_s": run_s,
            "grade_counts": grade_counts,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


if __name__ == "__main__":
    step, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"baseline": step_baseline, "ecorest": step_ecorest}[step](**args)))
