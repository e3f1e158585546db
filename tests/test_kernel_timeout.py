"""The PL/Python kernels stop at a statement_timeout or a cancel within about a second.

Python code notices an interrupt only when it calls into the server, so the long loops of the
kernels call a cancellation point (a prepared ``select 1`` at most every 0.5 s;
sql/030_kernels.sql, sql/025_uncertainty.sql). Without it a kernel ran to its end before the
timeout took effect: with ``statement_timeout = '1s'`` the Monte Carlo call below (then with 800
terms) ran for 7 s, the NDVI trend call for 12 s.

An error raised at the cancellation point carries the kernel's PL/Python traceback as context;
an interrupt noticed only after the kernel returned has none, so the context shows the kernel
itself was stopped.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import psycopg
import pytest

from ecorest.wkb import raster_wkb

#: a cancelled call must end within this many seconds of its start (timeout or cancel at 1 s)
BOUND = 3.0

#: 1200 terms over 20 factors (10 shared densities, 10 shared factors > 30 % drawn lognormal),
#: 1,000,000 draws: several seconds (8 to 15 s on a busy 2-core machine)
N_TERMS = 1200
TERMS = json.dumps([{"c": 1.0 + i, "f": [[f"d{i % 10}", 10.0 + i % 10, 20.0],
                                         [f"f{i % 10}", 0.5 + (i % 10) / 100, 40.0]]}
                    for i in range(N_TERMS)])
MONTE_CARLO = "select * from ipcc.factor_uncertainty(%s::jsonb, 1000000, 42)"


def _cancelled(conn: psycopg.Connection, query: str, args: tuple) -> tuple[float, str]:
    t0 = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled) as caught:
        conn.execute(query, args).fetchall()
    elapsed = time.monotonic() - t0
    conn.rollback()
    return elapsed, str(caught.value)


def test_monte_carlo_stops_at_the_statement_timeout_and_a_cancel(
        conn: psycopg.Connection, db_url: str) -> None:
    t0 = time.monotonic()
    total, *_ = conn.execute(MONTE_CARLO, (TERMS,)).fetchone()
    full = time.monotonic() - t0
    assert total == pytest.approx(sum((1.0 + i) * (10.0 + i % 10) * (0.5 + (i % 10) / 100)
                                      for i in range(N_TERMS)))
    assert full > BOUND, f"the call took {full:.1f} s only: too short to show the timeout"
    conn.commit()

    conn.execute("set statement_timeout = '1s'")
    elapsed, message = _cancelled(conn, MONTE_CARLO, (TERMS,))
    assert elapsed < BOUND, f"cancelled after {elapsed:.1f} s (the whole call: {full:.1f} s)"
    assert "canceling statement due to statement timeout" in message
    assert 'PL/Python function "factor_uncertainty"' in message, message

    # a cancel (pg_cancel_backend) stops it too
    conn.execute("set statement_timeout = 0")
    conn.commit()
    admin = psycopg.connect(db_url, autocommit=True)
    timer = threading.Timer(1.0, admin.execute,
                            ("select pg_cancel_backend(%s)", (conn.info.backend_pid,)))
    timer.start()
    try:
        elapsed, message = _cancelled(conn, MONTE_CARLO, (TERMS,))
    finally:
        timer.join()
        admin.close()
    assert elapsed < BOUND, f"cancelled after {elapsed:.1f} s (the whole call: {full:.1f} s)"
    assert "canceling statement due to user request" in message
    assert 'PL/Python function "factor_uncertainty"' in message, message


def test_ndvi_trend_stops_at_the_statement_timeout_and_when_terminated(
        conn: psycopg.Connection, db_url: str) -> None:
    """A 512 x 512 tile with 42 years: the Theil-Sen / Mann-Kendall kernel takes several
    seconds (about 3 s for a 256 px tile on a busy 2-core machine; 12 s for this one)."""
    rng = np.random.default_rng(7)
    tiles = [raster_wkb((rng.random((512, 512)) * 200).astype(np.uint8), "8BUI", 255,
                        0, 0, 1000, 4326) for _ in range(42)]
    trend = "select length(raster.np_ndvi_trend(%s::bytea[], %s, %s, %s))"
    args = (tiles, list(range(1982, 2024)), [1 / 250.0] * 42, [0.0] * 42)
    conn.execute("set statement_timeout = '1s'")
    elapsed, message = _cancelled(conn, trend, args)
    assert elapsed < BOUND, f"cancelled after {elapsed:.1f} s"
    assert "canceling statement due to statement timeout" in message
    assert 'PL/Python function "np_ndvi_trend"' in message, message

    # Ctrl-C of `ecorest run` ends its sessions (pg_terminate_backend): that waits for the same
    # cancellation point
    victim = psycopg.connect(db_url)
    timer = threading.Timer(1.0, conn.execute,
                            ("select pg_terminate_backend(%s)", (victim.info.backend_pid,)))
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(psycopg.OperationalError, match="terminating connection"):
            victim.execute(trend, args)
    finally:
        timer.join()
        victim.close()
    elapsed = time.monotonic() - t0
    assert elapsed < BOUND, f"terminated after {elapsed:.1f} s"
