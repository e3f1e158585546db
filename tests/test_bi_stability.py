"""The BI layer never disappears: a reader polling bi as ecorest_bi during a run, a failed run
and a killed run (tests/test_dead_runs.py) never gets an error and always sees one whole run
per region, the previous or the new one; an ordinary run does no DDL on bi (no view is
re-created); a failed run leaves bi exactly as it was."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql
from test_run_isolation import alpha_run

from ecorest.errors import RunError
from ecorest.etl.rasters import load_raster
from ecorest.run import run_assessment
from helpers import write_raster


class Reader(threading.Thread):
    """Reads bi as ecorest_bi until stopped: every read, in one statement (one snapshot), the
    number of bi views, the run ids shown by bi.carbon_stocks and bi.landcover_transitions and
    the latest run of bi.runs for region alpha."""

    def __init__(self, db_url: str) -> None:
        super().__init__(daemon=True)
        self.db_url = db_url
        self.stop = threading.Event()
        self.reads: list[tuple] = []
        self.errors: list[str] = []

    def run(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("set role ecorest_bi")
            while not self.stop.is_set():
                try:
                    self.reads.append(conn.execute(
                        # pg_class, not information_schema.views: the latter checks
                        # privileges on the latest catalog, so a view re-created meanwhile
                        # drops out of one statement's count without being missing
                        "select (select count(*) from pg_catalog.pg_class "
                        "        where relnamespace = 'bi'::regnamespace and relkind = 'v'), "
                        "(select array_agg(distinct run_id order by run_id) "
                        " from bi.carbon_stocks where region_name = 'alpha'), "
                        "(select array_agg(distinct run_id order by run_id) "
                        " from bi.landcover_transitions where region_name = 'alpha'), "
                        "(select array_agg(run_id) from bi.runs "
                        " where is_latest and region_name = 'alpha')").fetchone())
                except psycopg.Error as exc:
                    self.errors.append(str(exc).strip())
                self.stop.wait(0.02)

    def __enter__(self) -> Reader:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.join(timeout=60)


def check_reads(reader: Reader, views: int, allowed: set[int]) -> set[int]:
    """No read failed, every read saw all ``views`` bi views and one whole run of alpha (the
    same in every view), one of ``allowed``; returns the runs seen."""
    assert reader.errors == []
    assert len(reader.reads) >= 5
    seen = set()
    for n, stocks, transitions, latest in reader.reads:
        assert n == views
        assert stocks == transitions == latest and len(latest) == 1
        seen.add(latest[0])
    assert seen <= allowed
    return seen


def bi_state(conn: psycopg.Connection) -> dict[str, tuple]:
    """Every bi view (and intermediate.int_bi_runs): its oid, definition and rows' digest."""
    views = conn.execute(
        "select n.nspname, c.relname, c.oid, pg_get_viewdef(c.oid) from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'v' "
        "and (n.nspname = 'bi' or (n.nspname, c.relname) = ('intermediate', 'int_bi_runs')) "
        "order by 1, 2").fetchall()
    state = {}
    for schema, name, oid, definition in views:
        digest = conn.execute(sql.SQL(
            "select count(*) || ':' || coalesce(md5(string_agg(md5(t::text), '' "
            "order by md5(t::text))), '') from {} t").format(
            sql.Identifier(schema, name))).fetchone()[0]
        state[f"{schema}.{name}"] = (oid, definition, digest)
    conn.rollback()
    return state


@pytest.fixture
def alpha(prebuilt, tmp_path: Path):
    """Region alpha (forest turning half to grassland) with one succeeded run (built once per
    test run), in a database of the test's own."""
    with prebuilt("alpha", alpha_run) as (db_url, first), psycopg.connect(db_url) as conn:
        yield conn, first, db_url, tmp_path


def test_readers_see_the_previous_run_then_the_new_one_never_an_error(alpha) -> None:
    conn, first, db_url, tmp_path = alpha
    before = bi_state(conn)
    assert len(before) >= 25
    with Reader(db_url) as reader:
        second = run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt", force=True)
        # the new run is published: wait until the reader has seen it
        while not reader.reads or reader.reads[-1][3] != [second]:
            assert reader.is_alive() and not reader.errors, reader.errors
            time.sleep(0.02)
    assert check_reads(reader, len(before) - 1, {first, second}) >= {second}
    after = bi_state(conn)
    # nothing was dropped or re-created: the same views (oids) with the same definitions
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in before.items()}


def test_a_failed_run_leaves_bi_exactly_as_it_was(alpha) -> None:
    """The run fails in its carbon dynamics (land entering forest without a growth rate),
    after the earlier models were built."""
    conn, first, db_url, tmp_path = alpha
    t3 = np.full((64, 64), 1)  # the grassland half turns back to forest
    load_raster(conn, "alpha", "landcover",
                write_raster(tmp_path / "lc_2020.tif", t3.astype(np.uint8), nodata=255),
                epoch="2020", legend="alpha", show_progress=False)
    before = bi_state(conn)
    with Reader(db_url) as reader, pytest.raises(RunError, match="growth rate"):
        run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt")
    assert check_reads(reader, len(before) - 1, {first}) == {first}
    assert bi_state(conn) == before
    assert conn.execute("select status from etl.assessment_runs order by run_id").fetchall() \
        == [("succeeded",), ("failed",)]


def test_changed_view_definitions_are_replaced_in_place(alpha) -> None:
    """A bi view whose definition differs from its model (older code) is replaced in place
    (same oid, grants kept); one whose columns differ incompatibly is re-created in one
    transaction; readers never err meanwhile."""
    conn, first, db_url, tmp_path = alpha
    before = bi_state(conn)
    conn.execute("set role ecorest_etl")
    conn.execute(sql.SQL("create or replace view bi.carbon_stocks_by_run as "
                         "select * from ({}) as q where false").format(
        sql.SQL(before["bi.carbon_stocks_by_run"][1].rstrip().rstrip(";"))))
    conn.execute("drop view bi.zone_scores_by_run")
    conn.execute("create view bi.zone_scores_by_run as select 1 as stale")
    conn.execute("reset role")
    conn.commit()
    tampered = bi_state(conn)
    assert tampered["bi.carbon_stocks_by_run"][1] != before["bi.carbon_stocks_by_run"][1]
    with Reader(db_url) as reader:
        second = run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt", force=True)
    check_reads(reader, len(before) - 1, {first, second})
    after = bi_state(conn)
    assert after["bi.carbon_stocks_by_run"][:2] == before["bi.carbon_stocks_by_run"][:2]
    assert after["bi.zone_scores_by_run"][1] == before["bi.zone_scores_by_run"][1]
    assert {k: v[:2] for k, v in after.items() if k != "bi.zone_scores_by_run"} == \
        {k: v[:2] for k, v in before.items() if k != "bi.zone_scores_by_run"}
    for view in ("carbon_stocks_by_run", "zone_scores_by_run"):
        assert conn.execute("select has_table_privilege('ecorest_bi', %s, 'select')",
                            (f"bi.{view}",)).fetchone() == (True,)
        assert conn.execute("select col_description(%s::regclass, 1)",
                            (f"bi.{view}",)).fetchone()[0]


def test_a_mart_that_gains_a_column_keeps_its_earlier_runs(alpha) -> None:
    """A mart left by an older version without one of today's columns (share_pct of
    marts.landcover_class_areas, dropped here by hand) gets the column at the next run: the
    earlier run's rows stay as they were with the column null, the new run's rows have it,
    and the column has its comment again."""
    conn, first, db_url, tmp_path = alpha
    name = "marts.landcover_class_areas"
    mart = sql.Identifier(*name.split("."))
    rows, pixels = conn.execute(sql.SQL("select count(*), sum(pixels) from {} where run_id = %s")
                                .format(mart), (first,)).fetchone()
    assert rows > 0
    conn.execute("set role ecorest_etl")
    conn.execute(sql.SQL("alter table {} drop column share_pct").format(mart))
    conn.execute("reset role")
    conn.commit()
    second = run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt", force=True)
    got = {run: (n, total, shares) for run, n, total, shares in conn.execute(sql.SQL(
        "select run_id, count(*), sum(pixels), count(share_pct) from {} group by run_id")
        .format(mart))}
    assert got == {first: (rows, pixels, 0), second: (rows, pixels, rows)}
    # per epoch the shares of the classes add up to 100 % (the new column has real values)
    sums = conn.execute(sql.SQL("select sum(share_pct) from {} where run_id = %s "
                                "group by zone_set, zone_code, epoch_label").format(mart),
                        (second,)).fetchall()
    assert sums and all(s == pytest.approx(100.0) for s, in sums)
    assert conn.execute("select col_description(%s::regclass, attnum) from pg_attribute "
                        "where attrelid = %s::regclass and attname = 'share_pct'",
                        (name, name)).fetchone()[0]
