"""The tile kernels in PostgreSQL's parallel workers.

Workers start with an empty GD and refuse SPI, so the kernels carry their helpers inlined
(ecorest/store/kernel_sql.py) and their cancellation point makes no SPI call inside a parallel
query (sql/030_kernels.sql). Here a table of tiles is scanned with a plan that PostgreSQL must
run in workers (force_parallel_mode, no setup cost) and the results are compared with numpy's
own computation of the same numbers and with the same query run serially.
"""

from __future__ import annotations

import time

import numpy as np
import psycopg
import pytest

from ecorest.store.kernel_sql import inline_loaders
from ecorest.wkb import decode_band, raster_wkb

N_TILES = 12
SIZE = 64


@pytest.fixture
def tiles(conn: psycopg.Connection) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two epochs of N_TILES class tiles (255 = nodata) in a table with several pages."""
    rng = np.random.default_rng(5)
    a = [rng.choice([1, 2, 3, 255], size=(SIZE, SIZE), p=[.4, .3, .2, .1]).astype(np.uint8)
         for _ in range(N_TILES)]
    b = [np.where(rng.random((SIZE, SIZE)) < 0.3, rng.choice([1, 2, 3], size=(SIZE, SIZE)),
                  x).astype(np.uint8) for x in a]
    conn.execute("create table pk (k int, a bytea, b bytea, pad text) with (fillfactor = 10)")
    with conn.cursor().copy("copy pk (k, a, b, pad) from stdin") as cp:
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            cp.write_row((k, raster_wkb(x, "8BUI", 255, 0, 0, 30, 32650),
                          raster_wkb(y, "8BUI", 255, 0, 0, 30, 32650), "x" * 500))
    conn.execute("analyze pk")
    return a, b


def _parallel(conn: psycopg.Connection) -> None:
    conn.execute("set parallel_setup_cost = 0")
    conn.execute("set parallel_tuple_cost = 0")
    conn.execute("set min_parallel_table_scan_size = 0")
    conn.execute("set max_parallel_workers_per_gather = 2")
    conn.execute("set force_parallel_mode = on")


def _serial(conn: psycopg.Connection) -> None:
    conn.execute("set max_parallel_workers_per_gather = 0")
    conn.execute("set force_parallel_mode = off")


def test_kernels_run_in_parallel_workers_with_the_serial_results(
        conn: psycopg.Connection, tiles) -> None:
    a, b = tiles
    crosstab = ("select x.v1, x.v2, sum(x.pixels)::bigint from pk "
                "cross join lateral raster.crosstab(null::bytea, pk.a, pk.b) as x "
                "group by 1, 2 order by 1, 2")
    lookup = ("select k, raster.np_lookup(a, array[1, 2, 3], array[10.5, 20.25, 30.0], -1) "
              "from pk order by k")
    _parallel(conn)
    plan = "\n".join(r[0] for r in conn.execute("explain (analyze, costs off) " + crosstab))
    assert "Workers Launched: 2" in plan or "Workers Launched: 1" in plan, plan
    plan = "\n".join(r[0] for r in conn.execute("explain (analyze, costs off) " + lookup))
    assert "Workers Launched" in plan and "Workers Launched: 0" not in plan, plan
    par_counts = conn.execute(crosstab).fetchall()
    par_lookup = conn.execute(lookup).fetchall()
    _serial(conn)
    assert conn.execute(crosstab).fetchall() == par_counts
    assert conn.execute(lookup).fetchall() == par_lookup

    # numpy's own counts of the class pairs
    va, vb = np.stack(a).ravel(), np.stack(b).ravel()
    ok = (va != 255) & (vb != 255)
    pairs, n = np.unique(va[ok].astype(int) * 256 + vb[ok], return_counts=True)
    assert ([(int(p) // 256, int(p) % 256, int(c)) for p, c in zip(pairs, n, strict=True)]
            == par_counts)
    lut = {1: 10.5, 2: 20.25, 3: 30.0}
    for k, blob in par_lookup:
        got, _ = decode_band(bytes(blob))       # NaN for no data
        want = np.vectorize(lambda c: lut.get(int(c), np.nan))(a[k]).astype(np.float32)
        assert np.array_equal(got, want.astype(np.float64), equal_nan=True)


def test_a_kernel_in_a_parallel_query_is_cancelled_by_the_statement_timeout(
        conn: psycopg.Connection, tiles) -> None:
    """No SPI cancellation point in a worker: the timeout stops the query between tiles. The
    query is 48,000 kernel calls (several seconds on any machine, so it cannot finish within
    the timeout); stopped, it returns within a few seconds of it."""
    _parallel(conn)
    conn.execute("set statement_timeout = '300ms'")
    slow = ("select count(*) from pk, generate_series(1, 4000) as g, "
            "lateral raster.crosstab(null::bytea, pk.a, pk.b) as x")
    t0 = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
        conn.execute(slow).fetchall()
    assert time.monotonic() - t0 < 5
    conn.rollback()
    assert conn.execute("select 1").fetchone() == (1,)


def test_loader_calls_are_replaced_by_the_loader_bodies() -> None:
    texts = [
        "create or replace function s.np_a_loaded() returns boolean\n"
        "language plpython3u as $$\nif 'a' in GD:\n    return True\nGD['a'] = 1\nreturn True\n"
        "$$;\n",
        "create or replace function s.np_b_loaded() returns boolean\n"
        "language plpython3u as $$\nif 'a' not in GD:\n    plpy.execute('select s.np_a_loaded()')"
        "\nGD['b'] = GD['a'] + 1\nreturn True\n$$;\n"
        "create function k() ... as $$\nif 'b' not in GD:\n"
        "    plpy.execute('select s.np_b_loaded()')\nreturn GD['b']\n$$;\n"]
    out = inline_loaders(texts)
    assert "plpy.execute('select" not in "".join(out)
    # the kernel's inlined code, run as PL/Python runs a body, finds both helpers
    kernel = out[1].split("create function k() ... as $$\n")[1].split("$$;")[0]
    GD: dict = {}
    exec("def body():\n" + "".join("    " + line + "\n" for line in kernel.splitlines())
         + "result = body()\n", {"GD": GD, "plpy": None}, scope := {})
    assert scope["result"] == 2 and GD == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="np_c_loaded"):
        inline_loaders(["x = plpy.execute('select s.np_c_loaded()')"])
