"""The NDVI trend kernel (raster.np_ndvi_trend): its compiled per-pixel pass (numba, when the
server's Python has it) and its numpy path (``set ecorest.trend_impl = 'numpy'``) against an
independent implementation written here: scipy's Theil-Sen slope per pixel and a hand-written
Mann-Kendall test with the ties correction, on generated stacks with missing values, ties,
constant series, too few years, repeated years (max and mean), a missing tile and two tile
positions in one query; the two paths must also agree with each other exactly.
"""

from __future__ import annotations

import math
import time

import numpy as np
import psycopg
import pytest
from scipy import stats

from ecorest.wkb import decode_band, raster_wkb

NODATA = -32768
KERNEL = ("raster.np_ndvi_trend(%s::bytea[], %s::int[], %s::float8[], %s::float8[], %s, %s, "
          "%s, %s, %s)")
#: stable band, alpha, NDVI floor: the kernel's defaults
STABLE, ALPHA, NDVI_MIN = 0.0005, 0.05, 0.1


# ------------------------------------------------------------------------------------------------
# the independent implementation
# ------------------------------------------------------------------------------------------------
def annual_values(epochs: np.ndarray, years: list[int], reduce: str) -> tuple[list[int],
                                                                              np.ndarray]:
    """epochs: (epochs, pixels) with NaN -> the distinct years and (years, pixels): per pixel
    the max or the mean of the valid values of each year's epochs, rounded to 1e-9."""
    uyears = sorted(set(years))
    out = np.full((len(uyears), epochs.shape[1]), np.nan)
    for k, y in enumerate(uyears):
        rows = [e for e, ey in zip(epochs, years, strict=True) if ey == y]
        for p in range(epochs.shape[1]):
            vals = [float(r[p]) for r in rows if not math.isnan(r[p])]
            if vals:
                total = 0.0
                for v in vals:
                    total += v
                out[k, p] = max(vals) if reduce == "max" else total / len(vals)
    return uyears, np.round(out, 9)


def reference(annual: np.ndarray, uyears: list[int], min_years: int) -> np.ndarray:
    """(8, pixels): Sen slope, S, Var(S), Z, p, n, class, latest valid value per pixel, with
    the kernel's rules for missing data (n = 0: no data; n < min_years: class 0)."""
    t = np.asarray(uyears, dtype=np.float64)
    out = np.full((8, annual.shape[1]), np.nan)
    for p in range(annual.shape[1]):
        ok = ~np.isnan(annual[:, p])
        y, x = annual[ok, p], t[ok]
        n = len(y)
        if n == 0:
            continue
        out[5, p], out[7, p] = n, y[-1]
        if n < max(min_years, 3):
            out[6, p] = 0
            continue
        slope = stats.theilslopes(y, x)[0]
        s = sum(np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
        _, counts = np.unique(y, return_counts=True)
        var = (n * (n - 1) * (2 * n + 5)
               - sum(c * (c - 1) * (2 * c + 5) for c in counts)) / 18
        z = (s - np.sign(s)) / math.sqrt(var) if s != 0 else 0.0
        pval = 2 * stats.norm.sf(abs(z))
        if np.round(y.mean(), 9) < NDVI_MIN:            # mean rounded to 1e-9 as the values
            cls = 6
        elif abs(slope) < STABLE:
            cls = 3
        elif pval < ALPHA:
            cls = 5 if slope > 0 else 1
        else:
            cls = 4 if slope > 0 else 2
        out[:7, p] = slope, s, var, z, pval, n, cls
    return out


# ------------------------------------------------------------------------------------------------
# generated stacks
# ------------------------------------------------------------------------------------------------
def ndvi_stack(rng: np.random.Generator, n_epochs: int, shape: tuple[int, int],
               missing: float = 0.1) -> np.ndarray:
    """(epochs, rows, cols) NDVI with NaN: random trends and noise; half the pixels on a 0.01
    grid (many ties); row 0 constant, row 1 with two to four valid epochs, row 2 without
    data, row 3 bare (NDVI ~0.05)."""
    h, w = shape
    base = rng.uniform(0.15, 0.8, (h, w))
    rate = rng.normal(0, 0.01, (h, w))
    step = np.arange(n_epochs)[:, None, None]
    x = base + rate * step + rng.normal(0, 0.03, (n_epochs, h, w))
    x[:, :, : w // 2] = np.round(x[:, :, : w // 2], 2)
    x[rng.random(x.shape) < missing] = np.nan
    x[:, 0, :] = 0.5
    x[:, 1, :] = np.nan
    for c in range(w):
        keep = rng.choice(n_epochs, size=2 + c % 3, replace=False)
        x[keep, 1, c] = rng.uniform(0.2, 0.8, len(keep))
    x[:, 2, :] = np.nan
    x[:, 3, :] = rng.uniform(0.03, 0.07, (n_epochs, w))
    return np.clip(x, -1, 1)


def int16_tiles(x: np.ndarray, ulx: float = 0.0) -> list[bytes]:
    """NDVI as 16BSI tiles of 1e-4 (nodata -32768) and the values the kernel reads back."""
    q = np.where(np.isnan(x), NODATA, np.round(x / 1e-4)).astype(np.int16)
    return [raster_wkb(e, "16BSI", NODATA, ulx, 1000.0, 30.0, 0) for e in q]


def stored(x: np.ndarray) -> np.ndarray:
    q = np.round(x / 1e-4)
    return np.where(np.isnan(x), np.nan, q * 1e-4)


def compiled_pass_loaded(conn: psycopg.Connection) -> bool:
    """Whether this session's kernel calls run the compiled pass (numba in the server)."""
    conn.execute("create or replace function pg_temp.trend_pass_loaded() returns boolean "
                 "language plpython3u as $$ return GD.get('ecorest_trend_pass') is not None $$")
    return conn.execute("select pg_temp.trend_pass_loaded()").fetchone()[0]


def run_kernel(conn: psycopg.Connection, impl: str, tiles: list, years: list[int],
               scales: list[float], reduce: str = "max", min_years: int = 8) -> np.ndarray:
    conn.execute("select set_config('ecorest.trend_impl', %s, false)", (impl,))
    wkb = conn.execute("select " + KERNEL, (tiles, years, scales, [0.0] * len(tiles), reduce,
                                            min_years, STABLE, ALPHA, NDVI_MIN)).fetchone()[0]
    if impl == "auto" and not compiled_pass_loaded(conn):
        pytest.skip("numba is not installed for the server's Python: only the numpy path runs")
    return np.stack([decode_band(wkb, b)[0] for b in range(1, 9)])


def assert_matches(got: np.ndarray, want: np.ndarray) -> None:
    """got: (8, h, w) float32 bands of the kernel; want: (8, pixels) float64 reference."""
    got = got.reshape(8, -1)
    for b, name in enumerate(("slope", "S", "Var(S)", "Z", "p", "n", "class", "latest")):
        assert np.array_equal(np.isnan(got[b]), np.isnan(want[b])), name
        ok = ~np.isnan(want[b])
        np.testing.assert_allclose(got[b][ok], want[b][ok].astype(np.float32), rtol=1e-6,
                                   atol=1e-9, err_msg=name)


IMPLS = ["auto", "numpy"]


# ------------------------------------------------------------------------------------------------
# tests
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
def test_annual_stack_with_gaps_ties_constant_and_short_series(conn: psycopg.Connection,
                                                               impl: str) -> None:
    """Ten annual epochs, 10 % missing, half the pixels on a 0.01 grid (ties), a constant row,
    a row of two to four valid years, a row without data and a bare row; min_years 8 and 3
    (3: series of 3 to 6 values, odd and even numbers of pairs)."""
    rng = np.random.default_rng(11)
    x = ndvi_stack(rng, 10, (12, 20))
    years = list(range(2011, 2021))
    uyears, annual = annual_values(stored(x).reshape(10, -1), years, "max")
    for min_years in (8, 3):
        got = run_kernel(conn, impl, int16_tiles(x), years, [1e-4] * 10, "max", min_years)
        want = reference(annual, uyears, min_years)
        assert_matches(got, want)
        assert set(np.unique(want[6][~np.isnan(want[6])])) >= {0, 3, 6}
    # the constant row: S 0, Var(S) 0, Z 0, p 1, slope 0, stable
    assert (got[1, 0] == 0).all() and (got[2, 0] == 0).all() and (got[4, 0] == 1).all()
    assert (got[0, 0] == 0).all() and (got[6, 0] == 3).all()
    assert np.isnan(got[:, 2]).all()                       # no data: nothing, not even n


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_repeated_years_reduced_to_max_or_mean(conn: psycopg.Connection, impl: str,
                                               reduce: str) -> None:
    """17 float32 epochs (NaN as missing) over 9 years, one to three epochs a year: the annual
    max or mean of the valid epochs, rounded to 1e-9, then the trend over the real years
    (2016 is missing: its slopes use the 2-year gap)."""
    rng = np.random.default_rng(5)
    years = [2010, 2010, 2011, 2012, 2012, 2012, 2013, 2014, 2014, 2015, 2017, 2017, 2018,
             2018, 2018, 2019, 2019]
    x = ndvi_stack(rng, len(years), (9, 14), missing=0.2)
    x32 = x.astype(np.float32)
    tiles = [raster_wkb(e, "32BF", np.nan, 0.0, 1000.0, 30.0, 0) for e in x32]
    uyears, annual = annual_values(x32.astype(np.float64).reshape(len(years), -1), years,
                                   reduce)
    assert len(uyears) == 9 and 2016 not in uyears
    got = run_kernel(conn, impl, tiles, years, [1.0] * len(years), reduce, 6)
    assert_matches(got, reference(annual, uyears, 6))


@pytest.mark.parametrize("impl", IMPLS)
def test_two_tile_positions_and_a_missing_tile(conn: psycopg.Connection, impl: str) -> None:
    """One query over two tile positions of different sizes (as the dbt model groups them);
    position b has no tile for 2015 (a null in the array): that year is missing there."""
    rng = np.random.default_rng(23)
    years = list(range(2010, 2020))
    xa = ndvi_stack(rng, 10, (10, 16))
    xb = ndvi_stack(rng, 10, (7, 5))
    tb = int16_tiles(xb, ulx=480.0)
    tb[5] = None
    xb[5] = np.nan
    conn.execute("create temp table stack (pos text, year int, rast bytea)")
    with conn.cursor() as cur:
        cur.executemany("insert into stack values (%s, %s, %s)",
                        [("a", y, t) for y, t in zip(years, int16_tiles(xa), strict=True)]
                        + [("b", y, t) for y, t in zip(years, tb, strict=True)])
    conn.execute("select set_config('ecorest.trend_impl', %s, false)", (impl,))
    rows = dict(conn.execute(
        "select pos, raster.np_ndvi_trend(array_agg(rast order by year), "
        "array_agg(year order by year), array_agg(1e-4::float8 order by year), "
        "array_agg(0::float8 order by year), 'max', 8) from stack group by pos").fetchall())
    if impl == "auto" and not compiled_pass_loaded(conn):
        pytest.skip("numba is not installed for the server's Python")
    for pos, x in (("a", xa), ("b", xb)):
        got = np.stack([decode_band(rows[pos], b)[0] for b in range(1, 9)])
        assert got.shape[1:] == x.shape[1:]
        uyears, annual = annual_values(stored(x).reshape(10, -1), years, "max")
        assert_matches(got, reference(annual, uyears, 8))
    assert np.nanmax(decode_band(rows["b"], 6)[0]) == 9    # at most 9 years at b


def test_both_paths_equal_on_42_years_across_chunks(conn: psycopg.Connection) -> None:
    """42 annual epochs (861 pairs a pixel) on a 90 x 80 tile: more pixels than one chunk of
    the compiled pass (about 4 M pairs); the two paths give the same bands bit for bit, and
    the reference agrees on every pixel."""
    rng = np.random.default_rng(42)
    years = list(range(1982, 2024))
    x = ndvi_stack(rng, 42, (90, 80), missing=0.05)
    tiles = int16_tiles(x)
    fast = run_kernel(conn, "auto", tiles, years, [1e-4] * 42)
    slow = run_kernel(conn, "numpy", tiles, years, [1e-4] * 42)
    assert np.array_equal(fast, slow, equal_nan=True)
    assert 90 * 80 * 861 > 1 << 22               # more than one chunk
    uyears, annual = annual_values(stored(x).reshape(42, -1), years, "max")
    assert_matches(fast, reference(annual, uyears, 8))


@pytest.mark.parametrize("case", ["annual", "repeated-mean"])
def test_compiled_and_numpy_paths_agree_bit_for_bit(conn: psycopg.Connection,
                                                    case: str) -> None:
    rng = np.random.default_rng(99)
    if case == "annual":
        years = list(range(2001, 2011))
        x = ndvi_stack(rng, 10, (64, 64))
        tiles, scales, reduce = int16_tiles(x), [1e-4] * 10, "max"
    else:
        years = sorted(rng.choice(np.arange(2001, 2013), 30).tolist())
        x = ndvi_stack(rng, 30, (40, 40), missing=0.3)
        tiles, scales, reduce = int16_tiles(x), [1e-4] * 30, "mean"
    fast = run_kernel(conn, "auto", tiles, years, scales, reduce)
    slow = run_kernel(conn, "numpy", tiles, years, scales, reduce)
    assert np.array_equal(fast, slow, equal_nan=True)
    assert np.isfinite(fast[0]).sum() > 1000


def test_trend_impl_setting(conn: psycopg.Connection) -> None:
    """Only 'auto' (also unset or reset) and 'numpy' are accepted."""
    years = list(range(2001, 2011))
    x = ndvi_stack(np.random.default_rng(1), 10, (6, 6))
    args = (int16_tiles(x), years, [1e-4] * 10, [0.0] * 10, "max", 8, STABLE, ALPHA,
            NDVI_MIN)
    unset = conn.execute("select " + KERNEL, args).fetchone()[0]
    conn.execute("set ecorest.trend_impl = 'numpy'")
    numpy_path = conn.execute("select " + KERNEL, args).fetchone()[0]
    conn.execute("reset ecorest.trend_impl")               # '' after a reset
    reset = conn.execute("select " + KERNEL, args).fetchone()[0]
    assert unset == numpy_path == reset
    conn.execute("set ecorest.trend_impl = 'numba'")
    with pytest.raises(psycopg.errors.InternalError_,
                       match="ecorest.trend_impl must be 'auto' or 'numpy', not 'numba'"):
        conn.execute("select " + KERNEL, args)


def test_postgres_jit_before_and_after_the_compiled_pass(db_url: str) -> None:
    """PostgreSQL's LLVM JIT and numba's LLVM in one backend: a JIT-compiled query works
    before and after the kernel (and the kernel first, then JIT, in a fresh backend)."""
    query = "select sum(g * 2 + 1) from generate_series(1, 200000) g"
    x = ndvi_stack(np.random.default_rng(3), 10, (8, 8))
    args = (int16_tiles(x), list(range(2001, 2011)), [1e-4] * 10, [0.0] * 10, "max", 8,
            STABLE, ALPHA, NDVI_MIN)
    want = sum(g * 2 + 1 for g in range(1, 200001))

    def jit_query(conn: psycopg.Connection) -> None:
        plan = conn.execute("explain (analyze, format json) " + query).fetchone()[0][0]
        assert plan["JIT"]["Functions"] > 0
        assert conn.execute(query).fetchone()[0] == want

    results = []
    for kernel_first in (False, True):
        with psycopg.connect(db_url, autocommit=True) as conn:
            if not conn.execute("select pg_jit_available()").fetchone()[0]:
                pytest.skip("this server has no LLVM JIT")
            conn.execute("set jit = on; set jit_above_cost = 0; set jit_inline_above_cost = 0; "
                         "set jit_optimize_above_cost = 0")
            if not kernel_first:
                jit_query(conn)
            results.append(conn.execute("select " + KERNEL, args).fetchone()[0])
            if not compiled_pass_loaded(conn):
                pytest.skip("numba is not installed for the server's Python")
            jit_query(conn)
            results.append(conn.execute("select " + KERNEL, args).fetchone()[0])
    assert len(set(results)) == 1


def test_a_cancel_during_the_compile(db_url: str) -> None:
    """The first call of a session compiles the pass (about 1 s of CPU) in a thread while the
    call keeps checking for a cancel: a 0.2 s statement_timeout stops it in the middle of the
    compile; the session goes on (JIT queries too) and its next call takes the compiled pass."""
    x = ndvi_stack(np.random.default_rng(8), 10, (8, 8))
    args = (int16_tiles(x), list(range(2001, 2011)), [1e-4] * 10, [0.0] * 10, "max", 8,
            STABLE, ALPHA, NDVI_MIN)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("select " + KERNEL, args)
        if not compiled_pass_loaded(conn):
            pytest.skip("numba is not installed for the server's Python")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create function pg_temp.compiling() returns boolean language plpython3u "
                     "as $$ return 'ecorest_trend_build' in GD and "
                     "'ecorest_trend_pass' not in GD $$")
        conn.execute("set ecorest.trend_impl = 'numpy'")   # Python and numpy loaded first
        numpy_path = conn.execute("select " + KERNEL, args).fetchone()[0]
        conn.execute("set ecorest.trend_impl = 'auto'; set jit = on; set jit_above_cost = 0; "
                     "set statement_timeout = '200ms'")
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute("select " + KERNEL, args)
        elapsed = time.monotonic() - t0
        conn.execute("set statement_timeout = 0")
        assert conn.execute("select pg_temp.compiling()").fetchone()[0]
        assert elapsed < 1.5, f"cancelled after {elapsed:.1f} s"
        assert conn.execute("select sum(g) from generate_series(1, 1000) g").fetchone()[0] \
            == 500500
        fast = conn.execute("select " + KERNEL, args).fetchone()[0]
        assert compiled_pass_loaded(conn)
        assert fast == numpy_path
