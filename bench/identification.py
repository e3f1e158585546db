"""Identification benchmark: NDVI trend of a 10-epoch stack and the weighted overlay.

ecorest: the in-database kernels over the stored tiles (raster.np_ndvi_trend per tile
position; raster.np_overlay of two factor tiles into scores, classes and priority grades),
timed as the SQL that the dbt models run, and the whole `ecorest run`. Baseline: plain numpy
on the same values read with rasterio (Theil-Sen over all pairs, Mann-Kendall S with the ties
correction, Z, p; min-max normalisation, weighted scores, fixed breaks, matrix lookup).

The trend kernel alone, both of its paths (the compiled pass and the numpy path), in pair-slopes
per second per core (pixels x year pairs / the server process's CPU seconds):

    python -m bench.identification trend [--size 2500] [--repeat 3] [--dsn URL]
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from .load import _drop, aligned_region_db, bench_cluster_url, generate

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


TREND_SQL = """
    select t.tile_x, t.tile_y, raster.np_ndvi_trend(
        array_agg(t.rast::bytea order by c.epoch_date),
        array_agg(extract(year from c.epoch_date)::int order by c.epoch_date),
        array_agg(c.scale_factor order by c.epoch_date),
        array_agg(c.add_offset order by c.epoch_date), 'max', 8) as wkb
    from raster.catalog c join raster.tiles t using (catalog_id)
    where c.layer = 'ndvi' {where} group by t.tile_x, t.tile_y"""
#: the first tile position only (a session's first call, which compiles the pass)
ONE_TILE = """and (t.tile_x, t.tile_y) = (select tile_x, tile_y from raster.tiles
              join raster.catalog using (catalog_id) where layer = 'ndvi' limit 1)"""


def _backend_cpu_s(conn) -> float | None:
    """CPU seconds (user + system) of the connection's server process so far; None when the
    server is not on this machine."""
    host = conn.info.host or ""
    if not (host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")):
        return None
    try:
        fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return None
    utime, stime = fields.split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def trend_pairs(conn) -> tuple[int, int]:
    """(pixels with data in the first NDVI epoch, year pairs of a pixel) of the loaded stack;
    the padding of the edge tiles (no data, no pairs) is not counted."""
    pixels, years = conn.execute("""
        select sum(st_count(t.rast, 1, true)) filter (
                   where c.catalog_id = (select min(catalog_id) from raster.catalog
                                         where layer = 'ndvi')),
               count(distinct extract(year from c.epoch_date))
        from raster.catalog c join raster.tiles t using (catalog_id)
        where c.layer = 'ndvi'""").fetchone()
    return int(pixels), int(years) * (int(years) - 1) // 2


def _over(query: str, where: str):
    """A query over the trend kernel's rows (tile_x, tile_y, wkb) of the tiles `where` picks."""
    from psycopg import sql

    return sql.SQL(query).format(sql.SQL(TREND_SQL.format(where=where)))


def time_trend(conn, impl: str) -> dict:
    """The trend kernel over every tile position of the loaded stack in one statement (its
    output counted, not stored), in a session whose first call has already compiled the pass:
    wall and server CPU seconds."""
    conn.execute("select set_config('ecorest.trend_impl', %s, false)", (impl,))
    conn.execute(_over("select count(*) from ({}) s", ONE_TILE))
    cpu0, t0 = _backend_cpu_s(conn), time.perf_counter()
    conn.execute(_over("select sum(length(wkb)) from ({}) s", "")).fetchone()
    wall = time.perf_counter() - t0
    cpu1 = _backend_cpu_s(conn)
    return {"wall_s": wall, "cpu_s": None if cpu0 is None else cpu1 - cpu0}


def step_ecorest(path: str, url: str) -> dict:
    from ecorest.etl.rasters import load_raster
    from ecorest.run import run_assessment

    tmp = Path(tempfile.mkdtemp(prefix="ecorest-bench-ident-"))
    name, dburl, conn = aligned_region_db(url, path)
    try:
        load_raster(conn, "bench", "ndvi", path, epoch_from="band", scale=0.0001,
                    show_progress=False)
        # the first call of a session compiles the pass (timed apart); then both paths
        t0 = time.perf_counter()
        conn.execute(TREND_SQL.format(where=ONE_TILE))
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.execute("create temp table trend as " + TREND_SQL.format(where=""))
        trend_s = time.perf_counter() - t0
        fast = time_trend(conn, "auto")
        slow = time_trend(conn, "numpy")
        conn.execute("reset ecorest.trend_impl")
        pixels, pairs = trend_pairs(conn)
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
            "trend_first_call_s": first_s, "trend_kernel_s": fast["wall_s"],
            "trend_kernel_cpu_s": fast["cpu_s"], "trend_numpy_s": slow["wall_s"],
            "trend_numpy_cpu_s": slow["cpu_s"], "trend_pair_slopes": pixels * pairs,
            "grade_counts": grade_counts,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _rate(pairs: int, seconds: float | None) -> str:
    return "-" if not seconds else f"{pairs / seconds / 1e6:.1f}"


def trend_main(argv: list[str]) -> None:
    """The trend kernel alone on the generated 10-epoch NDVI stack: each path `repeat` times
    (alternating, one session each, the compile of the first call not counted), medians."""
    import argparse
    import statistics

    import psycopg

    from ecorest.etl.rasters import load_raster

    ap = argparse.ArgumentParser(prog="python -m bench.identification trend")
    ap.add_argument("--size", type=int, default=2500, help="edge of the NDVI stack in px")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--dsn", default=os.environ.get("ECOREST_DATABASE_URL"))
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ecorest-bench-trend-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.dsn or bench_cluster_url()
    path = str(generate(work, 64, args.size)["ndvi"])
    name, dburl, conn = aligned_region_db(url, path)
    try:
        load_raster(conn, "bench", "ndvi", path, epoch_from="band", scale=0.0001,
                    show_progress=False)
        conn.commit()
        pixels, pairs = trend_pairs(conn)
        total = pixels * pairs
        load_before = os.getloadavg()
        runs: dict[str, list[dict]] = {"auto": [], "numpy": []}
        first = []
        for _ in range(args.repeat):
            for impl in ("auto", "numpy"):
                with psycopg.connect(dburl) as c:
                    t0 = time.perf_counter()
                    c.execute("select set_config('ecorest.trend_impl', %s, false)", (impl,))
                    c.execute(TREND_SQL.format(where=ONE_TILE))
                    if impl == "auto":
                        first.append(time.perf_counter() - t0)
                    runs[impl].append(time_trend(c, impl))
        load_after = os.getloadavg()
        digests = {}
        with psycopg.connect(dburl) as c:
            for impl in ("auto", "numpy"):
                c.execute("select set_config('ecorest.trend_impl', %s, false)", (impl,))
                digests[impl] = c.execute(_over("select tile_x, tile_y, md5(wkb) from ({}) s",
                                                "")).fetchall()
        differ = len(set(digests["auto"]) ^ set(digests["numpy"])) // 2
    finally:
        conn.close()
        _drop(url, name)
    print(f"NDVI trend kernel, 10 x {args.size}² stack ({pixels / 1e6:.2f} Mpx, {pairs} year "
          f"pairs a pixel: {total / 1e6:.0f} M pair-slopes), {args.repeat} runs a path, "
          f"medians; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"  {'path':28} {'wall s':>8} {'CPU s':>8} {'M pair-slopes/s per core':>25} "
          f"{'(per wall s)':>13}")
    for impl, label in (("auto", "compiled pass (numba)"), ("numpy", "numpy path")):
        wall = statistics.median(r["wall_s"] for r in runs[impl])
        cpus = [r["cpu_s"] for r in runs[impl] if r["cpu_s"] is not None]
        cpu = statistics.median(cpus) if cpus else None
        print(f"  {label:28} {wall:8.2f} {cpu if cpu is not None else float('nan'):8.2f} "
              f"{_rate(total, cpu):>25} {_rate(total, wall):>13}")
    print(f"  first call of a session (numba import + compile, one tile): median "
          f"{statistics.median(first):.2f} s; tiles whose output differs between the paths: "
          f"{differ}")


if __name__ == "__main__":
    if sys.argv[1] == "trend":
        trend_main(sys.argv[2:])
    else:
        step, args = sys.argv[1], json.loads(sys.argv[2])
        print(json.dumps({"baseline": step_baseline, "ecorest": step_ecorest}[step](**args)))
