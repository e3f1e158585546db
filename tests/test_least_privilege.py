"""Least privilege end to end: dbt never holds a superuser session, the load log and past
parameter values are append-only for ecorest_etl, kernels are ecorest_etl's only, bi views are
security barriers."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql

from ecorest.dbt_invoke import dbt, dbt_application_name, dbt_environment
from ecorest.store.roles import RUNNER, TEMPORARY_PREFIX, least_privilege_url
from helpers import ROOT

ROLE_ROW = ("select session_user::text, current_user::text, r.rolsuper, r.rolcreaterole, "
            "pg_has_role(session_user, 'ecorest_etl', 'MEMBER') "
            "from pg_roles r where r.rolname = session_user")


def as_role(conn: psycopg.Connection, role: str, statement, params=None):
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else cur.rowcount


# ----- dbt and every command run as an unprivileged login ---------------------------------
def test_dbt_session_is_never_a_superuser(db_url: str, tmp_path: Path) -> None:
    """What dbt's own connection sees (dbt show), from a superuser URL as the tests give."""
    from dbt.cli.main import dbtRunner

    from ecorest.dbt_invoke import DBT_DIR

    with psycopg.connect(db_url) as conn:
        assert conn.execute(ROLE_ROW).fetchone()[2] is True  # the URL given is a superuser's
    os.environ["DBT_LOG_PATH"] = str(tmp_path / "logs")
    with dbt_environment(db_url):
        res = dbtRunner().invoke([
            "show", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
            "--target-path", str(tmp_path / "target"), "--log-level", "none",
            "--inline", ROLE_ROW.replace("select ", "select 1 as one, ", 1)])
    assert res.success, res.exception
    row = tuple(res.result.results[0].agate_table.rows[0])
    session_user, current_user, superuser, createrole, member = row[1:]
    assert session_user.startswith(TEMPORARY_PREFIX)
    assert current_user == "ecorest_etl"  # profiles.yml: role ecorest_etl
    assert superuser is False and createrole is False and member is True
    with psycopg.connect(db_url) as conn:  # the temporary login is gone afterwards
        assert conn.execute("select count(*) from pg_roles where rolname = %s",
                            (session_user,)).fetchone() == (0,)


def test_dbt_sessions_during_a_build_are_unprivileged(db_url: str, tmp_path: Path) -> None:
    """pg_stat_activity while dbt works (seeds): every dbt session's login is no superuser."""
    seen: set[tuple[str, bool]] = set()
    done = threading.Event()

    def watch() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            while not done.is_set():
                seen.update(conn.execute(
                    "select a.usename::text, r.rolsuper from pg_stat_activity a "
                    "join pg_roles r on r.rolname = a.usename "
                    "where a.datname = current_database() and a.application_name = %s",
                    (dbt_application_name(),)).fetchall())
                done.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        ok, failures = dbt(["seed"], db_url, tmp_path / "dbt")
    finally:
        done.set()
        watcher.join()
    assert ok, failures
    assert seen, "no dbt session was seen"
    assert all(not superuser for _, superuser in seen), seen
    with psycopg.connect(db_url) as conn:  # the seeds were built, owned by ecorest_etl
        owner = conn.execute("select tableowner from pg_tables where schemaname = "
                             "'intermediate' and tablename = 'ipcc_climate_zones'").fetchone()
        assert owner == ("ecorest_etl",)


def test_no_escape_from_the_models_login(db_url: str) -> None:
    """RESET ROLE leads to the login, which is no superuser: the payload class of the report
    (a table as superuser, COPY ... TO PROGRAM) fails."""
    with least_privilege_url(db_url) as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set role ecorest_etl")
        conn.execute("reset role")
        assert conn.execute(ROLE_ROW).fetchone()[2:4] == (False, False)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("copy (select 1) to program 'id'")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create table public.pwned (x int)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create role pwned superuser")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("alter role ecorest_runner superuser")


def test_unprivileged_login_is_used_as_given_and_others_refused(db_url: str) -> None:
    from ecorest.errors import DatabaseError

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("drop role if exists lp_member, lp_stranger, lp_creator")
        conn.execute("create role lp_member login password 'pw1' in role ecorest_etl")
        conn.execute("create role lp_stranger login password 'pw2'")
        conn.execute("create role lp_creator login createrole password 'pw3' in role ecorest_etl")
    try:
        member = psycopg.conninfo.make_conninfo(db_url, user="lp_member", password="pw1")
        with least_privilege_url(member) as url:
            assert url == member
        stranger = psycopg.conninfo.make_conninfo(db_url, user="lp_stranger", password="pw2")
        with pytest.raises(DatabaseError, match="not a member of ecorest_etl"), \
                least_privilege_url(stranger):
            pass
        creator = psycopg.conninfo.make_conninfo(db_url, user="lp_creator", password="pw3")
        with pytest.raises(DatabaseError, match="CREATEROLE"), least_privilege_url(creator):
            pass
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("drop role if exists lp_member, lp_stranger, lp_creator")


def test_runner_login_of_the_embedded_cluster(db_url: str) -> None:
    if os.environ.get("ECOREST_TEST_DATABASE_URL"):
        pytest.skip("the test server is not an embedded cluster")
    from ecorest.store.cluster import EmbeddedCluster

    home = Path(os.environ.get("ECOREST_TEST_HOME", ROOT / ".ecorest-test")).resolve()
    cluster = EmbeddedCluster(home)
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(cluster.runner_url(dbname)) as conn:
        login, current, superuser, createrole, member = conn.execute(ROLE_ROW).fetchone()
        assert (login, current, superuser, createrole, member) == (
            RUNNER, RUNNER, False, False, True)
        # it reads the schema version (the gate of every command) and writes as ecorest_etl
        from ecorest.store.db import require_current

        require_current(conn)
        conn.execute("insert into registry.legends (name, source) values ('x', 'y')")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("copy (select 1) to program 'id'")


# ----- the load log and past parameter values ----------------------------------------------
LOAD = ("insert into etl.loads (loader, source_path, source_sha256, status) "
        "values ('params', 'x.csv', repeat('0', 64), %s) returning load_id")


def test_etl_cannot_rewrite_the_load_log(conn: psycopg.Connection) -> None:
    done = conn.execute(LOAD, ("succeeded",)).fetchone()[0]
    conn.commit()
    for statement in ("update etl.loads set message = 'nothing happened' where load_id = %s",
                      "update etl.loads set status = 'failed' where load_id = %s",
                      "update etl.loads set rows_loaded = 0 where load_id = %s"):
        with pytest.raises(errors.InsufficientPrivilege, match="load log"):
            as_role(conn, "ecorest_etl", statement, (done,))
    for column in ("source_sha256", "source_path", "loader", "started_at", "db_user"):
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
            as_role(conn, "ecorest_etl", sql.SQL("update etl.loads set {} = {} where load_id = %s")
                    .format(sql.Identifier(column), sql.Identifier(column)), (done,))
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(conn, "ecorest_etl", "delete from etl.loads")
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(conn, "ecorest_etl", "truncate etl.loads")
    # what the loaders do: finish a running load, supersede a replaced one
    with conn.transaction(force_rollback=True):
        conn.execute("set local role ecorest_etl")
        running = conn.execute(LOAD, ("running",)).fetchone()[0]
        assert conn.execute("update etl.loads set status = 'succeeded', finished_at = now(), "
                            "rows_read = 3, message = 'ok' where load_id = %s",
                            (running,)).rowcount == 1
        assert conn.execute("update etl.loads set status = 'superseded' where load_id = %s",
                            (done,)).rowcount == 1
    assert conn.execute("select status, message from etl.loads where load_id = %s",
                        (done,)).fetchone() == ("succeeded", None)


def test_etl_cannot_rewrite_past_parameter_values(conn: psycopg.Connection) -> None:
    set_id = conn.execute(
        "insert into registry.parameter_sets (name, version, kind, source_text) "
        "values ('pools', 1, 'carbon_pools', 'test') returning parameter_set_id").fetchone()[0]
    conn.execute("insert into registry.parameter_values (parameter_set_id, parameter, "
                 "class_code, value, unit) values (%s, 'agb', 1, 10, 't C/ha')", (set_id,))
    conn.commit()
    for statement in ("update registry.parameter_values set value = 99",
                      "delete from registry.parameter_values",
                      "truncate registry.parameter_values",
                      "update registry.parameter_sets set version = 2",
                      "update registry.parameter_sets set source_text = 'changed'"):
        with pytest.raises(errors.InsufficientPrivilege):
            as_role(conn, "ecorest_etl", statement)
    # a new version may be added and the old one deactivated
    assert as_role(conn, "ecorest_etl", "update registry.parameter_sets set is_active = false "
                                        "where parameter_set_id = %s", (set_id,)) == 1
    assert as_role(conn, "ecorest_etl",
                   "insert into registry.parameter_values (parameter_set_id, parameter, "
                   "class_code, value, unit) values (%s, 'bgb', 1, 2, 't C/ha')", (set_id,)) == 1
    assert conn.execute("select value from registry.parameter_values").fetchall() == [(10,)]


# ----- kernels ---------------------------------------------------------------------------
def test_kernels_are_executable_by_etl_only(conn: psycopg.Connection) -> None:
    kernels = conn.execute(
        "select p.oid::regprocedure::text, has_function_privilege('ecorest_etl', p.oid, "
        "'execute'), has_function_privilege('ecorest_analyst', p.oid, 'execute'), "
        "has_function_privilege('ecorest_bi', p.oid, 'execute'), "
        "has_function_privilege('public', p.oid, 'execute') from pg_proc p "
        "where p.pronamespace = 'raster'::regnamespace").fetchall()
    bytea = [k for k in kernels if "bytea" in k[0]]
    assert len(bytea) >= 10, kernels
    wrong = [k for k in kernels if k[1:] != (True, False, False, False)]
    assert not wrong, wrong
    for role, what in (("ecorest_analyst", "function"), ("ecorest_bi", "schema raster")):
        with pytest.raises(errors.InsufficientPrivilege, match=f"permission denied for {what}"):
            as_role(conn, role, "select raster.np_histogram(''::bytea, 1, 0, 1, 10)")
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied for function"):
        as_role(conn, "ecorest_analyst",
                "select raster.np_ndvi_trend(array[]::bytea[], array[]::int[], "
                "array[]::float8[], array[]::float8[], 'max', 8, 0.0005, 0.05, 0.1)")


# ----- bi views ----------------------------------------------------------------------------
def test_bi_views_are_security_barriers(conn: psycopg.Connection) -> None:
    """A BI login's own (temporary) function sees only the rows the view shows."""
    conn.execute("set role ecorest_etl")
    conn.execute("create table marts.lp_runs as select g as run_id, g * 1.5 as t_c "
                 "from generate_series(1, 8) g")
    # as dbt creates views: a new one, then a create-or-replace of it
    conn.execute("create view bi.lp_latest as select run_id, t_c from marts.lp_runs "
                 "where run_id = 3")
    conn.execute("create or replace view bi.lp_latest as select run_id, t_c from marts.lp_runs "
                 "where run_id = (select max(run_id) from marts.lp_runs)")
    conn.execute("reset role")
    conn.commit()
    options = conn.execute("select reloptions from pg_class where oid = 'bi.lp_latest'::regclass"
                           ).fetchone()[0]
    assert "security_barrier=true" in options
    seen: list[str] = []
    conn.add_notice_handler(lambda diag: seen.append(diag.message_primary))
    with conn.transaction(force_rollback=True):
        conn.execute("set local role ecorest_bi")
        conn.execute("create function pg_temp.peek(run_id int, t_c numeric) returns boolean "
                      "language plpgsql cost 0.0001 as $$ begin raise notice 'saw run %', "
                      "run_id; return true; end $$")
        rows = conn.execute("select run_id from bi.lp_latest where pg_temp.peek(run_id, t_c)"
                            ).fetchall()
    assert rows == [(8,)]
    assert seen == ["saw run 8"], seen


def test_loads_and_a_run_as_the_runner_login(db_url: str, tmp_path: Path) -> None:
    """The everyday path of the embedded cluster: loads and a run through ecorest_runner."""
    if os.environ.get("ECOREST_TEST_DATABASE_URL"):
        pytest.skip("the test server is not an embedded cluster")
    import numpy as np
    from test_carbon import tiny_region

    from ecorest.run import run_assessment
    from ecorest.store.cluster import EmbeddedCluster

    home = Path(os.environ.get("ECOREST_TEST_HOME", ROOT / ".ecorest-test")).resolve()
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    runner = EmbeddedCluster(home).runner_url(dbname)
    t2 = np.full((32, 32), 1)
    t2[:, 16:] = 2
    with psycopg.connect(runner) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((32, 32), 1), "2010": t2},
                    "class_code,name_en,ipcc_category\n1,forest,forest_land\n"
                    "2,grassland,grassland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,50,0\n2,10,0,80,0\n")
        run_id = run_assessment(conn, runner, "tiny", work_dir=tmp_path / "dbt")
        assert conn.execute("select status, db_user from etl.assessment_runs where run_id = %s",
                            (run_id,)).fetchone() == ("succeeded", "ecorest_etl")
        users = conn.execute("select distinct db_user, status from etl.loads").fetchall()
        assert users == [("ecorest_etl", "succeeded")], users
        assert conn.execute("select count(*) from marts.carbon_stocks where run_id = %s",
                            (run_id,)).fetchone()[0] > 0


def test_runner_sessions_stop_when_their_client_dies(db_url: str) -> None:
    """A killed client's query does not run on for nobody (client_connection_check_interval
    of the runner login)."""
    if os.environ.get("ECOREST_TEST_DATABASE_URL"):
        pytest.skip("the test server is not an embedded cluster")
    import signal
    import subprocess
    import sys
    import time

    from ecorest.store.cluster import EmbeddedCluster

    home = Path(os.environ.get("ECOREST_TEST_HOME", ROOT / ".ecorest-test")).resolve()
    dbname = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    runner = EmbeddedCluster(home).runner_url(dbname)
    client = subprocess.Popen([sys.executable, "-c",
                               "import psycopg, sys; psycopg.connect(sys.argv[1], "
                               "application_name='lp-doomed').execute('select pg_sleep(120)')",
                               runner])
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            def doomed() -> list:
                return conn.execute("select pid, usename::text from pg_stat_activity where "
                                    "application_name = 'lp-doomed' and state = 'active'"
                                    ).fetchall()
            for _ in range(100):
                if doomed():
                    break
                time.sleep(0.1)
            assert [u for _, u in doomed()] == [RUNNER]
            client.send_signal(signal.SIGKILL)
            client.wait()
            t0 = time.monotonic()
            while doomed() and time.monotonic() - t0 < 15:
                time.sleep(0.2)
            assert not doomed(), "the query of the dead client still runs"
            assert time.monotonic() - t0 < 10
    finally:
        client.kill()
