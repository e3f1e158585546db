"""Planner statistics: every load leaves the tables it wrote analysed (the catalog, its tile
partitions, the registry tables), and every model that writes a table leaves it analysed
before the next model reads it; without them the planner guesses row counts, and a join of
new tiles, zones and catalog entries took minutes instead of seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
from test_carbon import tiny_region

from ecorest.run import run_assessment

LEGEND = "class_code,name_en,ipcc_category\n1,grass,grassland\n2,crop,cropland\n"
POOLS = "lucode,C_above,C_below,C_soil,C_dead\n1,5,5,60,0\n2,5,0,40,0\n"


def unanalysed(conn: psycopg.Connection, schemas: list[str]) -> list[tuple[str, float, int]]:
    """Tables of these schemas whose statistics do not give their row count:
    (name, reltuples (-1: never analysed), rows). Tables of failing test rows (dbt's
    store_failures) are not models and are left out."""
    out = []
    for schema, name, reltuples in conn.execute(
            "select n.nspname, c.relname, c.reltuples from pg_class as c "
            "join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = any(%s) and c.relkind = 'r' "
            "and c.relname !~ '^(assert|unique|not_null|accepted_values|relationships)_' "
            "order by 1, 2", (schemas,)).fetchall():
        rows = conn.execute(psycopg.sql.SQL("select count(*) from {}").format(
            psycopg.sql.Identifier(schema, name))).fetchone()[0]
        if reltuples != rows:
            out.append((f"{schema}.{name}", reltuples, rows))
    return out


def test_loads_and_models_leave_their_tables_analysed(db_url: str, tmp_path: Path) -> None:
    a = np.full((64, 64), 1)
    a[:, 40:] = 2
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((64, 64), 1), "2010": a}, LEGEND, POOLS)
        parts = conn.execute("select count(*) from pg_inherits "
                             "where inhparent = 'raster.tiles'::regclass").fetchone()[0]
        after_loads = unanalysed(conn, ["raster"])
        registry = [t for t in unanalysed(conn, ["registry"])
                    if t[0] in ("registry.regions", "registry.legend_classes",
                                "registry.parameter_values")]
        conn.rollback()
        run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        after_run = unanalysed(conn, ["intermediate", "marts"])
        built = conn.execute("select count(*) from pg_tables "
                             "where schemaname in ('intermediate', 'marts')").fetchone()[0]
    assert parts == 2
    assert after_loads == [] and registry == []
    assert built > 20 and after_run == []
