"""A run whose process dies (kill -9 of `ecorest run`) is marked failed by the next command,
with the reason, its partial mart rows removed and its work on the server stopped; bi readers
meanwhile never err and bi ends exactly as it was."""

from __future__ import annotations

import signal
import time

import psycopg
from psycopg import sql
from test_bi_stability import Reader, alpha, bi_state, check_reads  # noqa: F401 - fixture
from test_run_isolation import start_run, wait_for

from ecorest.run import DEAD_RUN, mark_dead_runs, run_assessment


def mart_rows(conn: psycopg.Connection, run_id: int) -> int:
    """Rows of ``run_id`` in every mart having a run_id column."""
    marts = [r[0] for r in conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "join pg_attribute a on a.attrelid = c.oid and a.attname = 'run_id' "
        "where n.nspname = 'marts' and c.relkind = 'r'")]
    assert len(marts) >= 10
    return sum(conn.execute(sql.SQL("select count(*) from {} where run_id = %s").format(
        sql.Identifier("marts", m)), (run_id,)).fetchone()[0] for m in marts)


def test_killed_run_is_marked_failed_by_the_next_command(alpha) -> None:  # noqa: F811
    conn, first, db_url, tmp_path = alpha
    before = bi_state(conn)
    with Reader(db_url) as reader, psycopg.connect(db_url, autocommit=True) as watch:
        proc = start_run(db_url, tmp_path, "alpha")
        killed = wait_for(watch, "select run_id from etl.assessment_runs "
                          "where status = 'running'", (), proc, "the run was recorded")[0]
        # some marts are written (partial rows), then the process is killed
        deadline = time.monotonic() + 300
        while not mart_rows(watch, killed):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no mart rows written"
            time.sleep(0.05)
        # a live run is never taken for a dead one
        assert mark_dead_runs(watch) == []
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert watch.execute("select status from etl.assessment_runs where run_id = %s",
                             (killed,)).fetchone() == ("running",)
        # the next command (here the next run, which finds nothing new to compute)
        assert run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt") == first
        assert watch.execute("select status, message, finished_at is not null "
                             "from etl.assessment_runs where run_id = %s",
                             (killed,)).fetchone() == ("failed", DEAD_RUN, True)
        assert mart_rows(watch, killed) == 0
        # the server does not go on computing for the dead run
        assert watch.execute("select count(*) from pg_stat_activity where application_name "
                             "in (%s, %s)", (f"ecorest-dbt-{proc.pid}",
                                             f"ecorest-run-{proc.pid}")).fetchone() == (0,)
        assert mark_dead_runs(watch) == []
    assert check_reads(reader, len(before) - 1, {first}) == {first}
    assert bi_state(conn) == before
