"""Versioned parameter sets: carbon densities, factors, growth rates, weights, thresholds.

Two CSV layouts are accepted:

* **long**: ``parameter, class_code, pool, stratum, value, unit, uncertainty_pct, source``
  (only ``parameter``, ``value`` and ``unit`` are required);
* **InVEST carbon pool table**: ``lucode, C_above, C_below, C_soil, C_dead`` (Mg C/ha), loaded
  as it is: one ``carbon_density`` value per class and pool (agb, bgb, soc, dead_wood).

Every set has a name, a version and a source text, and belongs to a region (``region=NAME``)
or is global (``region=None``: every region may use it). Versions count per owner and name:
loading a changed file under the same name for the same region (or globally) adds the next
version and makes it the active one of that name; the same file again is a no-op. A run takes,
per kind, the region's active set, else an active global set (``ecorest.run``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import psycopg

from ecorest.errors import LoadError
from ecorest.vocab import CARBON_POOLS, PARAMETER_KINDS

from .loadlog import check_file, previous_load, recorded_load, sha256_file
from .regions import get_region
from .specs import Field, resolve_columns, validate_rows
from .validation import fail, issue
from .vectors import read_features

log = logging.getLogger(__name__)

LONG_FIELDS = [
    Field("parameter", required=True, aliases=("name", "param")),
    Field("class_code", "int", aliases=("lucode", "class", "code")),
    Field("pool", allowed=CARBON_POOLS),
    Field("stratum", aliases=("zone", "climate")),
    Field("value", "float", required=True),
    Field("unit", required=True, aliases=("units",)),
    Field("uncertainty_pct", "float", range=(0, 1000), aliases=("uncertainty", "u_pct")),
    Field("source", aliases=("reference", "citation")),
]
INVEST_POOLS = {"C_above": "agb", "C_below": "bgb", "C_soil": "soc", "C_dead": "dead_wood"}


def _rows(path: Path) -> tuple[list[tuple], list, str]:
    table = read_features(path, require_geometry=False)
    if len(table) == 0:
        raise fail(path, "", "table.empty")
    if {"lucode", *INVEST_POOLS} <= set(table.columns):
        fields = [Field("lucode", "int", required=True),
                  *[Field(c, "float", required=True, range=(0, 5000)) for c in INVEST_POOLS]]
        good, problems = validate_rows(table, fields, {f.name: f.name for f in fields})
        rows = [("carbon_density", v["lucode"], pool, None, v[col], "t C/ha", None, None)
                for _, v in good for col, pool in INVEST_POOLS.items()]
        return rows, problems, "invest_carbon_pools"
    columns = resolve_columns(table, LONG_FIELDS)
    good, problems = validate_rows(table, LONG_FIELDS, columns)
    rows = [(v["parameter"], v["class_code"], v["pool"], v["stratum"], v["value"], v["unit"],
             v["uncertainty_pct"], v["source"]) for _, v in good]
    return rows, problems, "long"


def load_params(conn: psycopg.Connection, path: str | Path, *, region: str | None = None,
                name: str, kind: str, source_text: str, description: str | None = None,
                ipcc_edition: str | None = None, activate: bool = True) -> tuple[int, int]:
    """Load a parameter set owned by ``region`` (None: a global set); returns
    (parameter_set_id, version)."""
    p = check_file(path, "CSV")
    if kind not in PARAMETER_KINDS:
        raise fail(p, "--kind", "value.code", column="kind", value=kind,
                   allowed=list(PARAMETER_KINDS))
    if not name or not name.strip():
        raise fail(p, "--name", "value.required", column="name (parameter set name)")
    if not source_text or not source_text.strip():
        raise fail(p, "--source", "value.required", column="source (bibliographic source)")
    if ipcc_edition not in (None, "2006", "2019"):
        raise fail(p, "--ipcc-edition", "value.code", column="ipcc_edition", value=ipcc_edition,
                   allowed=["2006", "2019"])
    region_id = None
    if region is not None:
        region_id = get_region(conn, region).region_id
        conn.rollback()
    rows, problems, layout = _rows(p)
    keys = [(r[0], r[1], r[2], r[3]) for r in rows]
    seen: dict = {}
    for k in keys:
        seen[k] = seen.get(k, 0) + 1
    problems += [issue(p, "", "id.unique", column="parameter/class_code/pool/stratum",
                       value=k, count=n) for k, n in seen.items() if n > 1]
    if problems:  # a parameter set is all or nothing
        raise LoadError(problems)
    if any(not math.isfinite(r[4]) for r in rows):
        raise fail(p, "", "params.format", detail="non-finite value")
    sha = sha256_file(p)
    owner = f"region {region}" if region is not None else "global"
    done = previous_load(conn, "params", sha, layer=name, region_id=region_id)
    if done:
        row = conn.execute("select parameter_set_id, version from registry.parameter_sets "
                           "where load_id = %s", (done,)).fetchone()
        conn.rollback()
        log.info("parameter set %s (%s) already loaded from this file (version %d)", name, owner,
                 row[1])
        return row
    with recorded_load(conn, "params", p, sha, region_id=region_id, layer=name,
                       options={"kind": kind, "layout": layout,
                                "ipcc_edition": ipcc_edition}) as ctx:
        # versions count per owner (the region, or the global sets) and name
        version = conn.execute("select coalesce(max(version), 0) + 1 from "
                               "registry.parameter_sets where region_id is not distinct from %s "
                               "and name = %s", (region_id, name)).fetchone()[0]
        if activate:
            conn.execute("update registry.parameter_sets set is_active = false "
                         "where region_id is not distinct from %s and name = %s",
                         (region_id, name))
        set_id = conn.execute(
            "insert into registry.parameter_sets (region_id, name, version, kind, description, "
            "source_text, source_sha256, ipcc_edition, is_active, load_id) values (%s, %s, %s, "
            "%s, %s, %s, %s, %s, %s, %s) returning parameter_set_id",
            (region_id, name, version, kind, description, source_text, sha, ipcc_edition,
             activate, ctx.load_id)).fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "insert into registry.parameter_values (parameter_set_id, parameter, class_code, "
                "pool, stratum, value, unit, uncertainty_pct, source) values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)", [(set_id, *r) for r in rows])
        ctx.rows_read = ctx.rows_loaded = len(rows)
        ctx.message = (f"parameter set {name} v{version} ({owner}, {layout}): "
                       f"{len(rows)} values")
    return set_id, version
