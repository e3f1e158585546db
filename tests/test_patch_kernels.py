"""The per-tile kernels of the restoration patches (raster.np_patch_parts, np_patch_raster).

The parts of a tile are checked against a plain flood fill written in the test
(test_speed_patches.flood_fill): numbering in raster order of each part's first pixel, grade,
pixels, band sums and the tile-border keys; the same with scipy's labelling and with the numpy
one (ecorest.label_impl = 'numpy'); the parts left out for their size are exactly the small
ones touching no tile border. The query shape of int_patch_parts is planned in parallel
workers under the session options of dbt and gives the serial rows.
"""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from test_speed_patches import flood_fill

from ecorest.wkb import GeoTransform, decode_band, encode

H, W = 40, 48
ULX, ULY, PX = 300.0, 600.0, 30.0         # first pixel: grid row -20, column 10
OFF = 1 << 29


def _tile(seed: int) -> tuple[np.ndarray, list[np.ndarray], bytes]:
    """Grades 1..5 in blocks with speckle (0 and nodata here and there) and two value bands,
    the second with nodata and NaN; returns (grades, bands as float64 with NaN, WKB)."""
    rng = np.random.default_rng(seed)
    grade = np.kron(rng.integers(1, 6, size=(5, 6)), np.ones((8, 8), int)).astype(float)
    speckle = rng.random((H, W)) < 0.2
    grade[speckle] = rng.integers(0, 6, size=int(speckle.sum()))
    grade[rng.random((H, W)) < 0.03] = np.nan
    x = rng.random((H, W)) * 10
    y = rng.random((H, W))
    y[rng.random((H, W)) < 0.1] = np.nan
    bands = [grade, x, y]
    wkb = encode([np.where(np.isnan(b), -9999, b).astype(np.float32) for b in bands], "32BF",
                 -9999, GeoTransform.north_up(ULX, ULY, PX), 32610)
    return grade, [decode_band(wkb, b)[0] for b in (1, 2, 3)], wkb


def _expected(grade: np.ndarray, bands: list[np.ndarray], max_grade: int) -> list[tuple]:
    """(part, grade, pixels, band pixels, band sums, sorted border keys) of every part, from
    the flood fill: parts in raster order of their first pixel (flood_fill's scan order)."""
    g = np.where(np.isnan(grade), 0, grade).astype(int)
    r0, c0 = round(ULY / -PX), round(ULX / PX)

    def key(r: int, c: int, d: int) -> int:
        return ((r + OFF) << 33) | ((c + OFF) << 1) | d

    out = []
    for no, (gr, pix) in enumerate(flood_fill(g, max_grade), start=1):
        rows, cols = np.array(pix).T
        vals = [b[rows, cols] for b in bands]
        keys = []
        for r, c in pix:
            if c == W - 1:
                keys.append(key(r0 + r, c0 + W - 1, 0))
            if c == 0:
                keys.append(key(r0 + r, c0 - 1, 0))
            if r == H - 1:
                keys.append(key(r0 + H - 1, c0 + c, 1))
            if r == 0:
                keys.append(key(r0 - 1, c0 + c, 1))
        out.append((no, gr, len(pix), [int(np.isfinite(v).sum()) for v in vals],
                    [float(np.nansum(v)) for v in vals], sorted(keys)))
    return out


def _parts(conn: psycopg.Connection, wkb: bytes, pixel_ha: float | None = None,
           min_ha: float | None = None) -> list[tuple]:
    rows = conn.execute("select part, grade, pixels, band_pixels, band_totals, edge_keys "
                        "from raster.np_patch_parts(%s, 3, %s, %s) order by part",
                        (wkb, pixel_ha, min_ha)).fetchall()
    return [(p, g, n, bp, bt, sorted(k or [])) for p, g, n, bp, bt, k in rows]


def _same(got: list[tuple], want: list[tuple]) -> None:
    assert [r[:4] + r[5:] for r in got] == [r[:4] + r[5:] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g[4] == pytest.approx(w[4], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("impl", ["auto", "numpy"])
def test_patch_parts_equal_a_flood_fill(conn: psycopg.Connection, impl: str) -> None:
    conn.execute(f"set ecorest.label_impl = '{impl}'")
    for seed in (1, 2, 3):
        grade, bands, wkb = _tile(seed)
        want = _expected(grade, bands, 3)
        assert len(want) > 40 and any(not k for *_, k in want)   # inner parts too
        got = _parts(conn, wkb)
        _same(got, want)
        # with a minimum area: the parts touching no tile border and smaller than it go,
        # every other part stays with the same number and sums (0.09 ha a pixel: >= 4 px)
        kept = [w for w in want if w[5] or w[2] * 0.09 >= 0.36 * 0.999]
        assert 0 < len(kept) < len(want)
        _same(_parts(conn, wkb, 0.09, 0.36 * 0.999), kept)


def test_label_impl_is_checked(conn: psycopg.Connection) -> None:
    conn.execute("set ecorest.label_impl = 'fast'")
    with pytest.raises(psycopg.Error, match="label_impl"):
        _parts(conn, _tile(1)[2])


def test_patch_raster_paints_the_parts_of_the_same_numbering(conn: psycopg.Connection) -> None:
    grade, bands, wkb = _tile(2)
    want = _expected(grade, bands, 3)
    g = np.where(np.isnan(grade), 0, grade).astype(int)
    pieces = flood_fill(g, 3)
    chosen = [p for p in range(1, len(want) + 1) if p % 3 == 0]
    codes = [1000 + p for p in chosen]
    for impl in ("auto", "numpy"):
        conn.execute(f"set ecorest.label_impl = '{impl}'")
        blob, = conn.execute("select raster.np_patch_raster(%s, 3, %s, %s)",
                             (wkb, chosen, codes)).fetchone()
        painted, _ = decode_band(bytes(blob))
        expect = np.full((H, W), np.nan)
        for p, code in zip(chosen, codes, strict=True):
            rows, cols = np.array(pieces[p - 1][1]).T
            expect[rows, cols] = code
        assert np.array_equal(painted, expect, equal_nan=True)


def test_parts_of_a_table_of_tiles_run_in_parallel_workers(conn: psycopg.Connection) -> None:
    """int_patch_parts' shape (the kernel in a subquery's select list) is planned with
    workers under dbt's session options (ecorest.dbt_invoke.DBT_SESSION_OPTIONS) and gives the
    serial rows; the kernel's cost would be counted once in a lateral join."""
    conn.execute("create table pt (tile_x int, tile_y int, rast bytea, pad text) "
                 "with (fillfactor = 10)")
    with conn.cursor().copy("copy pt from stdin") as cp:
        for k in range(12):
            cp.write_row((k, 0, _tile(k)[2], "x" * 500))
    conn.execute("analyze pt")
    conn.execute("set min_parallel_table_scan_size = 0")
    conn.execute("set parallel_setup_cost = 10000")
    conn.execute("set max_parallel_workers_per_gather = 2")
    query = ("select s.tile_x, s.tile_y, (s.p).* from (select tile_x, tile_y, "
             "raster.np_patch_parts(rast, 3, (select 0.09::float8), 0.36::float8) as p "
             "from pt) as s order by 1, 2, 3")
    plan = "\n".join(r[0] for r in conn.execute("explain (analyze, costs off) " + query))
    assert "Workers Launched" in plan and "Workers Launched: 0" not in plan, plan
    par = conn.execute(query).fetchall()
    conn.execute("set max_parallel_workers_per_gather = 0")
    assert conn.execute(query).fetchall() == par
    assert len(par) > 12 and {r[0] for r in par} == set(range(12))
