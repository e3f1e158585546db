"""The migration path and the schema contract."""

from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from ecorest.store import db as dbmod
from ecorest.store.models import metadata
from helpers import ROOT

#: migrations change cluster-wide roles: one pytest-xdist worker runs them all, one by one
pytestmark = pytest.mark.xdist_group("migrations")

LOADED_TABLES = {
    "registry": {"regions", "legends", "legend_classes", "zones", "zone_tiles", "projects",
                 "project_measures", "survey_plots", "plot_measurements", "plot_trees",
                 "plot_soil_layers", "reference_samples", "parameter_sets", "parameter_values"},
    "raster": {"catalog", "tiles"},
    "etl": {"loads", "quarantine", "assessment_runs"},
}


def _tables(conn: psycopg.Connection) -> set[tuple[str, str]]:
    rows = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('registry', 'raster', 'etl')").fetchall()
    return set(rows)


def _diff(url: str) -> list:
    engine = create_engine(dbmod.sqlalchemy_url(url))
    with engine.connect() as c:
        ctx = MigrationContext.configure(c, opts={
            "include_schemas": True, "compare_type": True,
            "include_name": lambda name, type_, parent: (
                name in dbmod.LOADED_SCHEMAS if type_ == "schema" else True),
        })
        diff = compare_metadata(ctx, metadata)
    engine.dispose()
    return diff


def test_empty_to_head_to_base_to_head(empty_db_url: str) -> None:
    expected = {(s, t) for s, ts in LOADED_TABLES.items() for t in ts}
    dbmod.migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        assert _tables(conn) == expected
        assert dbmod.current_revision(conn) == dbmod.head_revision()
    dbmod.downgrade(empty_db_url, "base")
    with psycopg.connect(empty_db_url) as conn:
        assert _tables(conn) == set()
        assert dbmod.current_revision(conn) is None
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
        assert not schemas & {"registry", "raster", "etl", "staging", "marts", "bi"}
    dbmod.migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        assert _tables(conn) == expected


def test_models_and_migrations_do_not_drift(db_url: str) -> None:
    """What `alembic check` does: autogenerate finds nothing to change at head."""
    assert _diff(db_url) == []


def test_migrate_twice_changes_nothing(db_url: str) -> None:
    def snapshot() -> list:
        with psycopg.connect(db_url) as conn:
            return conn.execute(
                "select c.relname, c.relacl::text from pg_class c join pg_namespace n "
                "on n.oid = c.relnamespace where n.nspname in ('registry','raster','etl') "
                "order by 1").fetchall()
    before = snapshot()
    dbmod.migrate(db_url)
    assert snapshot() == before


def test_every_column_and_table_has_a_comment(conn: psycopg.Connection) -> None:
    missing = conn.execute("""
        select c.table_schema || '.' || c.table_name || '.' || c.column_name
        from information_schema.columns c
        join pg_class t on t.relname = c.table_name
        join pg_namespace n on n.oid = t.relnamespace and n.nspname = c.table_schema
        where c.table_schema in ('registry', 'raster', 'etl') and t.relkind in ('r', 'p')
          and col_description(t.oid, c.ordinal_position) is null""").fetchall()
    assert missing == []
    no_table_comment = conn.execute("""
        select n.nspname || '.' || t.relname from pg_class t
        join pg_namespace n on n.oid = t.relnamespace
        where n.nspname in ('registry', 'raster', 'etl') and t.relkind in ('r', 'p')
          and obj_description(t.oid, 'pg_class') is null""").fetchall()
    assert no_table_comment == []


def test_geometries_are_typed_with_srid(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select f_table_schema, f_table_name, f_geometry_column, type, srid "
        "from geometry_columns where f_table_schema = 'registry' order by 2").fetchall()
    assert {(r[1], r[3], r[4]) for r in rows} == {
        ("regions", "MULTIPOLYGON", 4326), ("zones", "MULTIPOLYGON", 4326),
        ("projects", "MULTIPOLYGON", 4326), ("survey_plots", "POINT", 4326),
        ("reference_samples", "POINT", 4326)}


def test_extensions_and_server_python(conn: psycopg.Connection) -> None:
    versions = dbmod.server_versions(conn)
    assert versions["postgis"].startswith("3.")
    assert versions["postgis_raster"] == versions["postgis"]
    assert "numpy" in versions["plpython"]
    # numpy really runs inside the server
    conn.execute("""
        create function pg_temp.np_sum(n int) returns bigint language plpython3u
        as 'import numpy as np; return int(np.arange(n).sum())'""")
    total = conn.execute("select pg_temp.np_sum(1000)").fetchone()
    assert total == (499500,)


def test_china_albers_grid_crs_is_registered(conn: psycopg.Connection) -> None:
    # Beijing (116.4E, 39.9N) in CGCS2000 Albers (lon_0 105, parallels 25/47): computed
    # independently with pyproj from the same PROJ definition.
    from pyproj import Transformer

    t = Transformer.from_crs(
        "EPSG:4326",
        "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +x_0=0 +y_0=0 +ellps=GRS80 +units=m",
        always_xy=True)
    ex, ey = t.transform(116.4, 39.9)
    x, y = conn.execute("select st_x(p), st_y(p) from st_transform("
                        "st_setsrid(st_makepoint(116.4, 39.9), 4326), 990001) p").fetchone()
    assert x == pytest.approx(ex, abs=0.01) and y == pytest.approx(ey, abs=0.01)
    assert 900_000 < x < 1_000_000  # ~11.4° east of the central meridian at 40°N


def test_out_of_date_schema_is_refused(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        with pytest.raises(dbmod.SchemaOutOfDate, match="ecorest db migrate"):
            dbmod.require_current(conn)
    dbmod.migrate(empty_db_url, "base")
    dbmod.migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        assert dbmod.require_current(conn) == dbmod.head_revision()


def test_alembic_check_command_is_clean(db_url: str) -> None:
    """The command CI runs: `alembic upgrade head` then `alembic check`."""
    from alembic import command

    cfg = dbmod.alembic_config(db_url)
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises AutogenerateDiffsDetected on drift


def test_data_dictionary_is_up_to_date() -> None:
    """docs/DATA_DICTIONARY.md is generated from the dbt docs; it must match them."""
    import subprocess
    import sys


    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "data_dictionary.py"),
                          "--check"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout
