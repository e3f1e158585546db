"""Loading zones (admin units and other zone sets), reference samples and restoration projects.

Each loader reads any vector file or a CSV with coordinates, validates every row against its
spec (columns, types, codes, dates, geometry validity, inside the region, unique ids), writes the
good rows in one transaction and quarantines the rest (``strict`` fails the load instead).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
import shapely
from shapely.prepared import prep

from ecorest.errors import LoadError
from ecorest.vocab import PROJECT_TYPES

from .loadlog import LoadContext, check_file, previous_load, recorded_load, sha256_file
from .regions import Region, get_region
from .specs import Field, duplicates, resolve_columns, validate_rows
from .validation import Issue, fail, issue
from .vectors import FeatureTable, check_geometry, read_features
from .zone_grid import burn_zone_tiles

log = logging.getLogger(__name__)

POLYGONS = ("Polygon", "MultiPolygon")
POINTS = ("Point",)


@dataclass
class Prepared:
    table: FeatureTable
    region: Region
    sha: str
    rows: list[tuple[int, dict, object]]  # (index, values, geometry in EPSG:4326)
    rejected: list[Issue]
    warnings: list[Issue]


def _prepare(conn: psycopg.Connection, region_name: str, path: str | Path, fields: list[Field],
             geometry_types: tuple[str, ...], *, key: str | None, key_column_hint: str,
             mapping: dict[str, str] | None, crs: str | None, x: str | None, y: str | None,
             repair: bool, inside: str) -> Prepared:
    p = check_file(path, "vector")
    region = get_region(conn, region_name)
    boundary = shapely.from_wkb(conn.execute(
        "select st_asbinary(boundary) from registry.regions where region_id = %s",
        (region.region_id,)).fetchone()[0])
    conn.rollback()
    table = read_features(p, crs=crs, x=x, y=y)
    if len(table) == 0:
        raise fail(p, "", "table.empty")
    columns = resolve_columns(table, fields, mapping)
    good, rejected = validate_rows(table, fields, columns)
    if key:
        good, dupes = duplicates(table, good, key, columns.get(key, key_column_hint))
        rejected += dupes
    region_shape = prep(boundary)
    rows, warnings = [], []
    for i, values in good:
        g, found = check_geometry(table, i, geometry_types, repair)
        errors = [f for f in found if f.severity == "error"]
        warnings += [f for f in found if f.severity == "warning"]
        if errors:
            rejected += errors
            continue
        ok = region_shape.covers(g) if inside == "covers" else region_shape.intersects(g)
        if not ok:
            rejected.append(issue(p, table.items[i], "geometry.inside_region",
                                  region=region.name, record={"wkt": g.wkt[:500]}))
            continue
        rows.append((i, values, g))
    return Prepared(table, region, sha256_file(p), rows, rejected, warnings)


def _finish(ctx: LoadContext, prep_: Prepared, loaded: int, what: str) -> None:
    for w in prep_.warnings:
        ctx.warn(w)
    ctx.reject(prep_.rejected)
    ctx.rows_read = len(prep_.table)
    ctx.rows_loaded = loaded
    ctx.message = f"{loaded} {what} loaded, {len(prep_.rejected)} rejected"


def _noop(conn, loader: str, prepared: Prepared, layer: str) -> bool:
    done = previous_load(conn, loader, prepared.sha, region_id=prepared.region.region_id,
                         layer=layer)
    if done:
        log.info("%s: already loaded (load %d): nothing to do", prepared.table.path, done)
    return bool(done)


def _none_loaded(prepared: Prepared, strict: bool) -> None:
    if strict and prepared.rejected:
        raise LoadError(prepared.rejected)
    if not prepared.rows:
        raise LoadError([*prepared.rejected[:50]] or
                        issue(prepared.table.path, "", "table.empty"))


# ================================================================================================
# zones
# ================================================================================================
ADMIN_LEVELS = ("province", "city", "county", "township")
ZONE_FIELDS = [
    Field("zone_code", required=True, aliases=("code", "adcode", "gb2260", "gbcode", "id",
                                               "ws_id", "subws_id", "zone_id", "行政区划代码",
                                               "区划代码", "分区代码", "代码", "编码", "编号")),
    Field("name", aliases=("zone_name", "NAME", "title", "名称", "区划名称", "分区名称",
                           "行政区名称")),
    Field("admin_level", allowed=ADMIN_LEVELS, aliases=("level", "级别", "行政级别"),
          value_aliases=(("省", "province"), ("省级", "province"), ("市", "city"),
                         ("地级", "city"), ("市级", "city"), ("县", "county"),
                         ("县级", "county"), ("区县", "county"), ("乡", "township"),
                         ("乡镇", "township"), ("乡级", "township"))),
    Field("parent_code", aliases=("parent", "parent_adcode", "上级代码", "上级区划代码")),
]


def admin_level_of(code: str) -> str:
    """GB/T 2260: xx0000 province, xxxx00 prefecture-level city, else county-level."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def load_zones(conn: psycopg.Connection, region_name: str, path: str | Path, *,
               zone_set: str = "admin", mapping: dict[str, str] | None = None,
               code: str | None = None, name: str | None = None, crs: str | None = None,
               repair: bool = True, strict: bool = False, show_progress: bool = True) -> int:
    """Load a zone set (default: GB/T 2260 admin units); a new file replaces the set. The
    set is rasterised onto the region's grid in the same transaction (etl/zone_grid.py)."""
    fields = ZONE_FIELDS
    if code is not None:  # single-feature file whose code is given on the command line
        fields = [Field("zone_code")] + ZONE_FIELDS[1:]
    prepared = _prepare(conn, region_name, path, fields, POLYGONS, key="zone_code",
                        key_column_hint="zone_code", mapping=mapping, crs=crs, x=None, y=None,
                        repair=repair, inside="intersects")
    if code is not None:
        if len(prepared.rows) != 1:
            raise LoadError(f"{path}: --code applies to a file with one feature, this one has "
                            f"{len(prepared.table)}")
        i, values, g = prepared.rows[0]
        prepared.rows[0] = (i, {**values, "zone_code": code, "name": name or values["name"]}, g)
    keep = []
    for i, v, g in prepared.rows:
        zcode = str(v["zone_code"]).strip().removesuffix(".0")
        level = v.get("admin_level")
        if zone_set == "admin":
            if not (len(zcode) == 6 and zcode.isdigit()):
                prepared.rejected.append(issue(prepared.table.path, prepared.table.items[i],
                                               "value.type", column="zone_code", value=zcode,
                                               type="6-digit GB/T 2260 code"))
                continue
            level = level or admin_level_of(zcode)
        keep.append((i, {**v, "zone_code": zcode, "admin_level": level,
                         "name": v.get("name") or zcode}, g))
    prepared.rows = keep
    if _noop(conn, "zones", prepared, zone_set):
        return 0
    _none_loaded(prepared, strict)
    rows = [(v["zone_code"], v["name"], v["admin_level"], v.get("parent_code"), g)
            for _, v, g in keep]
    with recorded_load(conn, "zones", prepared.table.path, prepared.sha,
                       region_id=prepared.region.region_id, layer=zone_set,
                       options={"zone_set": zone_set, "mapping": mapping, "strict": strict},
                       strict=strict) as ctx:
        replaced = conn.execute("delete from registry.zones where region_id = %s and "
                                "zone_set = %s", (prepared.region.region_id, zone_set)).rowcount
        with conn.cursor() as cur:
            cur.executemany(
                "insert into registry.zones (region_id, zone_set, zone_code, name, admin_level, "
                "parent_code, geom, area_ha, load_id) select %(rid)s, %(set)s, %(code)s, "
                "%(name)s, %(level)s, %(parent)s, g, st_area(st_transform(g, %(srid)s)) / 1e4, "
                "%(load)s from (select st_multi(st_geomfromwkb(%(wkb)s, 4326)) g) s",
                [{"rid": prepared.region.region_id, "set": zone_set, "code": c, "name": n,
                  "level": lv, "parent": pc, "wkb": shapely.to_wkb(g), "srid": prepared.region.srid,
                  "load": ctx.load_id} for c, n, lv, pc, g in rows])
        tiles = burn_zone_tiles(conn, prepared.region, zone_set, ctx.load_id, show_progress)
        if replaced:
            ctx.warn(Issue(str(path), "", "zones.replaced",
                           f"replaced {replaced} zone(s) of set {zone_set!r}", "warning"))
        _finish(ctx, prepared, len(rows), f"zones of set {zone_set!r}")
        ctx.message += f"; {tiles} tiles on the region grid"
    return len(rows)


# ================================================================================================
# reference samples
# ================================================================================================
SAMPLE_FIELDS = [
    Field("sample_id", required=True, aliases=("id", "point_id", "sample", "样点号", "样点编号",
                                               "样本编号")),
    Field("reference_class", "int", aliases=("class", "class_code", "ref_class", "landcover",
                                             "参考类别", "地类代码")),
    Field("reference_grade", "int", range=(1, 9), aliases=("grade", "ref_grade", "参考等级")),
    Field("sample_date", "date", not_future=True, aliases=("date", "year", "obs_date",
                                                           "调查日期", "日期")),
    Field("source", aliases=("method", "interpreter", "来源")),
]


def load_samples(conn: psycopg.Connection, region_name: str, path: str | Path, *,
                 mapping: dict[str, str] | None = None, crs: str | None = None,
                 x: str | None = None, y: str | None = None, legend: str | None = None,
                 strict: bool = False) -> int:
    """Load reference samples (points with a reference class and/or grade)."""
    prepared = _prepare(conn, region_name, path, SAMPLE_FIELDS, POINTS, key="sample_id",
                        key_column_hint="sample_id", mapping=mapping, crs=crs, x=x, y=y,
                        repair=False, inside="covers")
    codes = _legend_codes(conn, prepared.region, legend)
    keep = []
    for i, v, g in prepared.rows:
        item = prepared.table.items[i]
        if v["reference_class"] is None and v["reference_grade"] is None:
            prepared.rejected.append(issue(prepared.table.path, item, "value.required",
                                           column="reference_class or reference_grade"))
        elif codes is not None and v["reference_class"] is not None and \
                v["reference_class"] not in codes:
            prepared.rejected.append(issue(prepared.table.path, item, "value.code",
                                           column="reference_class", value=v["reference_class"],
                                           allowed=sorted(codes)))
        else:
            keep.append((i, v, g))
    prepared.rows = keep
    if _noop(conn, "samples", prepared, "samples"):
        return 0
    _none_loaded(prepared, strict)
    with recorded_load(conn, "samples", prepared.table.path, prepared.sha,
                       region_id=prepared.region.region_id, layer="samples",
                       options={"mapping": mapping, "strict": strict}, strict=strict) as ctx:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into registry.reference_samples (region_id, sample_id, geom, "
                "reference_class, reference_grade, sample_date, source, load_id) values "
                "(%s, %s, st_geomfromwkb(%s, 4326), %s, %s, %s, %s, %s) "
                "on conflict (region_id, sample_id) do update set geom = excluded.geom, "
                "reference_class = excluded.reference_class, reference_grade = "
                "excluded.reference_grade, sample_date = excluded.sample_date, "
                "source = excluded.source, load_id = excluded.load_id",
                [(prepared.region.region_id, str(v["sample_id"]), shapely.to_wkb(g),
                  v["reference_class"], v["reference_grade"], v["sample_date"], v["source"],
                  ctx.load_id) for _, v, g in prepared.rows])
        _finish(ctx, prepared, len(prepared.rows), "reference samples")
    return len(prepared.rows)


def _legend_codes(conn, region: Region, legend: str | None) -> set[int] | None:
    if legend is None and region.legend_id is None:
        return None
    if legend is not None:
        from .legends import ensure_legend

        legend_id = ensure_legend(conn, legend)
    else:
        legend_id = region.legend_id
    codes = {r[0] for r in conn.execute(
        "select class_code from registry.legend_classes where legend_id = %s", (legend_id,))}
    conn.rollback()
    return codes


# ================================================================================================
# restoration projects
# ================================================================================================
#: Chinese names of the project types (values of 项目类型/修复措施)
PROJECT_TYPE_NAMES_ZH = (
    ("造林", "afforestation"), ("人工造林", "afforestation"), ("植树造林", "afforestation"),
    ("森林修复", "forest_restoration"), ("森林质量提升", "forest_restoration"),
    ("封山育林", "forest_restoration"),
    ("草原修复", "grassland_restoration"), ("草地修复", "grassland_restoration"),
    ("退化草原修复", "grassland_restoration"), ("湿地修复", "wetland_restoration"),
    ("湿地保护与修复", "wetland_restoration"), ("防沙治沙", "desertification_control"),
    ("荒漠化防治", "desertification_control"), ("矿山修复", "mine_rehabilitation"),
    ("矿山生态修复", "mine_rehabilitation"), ("水土保持", "soil_erosion_control"),
    ("水土流失治理", "soil_erosion_control"), ("石漠化治理", "rocky_desertification_control"),
    ("退耕还林", "cropland_to_forest"), ("退耕还林还草", "cropland_to_forest"),
    ("河湖修复", "river_lake_restoration"), ("河湖生态修复", "river_lake_restoration"),
    ("生物多样性保护", "biodiversity_conservation"), ("其他", "other"),
)
PROJECT_FIELDS = [
    Field("project_id", required=True, aliases=("id", "code", "project_code", "项目编号",
                                                "项目代码", "项目编码")),
    Field("name", required=True, aliases=("project_name", "title", "项目名称")),
    Field("project_type", required=True, allowed=PROJECT_TYPES,
          aliases=("type", "项目类型", "修复类型", "修复措施"),
          value_aliases=PROJECT_TYPE_NAMES_ZH),
    Field("start_date", "date", required=True, not_future=True,
          aliases=("start", "开始日期", "起始日期", "开工日期", "开始时间")),
    Field("end_date", "date", aliases=("end", "结束日期", "完成日期", "竣工日期", "结束时间")),
    Field("investment_cny", "float", range=(0, None),
          aliases=("investment", "投资", "投资元", "总投资", "总投资元", "投资额")),
    Field("agency", aliases=("implementing_agency", "owner", "实施单位", "建设单位")),
    Field("description", aliases=("notes", "说明", "备注", "项目描述")),
    Field("measures", aliases=("measure", "措施", "工程措施")),
    Field("is_example", "bool", aliases=("example",)),
]


def parse_measures(text: str | None) -> list[dict]:
    """Measures as JSON (list of objects) or 'type:area_ha; type:area_ha'."""
    if not text:
        return []
    text = text.strip()
    if text.startswith("["):
        items = json.loads(text)
        return [{"measure_type": str(m["measure_type"]), "area_ha": m.get("area_ha"),
                 "quantity": m.get("quantity"), "unit": m.get("unit"),
                 "description": m.get("description")} for m in items]
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        kind, _, area = part.partition(":")
        out.append({"measure_type": kind.strip(), "area_ha": float(area) if area else None,
                    "quantity": None, "unit": None, "description": None})
    return out


def _record_hash(v: dict, g) -> str:
    canon = json.dumps({k: (str(val) if val is not None else None) for k, val in sorted(v.items())},
                       sort_keys=True)
    shape = shapely.normalize(shapely.set_precision(g, 1e-7))
    return hashlib.sha256(canon.encode() + shapely.to_wkb(shape)).hexdigest()


def load_projects(conn: psycopg.Connection, region_name: str, path: str | Path, *,
                  mapping: dict[str, str] | None = None, crs: str | None = None,
                  repair: bool = True, examples: bool = False, strict: bool = False,
                  ) -> dict[str, int]:
    """Load restoration projects with history; returns counts of new, changed, unchanged."""
    prepared = _prepare(conn, region_name, path, PROJECT_FIELDS, POLYGONS, key="project_id",
                        key_column_hint="project_id", mapping=mapping, crs=crs, x=None, y=None,
                        repair=repair, inside="intersects")
    keep = []
    for i, v, g in prepared.rows:
        item = prepared.table.items[i]
        if v["end_date"] and v["end_date"] < v["start_date"]:
            prepared.rejected.append(issue(prepared.table.path, item, "value.range",
                                           column="end_date", value=v["end_date"],
                                           range=f"on or after start_date {v['start_date']}"))
            continue
        try:
            v["measures"] = parse_measures(v["measures"])
        except (ValueError, KeyError, TypeError) as exc:
            prepared.rejected.append(issue(prepared.table.path, item, "value.type",
                                           column="measures", value=str(exc)[:80],
                                           type="JSON list or 'type:area; ...'"))
            continue
        if examples:
            v["is_example"] = True
        keep.append((i, v, g))
    prepared.rows = keep
    counts = {"new": 0, "changed": 0, "unchanged": 0}
    if _noop(conn, "projects", prepared, "projects"):
        counts["unchanged"] = len(keep)
        return counts
    _none_loaded(prepared, strict)
    rid = prepared.region.region_id
    with recorded_load(conn, "projects", prepared.table.path, prepared.sha, region_id=rid,
                       layer="projects", options={"mapping": mapping, "strict": strict},
                       strict=strict) as ctx:
        current = dict(conn.execute(
            "select project_id, record_sha256 from registry.projects where region_id = %s and "
            "valid_to is null", (rid,)).fetchall())
        for _, v, g in prepared.rows:
            pid = str(v["project_id"])
            digest = _record_hash(v, g)
            if current.get(pid) == digest:
                counts["unchanged"] += 1
                continue
            version = 1
            if pid in current:
                version = conn.execute(
                    "update registry.projects set valid_to = now() where region_id = %s and "
                    "project_id = %s and valid_to is null returning version + 1",
                    (rid, pid)).fetchone()[0]
                counts["changed"] += 1
            else:
                counts["new"] += 1
            pvid = conn.execute(
                "insert into registry.projects (region_id, project_id, version, name, "
                "project_type, start_date, end_date, investment_cny, agency, description, "
                "is_example, geom, area_ha, record_sha256, load_id) select %(rid)s, %(pid)s, "
                "%(version)s, %(name)s, %(type)s, %(start)s, %(end)s, %(inv)s, %(agency)s, "
                "%(desc)s, %(example)s, g, st_area(st_transform(g, %(srid)s)) / 1e4, %(sha)s, "
                "%(load)s from (select st_multi(st_geomfromwkb(%(wkb)s, 4326)) g) s "
                "returning project_version_id",
                {"rid": rid, "pid": pid, "version": version, "name": v["name"],
                 "type": v["project_type"], "start": v["start_date"], "end": v["end_date"],
                 "inv": v["investment_cny"], "agency": v["agency"], "desc": v["description"],
                 "example": bool(v["is_example"]), "wkb": shapely.to_wkb(g),
                 "srid": prepared.region.srid, "sha": digest, "load": ctx.load_id},
            ).fetchone()[0]
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into registry.project_measures (project_version_id, measure_no, "
                    "measure_type, description, area_ha, quantity, unit) "
                    "values (%s, %s, %s, %s, %s, %s, %s)",
                    [(pvid, k + 1, m["measure_type"], m["description"], m["area_ha"],
                      m["quantity"], m["unit"]) for k, m in enumerate(v["measures"])])
        _finish(ctx, prepared, counts["new"] + counts["changed"], "project versions")
        ctx.message += f" ({counts['new']} new, {counts['changed']} changed, " \
                       f"{counts['unchanged']} unchanged)"
    return counts
