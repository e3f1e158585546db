"""Least privilege: each role can do what it must and nothing more."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

REGION = ("insert into registry.regions (name, srid, crs_name, pixel_size_m, origin_x, origin_y, "
          "width_px, height_px, boundary) values ('r1', 990001, 'CGCS2000 / Albers China', 30, "
          "0, 0, 10, 10, st_multi(st_makeenvelope(100, 30, 101, 31, 4326)))")
PROJECT = ("insert into registry.projects (region_id, project_id, version, name, project_type, "
           "start_date, geom, record_sha256) select region_id, 'P1', 1, 'Hillside planting', "
           "'afforestation', '2019-03-01', st_multi(st_makeenvelope(100.1, 30.1, 100.2, 30.2, "
           "4326)), repeat('a', 64) from registry.regions where name = 'r1'")


def as_role(conn: psycopg.Connection, role: str | None, statement: str, params=None):
    """Run one statement as ``role`` in its own transaction; return rows or raise."""
    with conn.transaction(force_rollback=True):
        if role:
            conn.execute(psycopg.sql.SQL("set local role {}").format(psycopg.sql.Identifier(role)))
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else cur.rowcount


@pytest.fixture
def seeded(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute(REGION)
    conn.execute(PROJECT)
    conn.execute("create view bi.region_names as select region_id, name from registry.regions")
    conn.execute("create table marts.example_mart (run_id bigint primary key)")
    conn.commit()
    return conn


@pytest.mark.parametrize("table", [
    "registry.regions", "registry.projects", "raster.catalog", "etl.loads", "marts.example_mart",
])
def test_bi_cannot_read_outside_bi(seeded: psycopg.Connection, table: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
        as_role(seeded, "ecorest_bi", psycopg.sql.SQL("select * from {}").format(
            psycopg.sql.Identifier(*table.split("."))))


def test_bi_reads_bi_views(seeded: psycopg.Connection) -> None:
    # created by the owner after the grants ran: default privileges must cover it
    assert as_role(seeded, "ecorest_bi", "select name from bi.region_names") == [("r1",)]


def test_bi_cannot_write_bi(seeded: psycopg.Connection) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(seeded, "ecorest_bi", "create view bi.mine as select 1")


def test_analyst_reads_everything(seeded: psycopg.Connection) -> None:
    assert as_role(seeded, "ecorest_analyst", "select count(*) from registry.projects") == [(1,)]
    assert as_role(seeded, "ecorest_analyst", "select count(*) from etl.loads") == [(0,)]
    assert as_role(seeded, "ecorest_analyst", "select count(*) from marts.example_mart") == [(0,)]
    assert as_role(seeded, "ecorest_analyst", "select count(*) from bi.region_names") == [(1,)]


@pytest.mark.parametrize("statement", [
    "insert into registry.legends (name, source) values ('x', 'y')",
    "update registry.regions set title = 'x'",
    "delete from registry.zones",
    "create table marts.mine (x int)",
    "create table public.mine (x int)",
    "select raster.create_tile_partition(1)",
])
def test_analyst_writes_nothing(seeded: psycopg.Connection, statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        as_role(seeded, "ecorest_analyst", statement)


def test_etl_writes_registry_raster_etl(seeded: psycopg.Connection) -> None:
    assert as_role(seeded, "ecorest_etl",
                   "insert into registry.legends (name, source) values ('clcd', 'CLCD')") == 1
    assert as_role(seeded, "ecorest_etl",
                   "insert into etl.loads (loader, source_path, source_sha256, status) "
                   "values ('params', 'x.csv', repeat('0', 64), 'running')") == 1
    assert as_role(seeded, "ecorest_etl", "update registry.regions set title = 'Region one'") == 1


def test_etl_builds_models_readable_by_analyst_and_bi(seeded: psycopg.Connection) -> None:
    with seeded.transaction(force_rollback=True):
        seeded.execute("set local role ecorest_etl")
        seeded.execute("create table marts.carbon_demo as select 1 as run_id")
        seeded.execute("create view bi.carbon_demo as select run_id from marts.carbon_demo")
        seeded.execute("set local role ecorest_bi")
        assert seeded.execute("select run_id from bi.carbon_demo").fetchall() == [(1,)]
        seeded.execute("reset role")
        seeded.execute("set local role ecorest_analyst")
        assert seeded.execute("select run_id from marts.carbon_demo").fetchall() == [(1,)]


def test_etl_tile_partitions_through_functions(seeded: psycopg.Connection) -> None:
    with seeded.transaction(force_rollback=True):
        seeded.execute("set local role ecorest_etl")
        part = seeded.execute("select raster.create_tile_partition(42)::text").fetchone()[0]
        assert part == "raster.tiles_42"
        # the analyst may read the new partition
        seeded.execute("reset role")
        seeded.execute("set local role ecorest_analyst")
        seeded.execute("select count(*) from raster.tiles_42")


@pytest.mark.parametrize("statement,error", [
    ("drop table registry.regions", errors.InsufficientPrivilege),
    ("create table registry.mine (x int)", errors.InsufficientPrivilege),
    ("delete from registry.projects", errors.InsufficientPrivilege),
    ("delete from etl.loads", errors.InsufficientPrivilege),
    ("truncate registry.projects", errors.InsufficientPrivilege),
    ("create extension if not exists hstore", errors.InsufficientPrivilege),
])
def test_etl_cannot_destroy(seeded: psycopg.Connection, statement: str, error) -> None:
    with pytest.raises(error):
        as_role(seeded, "ecorest_etl", statement)


def test_project_history_is_immutable_even_for_owner(seeded: psycopg.Connection) -> None:
    with pytest.raises(errors.IntegrityConstraintViolation, match="cannot be deleted"):
        as_role(seeded, None, "delete from registry.projects")
    with pytest.raises(errors.IntegrityConstraintViolation, match="immutable"):
        as_role(seeded, "ecorest_etl", "update registry.projects set name = 'changed'")
    # closing the current version is the one allowed change
    assert as_role(seeded, "ecorest_etl",
                   "update registry.projects set valid_to = now() where valid_to is null") == 1


def test_roles_cannot_log_in_and_the_runner_is_an_ordinary_login(seeded: psycopg.Connection,
                                                                   ) -> None:
    rows = seeded.execute("select rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, "
                          "rolinherit, rolbypassrls, rolreplication from pg_roles "
                          "where rolname like 'ecorest\\_%' and rolname not like "
                          "'ecorest\\_tmp\\_run\\_%' order by 1").fetchall()
    no = (False, False, False)
    assert rows == [("ecorest_analyst", False, *no, True, False, False),
                    ("ecorest_bi", False, *no, True, False, False),
                    ("ecorest_etl", False, *no, True, False, False),
                    ("ecorest_runner", True, *no, True, False, False)]
    # the runner is a member of ecorest_etl and of nothing else
    member_of = seeded.execute(
        "select array_agg(g.rolname::text order by g.rolname) from pg_auth_members m "
        "join pg_roles g on g.oid = m.roleid join pg_roles u on u.oid = m.member "
        "where u.rolname = 'ecorest_runner'").fetchone()[0]
    assert member_of == ["ecorest_etl"]
