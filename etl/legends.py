"""Class legends: built-in (CLCD, HJ 1166 level II) or loaded from a CSV.

A legend CSV has the columns ``class_code, name_en`` and optionally ``name_zh, ipcc_category,
ecosystem_type, color_hex, cropland_kind``. ``cropland_kind`` (annual, paddy or perennial; for
cropland classes only, empty = annual) selects the IPCC Tier 1 cropland factors: paddy rice and
perennial/tree crops (orchards, 园地) have their own F_LU and biomass (docs/CARBON.md). Loading a
legend under an existing name replaces its classes.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import psycopg

from ecorest import assets
from ecorest.errors import LoadError
from ecorest.vocab import CROPLAND_KINDS, IPCC_CATEGORIES

from .loadlog import check_file, previous_load, recorded_load, sha256_file
from .validation import Issue, issue
from .vectors import read_features, require_columns

log = logging.getLogger(__name__)

BUILTIN_DIR = assets.path("legends")
BUILTIN = {
    "clcd": ("China Land Cover Dataset (CLCD), 9 classes",
             "Yang & Huang (2021), Earth Syst. Sci. Data 13:3907-3925"),
    "hj1166_l2": ("HJ 1166-2021 ecosystem classification, level II (24 classes)",
                  "HJ 1166-2021 全国生态状况调查评估技术规范—生态系统遥感解译与野外核查, "
                  "Table A.1"),
    "modis_igbp": ("MODIS MCD12Q1 land cover type 1 (IGBP), 17 classes",
                   "Friedl & Sulla-Menashe, MCD12Q1 user guide (NASA LP DAAC); IPCC "
                   "categories assigned by ecorest"),
}
#: largest class code: land cover is stored as 16BUI with 65535 as nodata
MAX_CLASS_CODE = 65534
HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
ECOSYSTEM_TYPES = ("forest", "grassland", "wetland", "cropland", "desert", "settlement", "other")


def ensure_legend(conn: psycopg.Connection, name: str) -> int:
    """The id of a legend, registering a built-in one on first use."""
    row = conn.execute("select legend_id from registry.legends where name = %s",
                       (name,)).fetchone()
    conn.rollback()
    if row:
        return row[0]
    if name not in BUILTIN:
        raise LoadError(f"legend {name!r} is not registered; load it with `ecorest load legend "
                        f"{name} FILE` (built-in: {', '.join(BUILTIN)})")
    title, source = BUILTIN[name]
    return load_legend(conn, name, BUILTIN_DIR / f"{name}.csv", title=title, source=source)


def _validate(path: Path) -> tuple[list[tuple], list[Issue]]:
    table = read_features(path, require_geometry=False)
    require_columns(table, ["class_code", "name_en"])
    rows, problems, seen = [], [], {}
    for i in range(len(table)):
        r = table.row(i)
        item = table.items[i]
        try:
            code = int(str(r["class_code"]))
        except (TypeError, ValueError):
            problems.append(issue(path, item, "value.type", column="class_code",
                                  value=r["class_code"], type="integer"))
            continue
        if not 0 <= code <= MAX_CLASS_CODE:
            problems.append(issue(path, item, "value.range", column="class_code", value=code,
                                  range=f"[0, {MAX_CLASS_CODE}] (the class codes a land-cover "
                                        "tile can hold; 65535 is its nodata)"))
            continue
        if code in seen:
            problems.append(issue(path, item, "id.unique", column="class_code", value=code,
                                  count=2))
        seen[code] = item
        if not r.get("name_en"):
            problems.append(issue(path, item, "value.required", column="name_en"))
        cat = r.get("ipcc_category")
        if cat and cat not in IPCC_CATEGORIES:
            problems.append(issue(path, item, "value.code", column="ipcc_category", value=cat,
                                  allowed=list(IPCC_CATEGORIES)))
        eco = r.get("ecosystem_type")
        if eco and eco not in ECOSYSTEM_TYPES:
            problems.append(issue(path, item, "value.code", column="ecosystem_type", value=eco,
                                  allowed=list(ECOSYSTEM_TYPES)))
        kind = r.get("cropland_kind")
        if kind and kind not in CROPLAND_KINDS:
            problems.append(issue(path, item, "value.code", column="cropland_kind", value=kind,
                                  allowed=list(CROPLAND_KINDS)))
        elif kind and cat and cat != "cropland":
            problems.append(Issue(str(path), item, "value.code",
                                  f"cropland_kind = {kind!r} given for a {cat} class: only "
                                  "cropland classes have a cropland kind"))
        color = r.get("color_hex")
        if color and not HEX_COLOUR.fullmatch(str(color)):
            problems.append(issue(path, item, "value.type", column="color_hex", value=color,
                                  type="colour #RRGGBB (e.g. #1b7837)"))
        rows.append((code, r["name_en"], r.get("name_zh"), cat, eco, color,
                     kind or None))
    if not rows and not problems:
        problems.append(issue(path, "", "table.empty"))
    return rows, problems


def load_legend(conn: psycopg.Connection, name: str, path: str | Path, *,
                title: str | None = None, source: str | None = None) -> int:
    """Register or replace legend ``name`` from a CSV; returns the legend id."""
    path = check_file(path, "CSV")
    rows, problems = _validate(path)
    if problems:  # a legend is all or nothing
        raise LoadError(problems)
    sha = sha256_file(path)
    existing = conn.execute("select legend_id from registry.legends where name = %s",
                            (name,)).fetchone()
    conn.rollback()
    if existing and previous_load(conn, "legend", sha, layer=name):
        log.info("legend %s already loaded from this file: nothing to do", name)
        return existing[0]
    with recorded_load(conn, "legend", path, sha, layer=name) as ctx:
        legend_id = conn.execute(
            "insert into registry.legends (name, title, source) values (%s, %s, %s) "
            "on conflict (name) do update set title = coalesce(excluded.title, legends.title), "
            "source = excluded.source returning legend_id",
            (name, title, source or str(path))).fetchone()[0]
        conn.execute("delete from registry.legend_classes where legend_id = %s", (legend_id,))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into registry.legend_classes (legend_id, class_code, name_en, name_zh, "
                "ipcc_category, ecosystem_type, color_hex, cropland_kind) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(legend_id, *r) for r in rows])
        ctx.rows_read = ctx.rows_loaded = len(rows)
        ctx.message = f"legend {name}: {len(rows)} classes"
    return legend_id
