"""Restoration-area identification: NDVI trend, slope, weights, grading, patches, accuracy.

Every figure is checked against an independent computation (pymannkendall, numpy) or a
published worked example (Saaty 2008; Olofsson et al. 2014), or worked out by hand below.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import psycopg
import pymannkendall as mk
import pytest
import rasterio
from psycopg import sql

from ecorest.errors import RunError
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.etl.vector_loads import load_samples
from ecorest.run import run_assessment
from helpers import SAMPLE, footprint, write_raster

VHP = sorted((SAMPLE / "vhp_ndvi_annual_global_1982_2023").glob("VHP_SMN_annual_ndvi_*.tif"))
GIMMS = SAMPLE / "gimms_ndvi3g_monthly_alaska_1982_2011" / "ndvimap_gimms3g_monthly_1982_2011.tif"
DEM = SAMPLE / "invest_willamette" / "dem_30m.tif"


def _box(path: Path, lon0: float, lat0: float, lon1: float, lat1: float) -> Path:
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [[
        [lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]}))
    return path


def _table(name: str) -> sql.Composable:
    schema, table = name.split(".") if "." in name else (None, name)
    return sql.Identifier(schema, table) if schema else sql.Identifier(table)


def _band_values(conn, table: str, bands: list[int],
                 points: list[tuple[float, float]]) -> np.ndarray:
    """Values of the given bands of a tile table at points (grid CRS), one row per point."""
    xs, ys = zip(*points, strict=True)
    rows = conn.execute(sql.SQL(
        "select p.i, b.band, st_value(t.rast, b.band, st_setsrid(st_point(p.x, p.y), "
        "st_srid(t.rast))) from unnest(%s::float8[], %s::float8[]) with ordinality "
        "as p(x, y, i) cross join unnest(%s::int[]) as b(band) join {} as t "
        "on st_intersects(t.rast, st_setsrid(st_point(p.x, p.y), st_srid(t.rast)))"
    ).format(_table(table)), (list(xs), list(ys), bands)).fetchall()
    out = np.full((len(points), len(bands)), np.nan)
    for i, band, v in rows:
        out[i - 1, bands.index(band)] = np.nan if v is None else v
    return out


def _on_file_grid(conn, table: str | sql.Composable, band: int, transform,
                  shape) -> np.ndarray:
    """Band `band` of a tile table (name or composed query), mosaicked and placed on the grid
    of a file (same pixel size; NaN where the table has no data)."""
    source = _table(table) if isinstance(table, str) else table
    ulx, uly, vals = conn.execute(sql.SQL(
        "select st_upperleftx(u), st_upperlefty(u), st_dumpvalues(u, 1) from "
        "(select st_union(rast, %s) u from {}) s").format(source), (band,)).fetchone()
    a = np.array(vals, dtype=float)
    r0 = round((uly - transform.f) / transform.e)
    c0 = round((ulx - transform.c) / transform.a)
    out = np.full(shape, np.nan)
    rs, cs = max(0, -r0), max(0, -c0)
    rd, cd = max(0, r0), max(0, c0)
    h = min(shape[0] - rd, a.shape[0] - rs)
    w = min(shape[1] - cd, a.shape[1] - cs)
    out[rd:rd + h, cd:cd + w] = a[rs:rs + h, cs:cs + w]
    return out


def stored_ndvi(x: np.ndarray) -> np.ndarray:
    """NDVI as ecorest stores it: 16-bit integers of 1e-4 (the MODIS convention; the file's
    float32 values divided in float32 and rounded), read back as integer x 1e-4. Quantising
    creates ties, which the Var(S) correction must handle."""
    return np.round(np.asarray(x, dtype=np.float32) / np.float32(1e-4)).astype(np.float64) * 1e-4


def _compare_with_pymannkendall(series: np.ndarray, got: np.ndarray) -> None:
    """series: (pixels, years) as stored; got: bands Sen slope, S, Var(S), Z, p per pixel."""
    for x, (slope, s, var, z, p) in zip(series, got, strict=True):
        want = mk.original_test(x)
        assert slope == pytest.approx(want.slope, rel=1e-5, abs=1e-9)
        assert s == want.s
        assert var == pytest.approx(want.var_s, rel=1e-6)
        assert z == pytest.approx(want.z, rel=1e-5, abs=1e-9)
        assert p == pytest.approx(want.p, rel=1e-4, abs=1e-9)


# ------------------------------------------------------------------------------------------------
# NDVI trend
# ------------------------------------------------------------------------------------------------
def test_ndvi_trend_equals_pymannkendall_on_vhp_annual(db_url: str, tmp_path: Path) -> None:
    """42 years (1982-2023) of NOAA VHP annual NDVI over China's bounding box, through
    `ecorest run`: Sen slope, S, Var(S), Z and p equal pymannkendall on the original values."""
    with rasterio.open(VHP[0]) as src:
        stack = np.stack([rasterio.open(p).read(1) for p in VHP])
        transform = src.transform
    with psycopg.connect(db_url) as conn:
        create_region(conn, "china", _box(tmp_path / "cn.geojson", 73, 18, 135, 54),
                      align_to=str(VHP[0]))
        for p in VHP:
            load_raster(conn, "china", "ndvi", p, epoch_from="filename", show_progress=False)
        run_id = run_assessment(conn, db_url, "china", work_dir=tmp_path / "dbt")
        # pixels of the original grid with a full series, inside the region grid
        srid_grid = conn.execute("select st_srid(rast) from intermediate.int_ndvi_trend_tiles "
                                 "limit 1").fetchone()[0]
        assert srid_grid > 0
        ext = conn.execute("select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e) from "
                           "(select st_extent(st_envelope(rast))::geometry e "
                           "from intermediate.int_ndvi_trend_tiles) s").fetchone()
        full = np.isfinite(stack).all(axis=0)
        rows, cols = np.nonzero(full)
        xs, ys = transform @ (cols + 0.5, rows + 0.5)
        inside = (xs > ext[0]) & (xs < ext[2]) & (ys > ext[1]) & (ys < ext[3])
        rng = np.random.default_rng(7)
        pick = rng.choice(np.nonzero(inside)[0], size=min(300, inside.sum()), replace=False)
        got = _band_values(conn, "intermediate.int_ndvi_trend_tiles", [1, 2, 3, 4, 5, 6, 7],
                           list(zip(xs[pick], ys[pick], strict=True)))
        # pixels of the grid's rectangle outside the region boundary hold no data
        kept = np.isfinite(got[:, 5])
        pick, got = pick[kept], got[kept]
        shares = conn.execute("select sum(share_pct) from marts.ndvi_trends "
                              "where run_id = %s and zone_set = 'region'",
                              (run_id,)).fetchone()[0]
    assert len(pick) > 100
    series = stored_ndvi(stack[:, rows[pick], cols[pick]].T)
    _compare_with_pymannkendall(series, got[:, :5])
    assert (got[:, 5] == 42).all()
    # trend classes from slope and p (stable band 0.0005/yr, alpha 0.05, NDVI >= 0.1)
    for (slope, *_, p, _n, cls), x in zip(got, series, strict=True):
        if x.mean() < 0.1:
            assert cls == 6
        elif abs(slope) < 0.0005:
            assert cls == 3
        else:
            assert cls == (5 if slope > 0 else 1) if p < 0.05 else (4 if slope > 0 else 2)
    assert shares == pytest.approx(100.0)


def test_ndvi_trend_gimms_monthly_reduced_to_annual_means(conn: psycopg.Connection,
                                                          tmp_path: Path) -> None:
    """GIMMS NDVI3g monthly 1982-2011 (360 bands, warped to Alaska Albers 5 km) reduced to 30
    annual means inside the kernel: the trend equals pymannkendall on numpy annual means of
    the 360 stored monthly values of the same pixels."""
    boundary = _box(tmp_path / "ak.geojson", -152.9, 66.35, -151.0, 68.7)
    create_region(conn, "alaska", boundary, crs="EPSG:3338", pixel_size=5000)
    load_raster(conn, "alaska", "ndvi", GIMMS, epoch_from="band", show_progress=False)
    conn.execute("""
        create temp table trend as
        select t.tile_x, t.tile_y, st_rastfromwkb(raster.np_ndvi_trend(
            array_agg(t.rast::bytea order by c.epoch_date),
            array_agg(extract(year from c.epoch_date)::int order by c.epoch_date),
            array_agg(c.scale_factor order by c.epoch_date),
            array_agg(c.add_offset order by c.epoch_date), 'mean', 8)) as rast
        from raster.catalog c join raster.tiles t using (catalog_id)
        where c.layer = 'ndvi' group by t.tile_x, t.tile_y""")
    centres = conn.execute(
        "select st_x(p.geom), st_y(p.geom) from trend, "
        "st_pixelascentroids(rast, 6) p where p.val = 30 order by p.x, p.y").fetchall()
    pick = [centres[i] for i in np.random.default_rng(3).choice(len(centres), 120,
                                                                replace=False)]
    monthly = np.full((len(pick), 360), np.nan)
    for i, month, v in conn.execute(
            "select p.i, row_number() over (partition by p.i order by c.epoch_date), "
            "st_value(t.rast, 1, st_setsrid(st_point(p.x, p.y), st_srid(t.rast))) "
            "* c.scale_factor + c.add_offset "
            "from unnest(%s::float8[], %s::float8[]) with ordinality as p(x, y, i) "
            "cross join raster.catalog c join raster.tiles t using (catalog_id) "
            "where c.layer = 'ndvi' and st_intersects(t.rast, st_setsrid(st_point(p.x, p.y), "
            "st_srid(t.rast)))", ([x for x, _ in pick], [y for _, y in pick])):
        monthly[i - 1, month - 1] = np.nan if v is None else v
    # rounded to 1e-9 as the kernel does: means equal in exact arithmetic are ties
    annual = np.round(np.nanmean(monthly.reshape(len(pick), 30, 12), axis=2), 9)
    got = _band_values(conn, "trend", [1, 2, 3, 4, 5, 6], pick)
    assert len(centres) > 200
    assert (got[:, 5] == 30).all()
    _compare_with_pymannkendall(annual, got[:, :5])


def test_trend_ties_missing_years_and_too_short_series(conn: psycopg.Connection) -> None:
    """Hand-made series in one tile: ties change Var(S) exactly as the textbook formula, a
    missing year is skipped (slopes use the real years), fewer than min_years is class 0."""
    conn.execute("select raster.np_kernels_loaded()")
    years = list(range(2001, 2011))
    px = [
        [0.3, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5, 0.5, 0.5, 0.6],   # ties: groups of 3, 2, 4
        [0.5, 0.48, np.nan, 0.46, 0.45, 0.44, 0.43, 0.42, 0.41, 0.40],  # 2003 missing
        [0.5, 0.6, np.nan, np.nan, np.nan, np.nan, np.nan, 0.7, 0.8, 0.9],  # 5 valid years
    ]
    tiles = []
    for k in range(10):
        band = np.array([[p[k] for p in px]], dtype=np.float32)
        tiles.append(conn.execute(
            "select st_setvalues(st_addband(st_makeemptyraster(3, 1, 0, 10, 1, -1, 0, 0, 0),"
            "'32BF', 'NaN'::float8, -9999), 1, 1, 1, %s::float8[][])::bytea",
            ([[None if np.isnan(v) else float(v) for v in band[0]]],)).fetchone()[0])
    out = conn.execute(
        "select st_dumpvalues(r, 2), st_dumpvalues(r, 3), st_dumpvalues(r, 1), "
        "st_dumpvalues(r, 6), st_dumpvalues(r, 7) from (select st_rastfromwkb("
        "raster.np_ndvi_trend(%s::bytea[], %s::int[], %s::float8[], %s::float8[], "
        "'max', 8)) r) s", (tiles, years, [1.0] * 10, [0.0] * 10)).fetchone()
    s, var, slope, n, cls = (np.array(o[0], dtype=float) for o in out)
    # series 1: non-decreasing, so S = 45 pairs - 10 tied pairs (3 + 1 + 6) = 35;
    # Var(S) = [10·9·25 - (3·2·11 + 2·1·9 + 4·3·13)] / 18
    assert s[0] == 35
    assert var[0] == pytest.approx((10 * 9 * 25 - (3 * 2 * 11 + 2 * 1 * 9 + 4 * 3 * 13)) / 18)
    # series 2: 9 valid years, strictly falling: S = -36; slopes per real year -> median -0.01
    assert s[1] == -36 and n[1] == 9
    assert slope[1] == pytest.approx(-0.01, abs=1e-6)
    assert var[1] == pytest.approx(9 * 8 * 23 / 18)
    # series 3: five valid years < 8: marked, not guessed
    assert cls[2] == 0 and np.isnan(slope[2])


# ------------------------------------------------------------------------------------------------
# slope
# ------------------------------------------------------------------------------------------------
def horn_slope(z: np.ndarray, res: float) -> np.ndarray:
    """Slope in degrees by Horn (1981) on interior pixels (NaN on the edge)."""
    out = np.full(z.shape, np.nan)
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    p = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * res)
    q = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * res)
    out[1:-1, 1:-1] = np.degrees(np.arctan(np.hypot(p, q)))
    return out


@pytest.mark.slow
def test_slope_on_a_plane_and_on_the_real_dem(db_url: str, tmp_path: Path) -> None:
    """A plane z = 0.1 x + 0.05 y has slope atan(0.1118) = 6.379 deg everywhere, across tile
    borders (16-px tiles) and on the grid's edge; on the Willamette 30 m DEM the kernel equals
    numpy Horn on interior pixels."""
    cols, rows = np.meshgrid(np.arange(40) * 30.0, np.arange(40) * 30.0)
    plane = (0.1 * cols - 0.05 * rows + 100).astype(np.float32)
    path = write_raster(tmp_path / "plane.tif", plane, nodata=-9999)
    with psycopg.connect(db_url) as conn:
        create_region(conn, "plane", footprint(tmp_path, path), align_to=str(path),
                      allow_non_equal_area=True, tile_size=16)
        load_raster(conn, "plane", "dem", path, epoch="2000", show_progress=False)
        run_assessment(conn, db_url, "plane", work_dir=tmp_path / "dbt")
        with rasterio.open(path) as src:
            got = _on_file_grid(conn, "intermediate.int_slope_tiles", 1, src.transform,
                                plane.shape)
        classes = conn.execute("select array_agg(distinct v) from intermediate.int_slope_tiles, "
                               "unnest(st_dumpvalues(rast, 2)) v where v is not null").fetchone()[0]
    want = math.degrees(math.atan(math.hypot(0.1, 0.05)))
    # every pixel: tile borders from the neighbouring tiles, the grid's edge extrapolated on
    # the plane
    assert np.allclose(got, want, atol=1e-4)
    assert classes == [2.0]                                 # 5-15 degrees

    with rasterio.open(DEM) as src:
        z = src.read(1).astype(np.float64)
        res = src.res[0]
        valid = src.read_masks(1) > 0
        transform = src.transform
    want = horn_slope(np.where(valid, z, np.nan), res)
    with psycopg.connect(db_url) as conn:
        create_region(conn, "dem", footprint(tmp_path, DEM), align_to=str(DEM),
                      allow_non_equal_area=True)
        load_raster(conn, "dem", "dem", DEM, epoch="2000", show_progress=False)
        run_assessment(conn, db_url, "dem", work_dir=tmp_path / "dbt2")
        got = _on_file_grid(conn, "intermediate.int_slope_tiles", 1, transform, z.shape)
    both = np.isfinite(want) & np.isfinite(got)
    assert both.sum() > 0.9 * np.isfinite(want).sum()
    assert np.abs(got[both] - want[both]).max() < 1e-3


# ------------------------------------------------------------------------------------------------
# weights, breaks, accuracy (published examples)
# ------------------------------------------------------------------------------------------------
DRINKS = [[1, 9, 5, 2, 1, 1, 1 / 2], [1 / 9, 1, 1 / 3, 1 / 9, 1 / 9, 1 / 9, 1 / 9],
          [1 / 5, 3, 1, 1 / 3, 1 / 4, 1 / 3, 1 / 9], [1 / 2, 9, 3, 1, 1 / 2, 1, 1 / 3],
          [1, 9, 4, 2, 1, 2, 1 / 2], [1, 9, 3, 1, 1 / 2, 1, 1 / 3], [2, 9, 9, 3, 2, 3, 1]]


def test_ahp_reproduces_saatys_drinks_example(conn: psycopg.Connection) -> None:
    """Saaty (2008, Int. J. Services Sciences 1:83), relative consumption of drinks in the US:
    weights .177 .019 .042 .116 .190 .129 .327 and CR 0.022."""
    w, cr = conn.execute("select weights, cr from ident.ahp(%s::float8[], 7)",
                         ([float(v) for row in DRINKS for v in row],)).fetchone()
    assert [round(x, 3) for x in w] == [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]
    assert round(cr, 3) == 0.022


def test_ahp_refuses_a_non_reciprocal_matrix(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.Error, match="not reciprocal"):
        conn.execute("select ident.ahp(array[1, 3, 3, 1]::float8[], 2)")


def test_olofsson_2014_worked_example(conn: psycopg.Connection) -> None:
    """Olofsson et al. (2014) §5 (Tables 8-9): four strata of a change map, 644 samples."""
    rows = conn.execute(
        "select * from ident.olofsson(%s::float8[], array[1, 2, 3, 4], "
        "array[200000, 150000, 3200000, 6450000]::float8[])",
        ([float(n) for n in (66, 0, 5, 4, 0, 55, 8, 12, 1, 0, 153, 11, 2, 1, 9, 313)],)).fetchall()
    ha = 0.09  # 30 m pixels
    ua = [round(r[3], 2) for r in rows]
    ua_ci = [round(r[4], 2) for r in rows]
    pa = [round(r[5], 2) for r in rows]
    area = [round(r[8] * ha) for r in rows]
    area_ci = [round(r[9] * ha) for r in rows]
    assert ua == [0.88, 0.73, 0.93, 0.96]
    assert ua_ci == [0.07, 0.10, 0.04, 0.02]
    assert pa == [0.75, 0.85, 0.93, 0.96]
    assert round(rows[0][6], 2) == 0.21 and round(rows[2][6], 2) == 0.03
    assert area == [21158, 11686, 285770, 581386]
    assert area_ci == [6158, 3756, 15510, 16282]
    assert round(rows[0][10], 2) == 0.95 and round(rows[0][11], 2) == 0.02


def test_kappa_by_hand(conn: psycopg.Connection) -> None:
    # 100 samples [[45, 5], [10, 40]]: po = 0.85, pe = (50·55 + 50·45)/100² = 0.5, kappa 0.7
    row = conn.execute("select sample_overall_accuracy, kappa from ident.olofsson("
                       "array[45, 5, 10, 40]::float8[], array[1, 2], array[1, 1]::float8[]) "
                       "limit 1").fetchone()
    assert row == (pytest.approx(0.85), pytest.approx(0.7))


def test_natural_breaks_and_quantiles_of_a_histogram(conn: psycopg.Connection) -> None:
    # three clusters at 0.1, 0.5 and 0.9 (100 bins over 0..1): Jenks puts the breaks between them
    counts = [0] * 100
    for centre in (10, 11, 12, 50, 51, 52, 88, 89, 90):
        counts[centre] = 10
    breaks = conn.execute("select ident.histogram_breaks(%s::bigint[], 0, 1, 3, "
                          "'natural_breaks')", (counts,)).fetchone()[0]
    assert 0.13 < breaks[0] < 0.50 and 0.53 < breaks[1] < 0.88
    # uniform histogram: the quartiles are 0.25, 0.5, 0.75
    q = [conn.execute("select ident.histogram_quantile(%s::bigint[], 0, 1, %s)",
                      ([5] * 100, x)).fetchone()[0] for x in (0.25, 0.5, 0.75)]
    assert q == [pytest.approx(0.25), pytest.approx(0.5), pytest.approx(0.75)]


# ------------------------------------------------------------------------------------------------
# the whole identification on a hand-made region
# ------------------------------------------------------------------------------------------------
def quadrant_region(conn, tmp_path: Path, weights_csv: str) -> None:
    """64 x 64 px (30 m, 16-px tiles): factor_erosion (degradation) 10 in the east half, 0 in
    the west; factor_habitat (importance) 100 in the north half, 0 in the south; one eroded
    pixel in the south-west."""
    erosion = np.zeros((64, 64), np.float32)
    erosion[:, 32:] = 10
    erosion[50, 5] = 10
    habitat = np.zeros((64, 64), np.float32)
    habitat[:32, :] = 100
    e = write_raster(tmp_path / "erosion.tif", erosion, nodata=-9999)
    h = write_raster(tmp_path / "habitat.tif", habitat, nodata=-9999)
    create_region(conn, "quad", footprint(tmp_path, e), align_to=str(e),
                  allow_non_equal_area=True, tile_size=16)
    load_raster(conn, "quad", "factor_erosion", e, epoch="2020", show_progress=False)
    load_raster(conn, "quad", "factor_habitat", h, epoch="2020", show_progress=False)
    w = tmp_path / "weights.csv"
    w.write_text(weights_csv)
    load_params(conn, w, name="quad weights", kind="weights", source_text="test")


WEIGHTS = ("parameter,stratum,value,unit\n"
           "degradation_weight,factor_erosion,1,1\n"
           "importance_weight,factor_habitat,1,1\n")


def test_quadrants_give_the_grades_of_the_matrix(db_url: str, tmp_path: Path) -> None:
    """D = 1 east / 0 west, I = 1 north / 0 south; fixed breaks 1/3, 2/3 and the matrix give
    NE priority restoration (1), NW protection (4), SE improvement (3), SW general (5)."""
    from pyproj import Transformer

    with psycopg.connect(db_url) as conn:
        quadrant_region(conn, tmp_path, WEIGHTS)
        # reference samples: 3 of 4 in NE are grade 1 (one is 4); 2 each elsewhere, all right
        to_ll = Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True)
        pts = [("ne1", 40, 5, 1), ("ne2", 50, 10, 1), ("ne3", 60, 20, 1), ("ne4", 45, 25, 4),
               ("nw1", 5, 5, 4), ("nw2", 20, 20, 4), ("se1", 40, 40, 3), ("se2", 60, 60, 3),
               ("sw1", 5, 40, 5), ("sw2", 20, 60, 5)]
        lines = ["sample_id,lon,lat,reference_grade"]
        for sid, c, r, g in pts:
            lon, lat = to_ll.transform(450_000 + c * 30 + 15, 4_950_000 - r * 30 - 15)
            lines.append(f"{sid},{lon},{lat},{g}")
        (tmp_path / "samples.csv").write_text("\n".join(lines) + "\n")
        load_samples(conn, "quad", tmp_path / "samples.csv")
        run_id = run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        with rasterio.open(tmp_path / "erosion.tif") as src:
            grid = _on_file_grid(conn, sql.SQL(
                "(select rast from marts.priority_tiles where run_id = {}) as p").format(
                sql.Literal(run_id)), 1, src.transform, (64, 64))
        zone = conn.execute(
            "select assessed_ha, priority_restoration_ha, restoration_ha, improvement_ha, "
            "protection_ha, general_ha, top_factors from marts.zone_scores "
            "where run_id = %s and zone_set = 'region'", (run_id,)).fetchone()
        patches = conn.execute(
            "select grade, area_ha, mean_degradation, mean_importance, "
            "st_geometrytype(geom), st_srid(geom) from marts.restoration_patches "
            "where run_id = %s order by grade", (run_id,)).fetchall()
        acc = conn.execute(
            "select grade, users_accuracy, overall_accuracy, sample_overall_accuracy, kappa, "
            "passes_gate, total_samples from marts.identification_accuracy "
            "where run_id = %s order by grade", (run_id,)).fetchall()
        weights = dict(conn.execute("select factor, weight from marts.factor_summaries "
                                    "where run_id = %s", (run_id,)).fetchall())
        entropy = dict(conn.execute("select factor, entropy from marts.factor_summaries "
                                    "where run_id = %s", (run_id,)).fetchall())
        qgis = conn.execute(
            "select type, srid from geometry_columns where f_table_schema = 'marts' "
            "and f_table_name = 'restoration_patches'").fetchone()
        pk = conn.execute("select count(*) from pg_constraint where contype = 'p' and "
                          "conrelid = 'marts.restoration_patches'::regclass").fetchone()[0]
    assert weights == {"factor_erosion": 1.0, "factor_habitat": 1.0}
    # entropy of m pixels of which k are 1 and the rest 0: e = ln k / ln m (from the 1000-bin
    # histogram, hence the tolerance)
    assert entropy["factor_erosion"] == pytest.approx(math.log(2049) / math.log(4096), rel=1e-3)
    assert entropy["factor_habitat"] == pytest.approx(math.log(2048) / math.log(4096), rel=1e-3)
    assert (grid[:32, 32:] == 1).all() and (grid[:32, :32] == 4).all()
    assert (grid[32:, 32:] == 3).all() and grid[50, 5] == 3
    assert (grid[32:, :32] == 5).sum() == 32 * 32 - 1
    q = 32 * 32 * 0.09
    assert zone[:6] == pytest.approx((64 * 64 * 0.09, q, 0, q + 0.09, q, q - 0.09))
    assert zone[6] == "factor_erosion, factor_habitat"  # 2 049 eroded pixels vs 2 048
    # one patch per quadrant across four tiles; the lone eroded pixel (0.09 ha) is too small
    assert patches == [(1, pytest.approx(q), pytest.approx(1), pytest.approx(1),
                        "ST_MultiPolygon", 4326),
                       (3, pytest.approx(q), pytest.approx(1), pytest.approx(0),
                        "ST_MultiPolygon", 4326)]
    assert qgis == ("MULTIPOLYGON", 4326) and pk == 1
    # accuracy by hand: OA = 1 - W_NE x (1 - 3/4) with W_NE = 1/4; sample OA 9/10;
    # kappa = (0.9 - 0.26) / (1 - 0.26) (rows 4,2,2,2; columns 3,2,3,2)
    by_grade = {g: r for g, *r in acc}
    assert by_grade[1][0] == pytest.approx(0.75)
    assert by_grade[1][1] == pytest.approx(1 - 0.25 * 0.25)
    assert by_grade[1][2:] == [pytest.approx(0.9), pytest.approx(0.64 / 0.74), True, 10]


@pytest.mark.slow
def test_inconsistent_ahp_judgements_are_refused(db_url: str, tmp_path: Path) -> None:
    """Three degradation factors judged a > b (9), b > c (9), c > a (9): CR far above 0.1, the
    run fails naming the AHP check and earlier results stay."""
    with psycopg.connect(db_url) as conn:
        quadrant_region(conn, tmp_path, WEIGHTS)
        first = run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        before = conn.execute("select count(*) from marts.priority_tiles where run_id = %s",
                              (first,)).fetchone()[0]
        extra = write_raster(tmp_path / "slide.tif", np.ones((64, 64), np.float32), nodata=-9999)
        load_raster(conn, "quad", "factor_slide", extra, epoch="2020", show_progress=False)
        w = tmp_path / "weights2.csv"
        w.write_text(WEIGHTS + "degradation_weight,factor_slide,1,1\n"
                     "degradation_weight,factor_habitat2,1,1\n"
                     "ahp_pairwise,factor_erosion>factor_slide,9,1\n"
                     "ahp_pairwise,factor_slide>factor_habitat2,9,1\n"
                     "ahp_pairwise,factor_habitat2>factor_erosion,9,1\n")
        h2 = write_raster(tmp_path / "h2.tif", np.ones((64, 64), np.float32) * 2, nodata=-9999)
        load_raster(conn, "quad", "factor_habitat2", h2, epoch="2020", show_progress=False)
        load_params(conn, w, name="quad weights", kind="weights", source_text="test")
        with pytest.raises(RunError, match="assert_ahp_consistent"):
            run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        runs = conn.execute("select status, count(*) from etl.assessment_runs group by 1 "
                            "order by 1").fetchall()
        kept = conn.execute("select count(*) from marts.priority_tiles").fetchone()[0]
    assert runs == [("failed", 1), ("succeeded", 1)]
    assert kept == before > 0


def test_unusable_identification_parameters_fail_the_run_naming_the_rule(db_url: str,
                                                                        tmp_path: Path) -> None:
    """A pairwise judgement written 'a-b' (not 'a>b') would otherwise be ignored silently. The
    loader refuses it ([rule params.ahp]); a set that got one by other means (SQL, an older
    version of ecorest) is still refused when the run starts."""
    with psycopg.connect(db_url) as conn:
        quadrant_region(conn, tmp_path, WEIGHTS)
        conn.execute("insert into registry.parameter_values (parameter_set_id, parameter, "
                     "stratum, value, unit) select parameter_set_id, 'ahp_pairwise', "
                     "'factor_erosion-factor_slide', 3, '1' from registry.parameter_sets "
                     "where name = 'quad weights'")
        conn.commit()
        with pytest.raises(RunError, match="assert_identification_parameters_are_valid"):
            run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        status, message = conn.execute("select status, message "
                                       "from etl.assessment_runs").fetchone()
        rows = conn.execute("select parameter_set, stratum, problem from intermediate."
                            "assert_identification_parameters_are_valid").fetchall()
    assert status == "failed" and "assert_identification_parameters_are_valid" in message
    assert "the rows at fault are stored in" in message
    assert rows == [("quad weights v1", "factor_erosion-factor_slide",
                     "write the pair as factor_a>factor_b")]
