"""The BI contract: bi views over the latest succeeded run, documented, typed, read-only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import errors, sql
from test_carbon import tiny_region
from test_roles import as_role

from ecorest.run import run_assessment
from helpers import ROOT


def tiny_run(conn: psycopg.Connection, db_url: str, tmp: Path) -> int:
    """Region 'tiny' (forest turning half to grassland) with one succeeded run; its id."""
    t2 = np.full((64, 64), 1)
    t2[:, 32:] = 2
    tiny_region(conn, tmp, {"2000": np.full((64, 64), 1), "2010": t2},
                "class_code,name_en,ipcc_category\n1,forest,forest_land\n2,grassland,grassland\n",
                "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,50,0\n2,10,0,80,0\n")
    return run_assessment(conn, db_url, "tiny", work_dir=tmp / "dbt")


@pytest.fixture
def one_run(prebuilt, tmp_path: Path):
    """tiny_run (built once per test run), in a database of the test's own."""
    with prebuilt("bi_tiny", tiny_run) as (url, first), psycopg.connect(url) as conn:
        yield conn, first, url, tmp_path


@pytest.fixture
def two_runs(one_run):
    """The same region with a second (forced) run."""
    conn, first, db_url, tmp_path = one_run
    second = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt", force=True)
    return conn, first, second


def bi_views(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "select table_name from information_schema.views where table_schema = 'bi' "
        "order by 1")]


def test_bi_role_reads_every_bi_view_and_nothing_else(one_run) -> None:
    conn, run_id, _, _ = one_run
    views = bi_views(conn)
    assert {"zone_scores", "restoration_patches", "carbon_stocks", "carbon_stock_changes",
            "landcover_transitions", "project_benefits", "plot_validation",
            "identification_accuracy", "runs", "carbon_stocks_by_run"} <= set(views)
    for v in views:
        as_role(conn, "ecorest_bi", sql.SQL("select * from {} limit 1").format(
            sql.Identifier("bi", v)))
    for table in ("marts.carbon_stocks", "intermediate.int_bi_runs", "etl.assessment_runs",
                  "raster.tiles"):
        with pytest.raises(errors.InsufficientPrivilege):
            as_role(conn, "ecorest_bi", sql.SQL("select 1 from {} limit 1").format(
                sql.Identifier(*table.split("."))))
    runs = as_role(conn, "ecorest_bi", "select run_id, is_latest from bi.runs order by 1")
    assert runs[-1] == (run_id, True)


def test_every_bi_and_mart_column_is_documented_and_geometries_are_typed(one_run) -> None:
    conn = one_run[0]
    undocumented = conn.execute("""
        select c.relname || '.' || a.attname
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname in ('bi', 'marts') and c.relkind in ('r', 'v')
          and col_description(c.oid, a.attnum) is null""").fetchall()
    assert undocumented == []
    geoms = conn.execute("select f_table_name, type, srid from geometry_columns "
                         "where f_table_schema = 'bi' order by 1").fetchall()
    assert ("zone_scores", "MULTIPOLYGON", 4326) in geoms
    assert all(srid == 4326 for *_, srid in geoms)


def test_views_show_the_latest_succeeded_run_never_a_running_one(two_runs) -> None:
    """Rows of a run that is still being written (status running) stay invisible."""
    conn, first, second = two_runs
    shown = conn.execute("select distinct run_id from bi.carbon_stocks").fetchall()
    assert shown == [(second,)]
    totals = conn.execute("select sum(carbon_t) from bi.carbon_stocks "
                          "where zone_set = 'region'").fetchone()
    running = conn.execute(
        "insert into etl.assessment_runs (region_id, status, code_version, parameter_set_ids, "
        "input_catalog_ids) select region_id, 'running', 'test', '{}', '{}' "
        "from registry.regions where name = 'tiny' returning run_id").fetchone()[0]
    conn.execute("insert into marts.carbon_stocks select * from marts.carbon_stocks "
                 "where run_id = %s", (second,))
    conn.execute("update marts.carbon_stocks set run_id = %s, carbon_t = carbon_t * 1000 "
                 "where ctid in (select ctid from marts.carbon_stocks where run_id = %s "
                 "limit (select count(*) / 2 from marts.carbon_stocks where run_id = %s))",
                 (running, second, second))
    conn.commit()
    assert conn.execute("select distinct run_id from bi.carbon_stocks").fetchall() == [(second,)]
    assert conn.execute("select sum(carbon_t) from bi.carbon_stocks "
                        "where zone_set = 'region'").fetchone() == totals
    by_run = conn.execute("select count(distinct run_id) from bi.carbon_stocks_by_run "
                          "where run_id in (%s, %s, %s)", (first, second, running)).fetchone()
    assert by_run == (2,)


def test_analyst_guide_queries_run_as_bi(one_run) -> None:
    """Every SQL example of docs/SQL_ANALYST_GUIDE.md runs as ecorest_bi; the carbon and
    lineage examples return rows (this small region has no zones, patches, projects or
    reference samples, so those examples may be empty)."""
    import re


    guide = (ROOT / "docs" / "SQL_ANALYST_GUIDE.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", guide, flags=re.S)
    assert len(queries) >= 8
    conn = one_run[0]
    for q in queries:
        rows = as_role(conn, "ecorest_bi", q.strip().rstrip(";"))
        if "carbon_stock" in q or "parameter_lineage" in q:
            assert rows, q
