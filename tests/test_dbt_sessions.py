"""dbt's sessions are kept from one model to the next (ecorest/dbt_sessions.py): a run logs in
a few times, not once a model and test, and a session handed to the next node is as at login."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psycopg
import psycopg2
from test_carbon import tiny_region

from ecorest.dbt_sessions import _reset
from ecorest.run import run_assessment


def _sessions(conn: psycopg.Connection) -> int:
    conn.execute("select pg_stat_clear_snapshot()")
    return conn.execute("select sessions from pg_stat_database "
                        "where datname = current_database()").fetchone()[0]


def test_a_run_logs_in_a_few_times_not_once_a_model(db_url: str, tmp_path: Path) -> None:
    """A run builds some 130 models and 300 tests in two dbt calls of two threads; with a
    login a node, the database counted 334 new sessions for this run."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        tiny_region(conn, tmp_path, {"2005": np.full((64, 64), 1)},
                    "class_code,name_en\n1,forest\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,0,0\n")
        before = _sessions(conn)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        # the sessions count once they are flushed, at the latest when they end
        counts = []
        for _ in range(20):
            counts.append(_sessions(conn) - before)
            if len(counts) > 2 and counts[-1] == counts[-3]:
                break
            time.sleep(0.25)
        models = conn.execute("select jsonb_array_length(timings -> 'models_s') "
                              "from etl.assessment_runs where run_id = %s", (run_id,)).fetchone()
        stock = conn.execute("select carbon_t_per_ha from marts.carbon_stocks where run_id = %s"
                             " and zone_set = 'region' and pool = 'agb'", (run_id,)).fetchone()
    assert models[0] > 100 and stock == (100.0,)
    assert 2 <= counts[-1] <= 30, counts


def test_a_session_handed_to_the_next_node_is_as_at_login(db_url: str) -> None:
    """Transaction, temporary tables, prepared statements, settings and advisory locks of the
    node before are gone; the login's own options and the profile's role hold."""
    handle = psycopg2.connect(db_url, options="-c work_mem=7MB")
    try:
        cur = handle.cursor()
        cur.execute("set role ecorest_etl")
        cur.execute("create temporary table left_over (a int)")
        cur.execute("select pg_advisory_lock(4242)")
        cur.execute("set work_mem = '64MB'")
        cur.execute("prepare left_over_plan as select 1")
        # an explicit BEGIN/COMMIT, as dbt sends them, leaves psycopg2 "in a transaction"
        cur.execute("commit")
        cur.execute("begin")
        conn = SimpleNamespace(handle=handle, transaction_open=True,
                               credentials=SimpleNamespace(role="ecorest_etl"))
        assert _reset(conn)
        assert conn.transaction_open is False
        cur = handle.cursor()
        cur.execute("select current_user::text, to_regclass('pg_temp.left_over') is null, "
                    "current_setting('work_mem'), "
                    "(select count(*) from pg_prepared_statements), "
                    "(select count(*) from pg_locks where locktype = 'advisory' "
                    " and pid = pg_backend_pid())")
        assert cur.fetchone() == ("ecorest_etl", True, "7MB", 0, 0)
        handle.rollback()
        # a session whose transaction failed is reset too
        try:
            cur.execute("select 1 / 0")
        except psycopg2.errors.DivisionByZero:
            pass
        assert _reset(conn)
        cur = handle.cursor()
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
    finally:
        handle.close()
    # a closed session is not reused (dbt closes it, as it did after every node)
    assert _reset(SimpleNamespace(handle=handle, transaction_open=False,
                                  credentials=SimpleNamespace(role=None))) is False
