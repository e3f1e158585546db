"""`ecorest export`: one run's results as GeoPackage, GeoTIFF, CSV and Excel files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ecorest import __version__
from ecorest.errors import ResultError
from ecorest.vocab import EXPORT_FORMATS

from . import data

log = logging.getLogger(__name__)

# result tables (marts) exported as CSV / Excel sheets: name -> order by
TABLES = {
    "zone_scores": "zone_set, zone_code",
    "restoration_patches": "patch_no",
    "ndvi_trends": "zone_set, zone_code, trend_class",
    "factor_summaries": "factor_no",
    "identification_accuracy": "grade",
    "identification_confusion": "map_grade, reference_grade",
    "landcover_accuracy": "epoch_label, class_code",
    "carbon_stocks": "zone_set, zone_code, epoch_label, class_code, pool",
    "carbon_stock_changes": "zone_set, zone_code, epoch_t1, pool",
    "landcover_transitions": "zone_set, zone_code, epoch_t1, class_t1, class_t2",
    "soc_transition_changes": "zone_set, zone_code, epoch_t1",
    "carbon_uncertainty": "zone_set, zone_code, quantity, epoch_t1, pool",
    "project_benefits": "project_id, epoch_t1, pool",
    "project_benefit_uncertainty": "project_id, epoch_t1, pool",
    "project_sink_rates": "project_id",
    "project_matched_benefits": "project_id, year_t1",
    "project_match_balance": "project_id, covariate",
    "project_sink_rate_change": "project_id",
    "project_cost_effectiveness": "project_id",
    "signal_calibration": "ecosystem_type",
    "signal_carbon_stocks": "zone_set, zone_code, year, class_code",
    "signal_carbon_changes": "zone_set, zone_code, year_t1",
    "plot_validation": "plot_id, pool",
    "plot_validation_summary": "ecosystem_type, pool",
    "parameter_lineage": "class_code, pool",
}


def table(conn, name: str, run_id: int) -> pd.DataFrame:
    """A result table (its non-geometry columns) of one run."""
    cols = [r["column_name"] for r in data.rows(
        conn, "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = %s and udt_name <> 'geometry' order by ordinal_position", (name,))]
    query = sql.SQL("select {} from {} where run_id = %s order by {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.Identifier("marts", name),
        sql.SQL(", ").join(sql.Identifier(c.strip()) for c in TABLES[name].split(",")))
    return pd.DataFrame(data.rows(conn, query, (run_id,)), columns=cols)


# --- GeoPackage -----------------------------------------------------------------------------

#: layer -> (description, query with %s parameters (run_id or region, run_id))
GPKG_LAYERS = {
    "restoration_patches": (
        "Restoration patches: contiguous areas of priority grades 1..patch_max_grade "
        "(marts.restoration_patches) / 修复图斑",
        """select patch_id, patch_no, grade, grade_name_en, grade_name_zh, area_ha,
                  mean_composite, mean_degradation, mean_importance, dominant_factors,
                  admin_codes, st_asbinary(geom) as wkb
           from marts.restoration_patches where run_id = %s order by patch_no"""),
    "zone_scores": (
        "Restoration priority per zone: area by grade, need share and mean scores "
        "(marts.zone_scores) / 分区修复优先度",
        """select zone_score_id, zone_set, zone_code, zone_name, assessed_ha,
                  priority_restoration_ha, restoration_ha, improvement_ha, protection_ha,
                  general_ha, restoration_need_pct, mean_composite, top_factors,
                  st_asbinary(geom) as wkb
           from marts.zone_scores where run_id = %s order by zone_set, zone_code"""),
    "projects": (
        "Restoration projects (current versions) with their benefit in the run, summed over "
        "periods and pools (registry.projects, marts.project_benefits) / 修复项目及增汇效益",
        """select p.project_id, p.name, p.project_type, p.start_date, p.is_example,
                  p.area_ha, b.change_t, b.baseline_change_t, b.benefit_t,
                  b.sink_enhancement_co2e_t_per_yr, st_asbinary(p.geom) as wkb
           from registry.projects p
           join registry.regions r on r.region_id = p.region_id and r.name = %s
           left join (select project_version_id, sum(change_t) as change_t,
                             sum(baseline_change_t) as baseline_change_t,
                             sum(benefit_t) as benefit_t,
                             sum(sink_enhancement_co2e_t_per_yr)
                                 as sink_enhancement_co2e_t_per_yr
                      from marts.project_benefits where run_id = %s
                      group by 1) b on b.project_version_id = p.project_version_id
           where p.valid_to is null order by p.project_id"""),
}

_INT_TYPES = {"int2", "int4", "int8", "smallint", "integer", "bigint"}
_FLOAT_TYPES = {"float4", "float8", "numeric", "real", "double precision"}


def _typed_columns(conn, query: str, params: tuple) -> tuple[list[str], list[str], list[tuple]]:
    """Column names, their PostgreSQL type names and the rows of a query."""
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        types = []
        for d in cur.description:
            info = conn.adapters.types.get(d.type_code)
            types.append(info.name if info is not None else "text")
        return names, types, cur.fetchall()


def _field(values: list, pgtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A GeoPackage field of a PostgreSQL type: integers as int64, floats as float64, booleans,
    dates as dates, anything else as text; NULLs stay NULL (the mask)."""
    null = np.array([v is None for v in values], dtype=bool)
    mask = null if null.any() else None
    if pgtype in _INT_TYPES:
        return np.array([0 if v is None else int(v) for v in values], dtype=np.int64), mask
    if pgtype in _FLOAT_TYPES:
        return np.array([np.nan if v is None else float(v) for v in values]), mask
    if pgtype == "bool":
        return np.array([bool(v) for v in values], dtype=bool), mask
    if pgtype == "date":
        return np.array([np.datetime64("NaT") if v is None else np.datetime64(v, "D")
                         for v in values], dtype="datetime64[D]"), mask
    if pgtype.startswith("_"):  # arrays: comma-separated text
        values = [None if v is None else ", ".join(str(x) for x in v) for v in values]
    return np.array(["" if v is None else str(v) for v in values], dtype=object), mask


def _gpkg(conn, path: Path, run_id: int, region: str, meta: dict[str, str]) -> None:
    """Patches, zones and projects with their results, every layer written even when empty;
    ids as integers, dates as dates, NULLs kept, a description per layer."""
    from pyogrio.raw import write

    params = {"restoration_patches": (run_id,), "zone_scores": (run_id,),
              "projects": (region, run_id)}
    for i, (layer, (description, query)) in enumerate(GPKG_LAYERS.items()):
        names, types, found = _typed_columns(conn, query, params[layer])
        w = names.index("wkb")
        geoms = np.array([None if r[w] is None else bytes(r[w]) for r in found], dtype=object)
        fields, masks, keep = [], [], [n for n in names if n != "wkb"]
        for name in keep:
            k = names.index(name)
            values, mask = _field([r[k] for r in found], types[k])
            fields.append(values)
            masks.append(mask)
        write(str(path), geoms, fields, keep, field_mask=masks, layer=layer, driver="GPKG",
              geometry_type="MultiPolygon", crs="EPSG:4326", append=i > 0,
              layer_options={"DESCRIPTION": description, "IDENTIFIER": layer},
              layer_metadata={**meta, "ECOREST_SOURCE": description.split("(")[-1].split(")")[0]},
              **({"dataset_metadata": meta} if i == 0 else {}))


# --- GeoTIFF (Cloud-Optimised) -----------------------------------------------------------------

#: priority grade colours (as in the report's map) and names
GRADE_COLOURS = {1: "#b2182b", 2: "#ef8a62", 3: "#fddbc7", 4: "#67a9cf", 5: "#e0e0e0"}


def region_grid(conn, region: str) -> dict:
    """The region's grid: origin_x, origin_y (upper-left corner), pixel_size_m, width_px,
    height_px, srid."""
    return data.rows(conn, "select origin_x, origin_y, pixel_size_m, width_px, height_px, srid "
                           "from registry.regions where name = %s", (region,))[0]


def crop(grid: data.Grid, reg: dict) -> data.Grid:
    """``grid`` (a mosaic of whole tiles) cut or padded to exactly the region's grid."""
    px = grid.pixel_m
    h, w = int(reg["height_px"]), int(reg["width_px"])
    # region row y is mosaic row y + dr, region column x is mosaic column x + dc
    ys = np.arange(h) + round((grid.top - reg["origin_y"]) / px)
    xs = np.arange(w) + round((reg["origin_x"] - grid.left) / px)
    ok_y = (ys >= 0) & (ys < grid.values.shape[0])
    ok_x = (xs >= 0) & (xs < grid.values.shape[1])
    out = np.full((h, w), np.nan)
    out[np.ix_(ok_y, ok_x)] = grid.values[np.ix_(ys[ok_y], xs[ok_x])]
    return data.Grid(out, reg["origin_x"], reg["origin_y"], px)
def _hex(colour: str) -> tuple[int, int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255


def cog(path: Path, grid: data.Grid, crs, dtype: str, nodata: float, *, description: str,
        units: str, tags: dict[str, str], classes: dict[int, str] | None = None,
        colours: dict[int, str] | None = None) -> Path:
    """A Cloud-Optimised GeoTIFF (tiled, DEFLATE, overviews down to 32 px) of one band with its
    description, units, nodata and ``tags`` (run id, region, source, code version ...); a
    categorical band also gets a colour table and its class names (band metadata CLASS_<code>
    and GDAL category names in the .aux.xml beside the file)."""
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy
    from rasterio.transform import from_origin

    a = grid.values
    out = np.where(np.isnan(a), nodata, a).astype(dtype)
    h, w = out.shape
    overviews = 0
    while max(h, w) / 2 ** overviews > 32:
        overviews += 1
    profile = dict(driver="GTiff", width=w, height=h, count=1, dtype=dtype, crs=crs,
                   nodata=nodata, transform=from_origin(grid.left, grid.top, grid.pixel_m,
                                                         grid.pixel_m))
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(out, 1)
            dst.set_band_description(1, description)
            dst.set_band_unit(1, units)
            dst.update_tags(**tags)
            if classes:
                dst.update_tags(1, **{f"CLASS_{k}": v for k, v in classes.items()})
            if colours:
                dst.write_colormap(1, {k: _hex(c) for k, c in colours.items()})
        with mem.open() as src:
            path.unlink(missing_ok=True)
            copy(src, path, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=256,
                 OVERVIEW_COUNT=overviews,
                 RESAMPLING="NEAREST" if classes else "AVERAGE",
                 OVERVIEW_RESAMPLING="NEAREST" if classes else "AVERAGE")
    aux = path.with_name(path.name + ".aux.xml")
    aux.unlink(missing_ok=True)
    if classes:  # GDAL category names: index = pixel value
        from xml.sax.saxutils import escape

        names = [classes.get(i, "") for i in range(max(classes) + 1)]
        aux.write_text(
            "<PAMDataset>\n  <PAMRasterBand band=\"1\">\n    <CategoryNames>\n"
            + "".join(f"      <Category>{escape(n)}</Category>\n" for n in names)
            + "    </CategoryNames>\n  </PAMRasterBand>\n</PAMDataset>\n", encoding="utf-8")
    with rasterio.open(path) as check:  # the layout GDAL wrote
        assert check.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG", path
    return path


# --- Excel ---------------------------------------------------------------------------------------

#: words of column names in Chinese (headers are built from them when no full name is known)
ZH_WORDS = {
    "run": "运行", "id": "编号", "zone": "分区", "set": "集", "code": "代码", "name": "名称",
    "region": "区域", "epoch": "时期", "label": "标签", "year": "年份", "years": "年数",
    "class": "地类", "pool": "碳库", "carbon": "碳", "area": "面积", "ha": "（公顷）",
    "t": "（吨）", "per": "每", "pct": "（%）", "density": "密度", "change": "变化",
    "stock": "储量", "stocks": "储量", "sink": "碳汇", "co2e": "CO2当量", "yr": "年",
    "grade": "等级", "patch": "图斑", "no": "序号", "mean": "平均", "composite": "综合得分",
    "degradation": "退化", "importance": "重要性", "factor": "因子", "factors": "因子",
    "dominant": "主导", "admin": "行政", "codes": "代码", "assessed": "评估",
    "priority": "优先", "restoration": "修复", "improvement": "提升", "protection": "保护",
    "general": "一般", "need": "需求", "top": "主要", "trend": "趋势", "slope": "斜率",
    "ndvi": "NDVI", "weight": "权重", "accuracy": "精度", "users": "用户", "producers": "生产者",
    "overall": "总体", "kappa": "Kappa", "map": "图", "reference": "参考", "samples": "样本",
    "project": "项目", "version": "版本", "benefit": "效益", "baseline": "基线",
    "uncertainty": "不确定性", "quantity": "量", "total": "合计", "mapped": "制图",
    "estimated": "估计", "ci": "置信区间", "plot": "样地", "plots": "样地", "measured": "实测",
    "modelled": "模拟", "bias": "偏差", "rmse": "均方根误差", "mre": "平均相对误差",
    "within": "以内", "share": "比例", "parameter": "参数", "value": "值", "unit": "单位",
    "tier": "层级", "source": "来源", "selected": "选择", "because": "原因",
    "ecosystem": "生态系统", "type": "类型", "signal": "植被信号", "calibration": "标定",
    "matched": "匹配", "control": "对照", "controls": "对照", "leakage": "泄漏", "rate": "速率",
    "cost": "成本", "investment": "投资", "cny": "（元）", "covariate": "协变量",
    "pixels": "像元数", "from": "自", "to": "至", "t1": "起", "t2": "止", "start": "开始",
    "date": "日期", "is": "是否", "example": "示例", "ipcc": "IPCC", "edition": "版本",
    "soc": "土壤有机碳", "gain": "增加", "loss": "减少", "low": "下限", "high": "上限",
    "p2": "P2", "p97": "P97", "5": ".5", "mc": "蒙特卡洛", "approach1": "方法1", "min": "最小",
    "max": "最大", "count": "个数", "transition": "转换", "enhancement": "增强",
    "within_class": "类内", "pre": "前", "post": "后", "before": "之前", "after": "之后",
    "periods": "时段", "significant": "显著", "p": "P", "valid": "有效", "dm": "干物质",
}

_EN_UNITS = [("_co2e_t_per_yr", " (t CO2e/yr)"), ("_t_per_ha_yr", " (t/ha/yr)"),
             ("_t_per_ha", " (t/ha)"), ("_t_per_yr", " (t/yr)"), ("_pct", " (%)"),
             ("_ha", " (ha)"), ("_t", " (t)"), ("_cny", " (CNY)"), ("_m", " (m)")]


def headers(column: str) -> tuple[str, str]:
    """(Chinese, English) header of a result column, built from its name's words and unit."""
    en, unit = column, ""
    for suffix, text in _EN_UNITS:
        if column.endswith(suffix) and column != suffix[1:]:
            en, unit = column[: -len(suffix)], text
            break
    english = en.replace("_", " ").strip().capitalize() + unit
    words = column.split("_")
    zh = "".join(ZH_WORDS.get(w, w) for w in words)
    return zh, english


def number_format(column: str, pgtype: str) -> str | None:
    if pgtype in _INT_TYPES:
        return "0" if column.endswith(("_id", "_no", "_code", "year", "_t1", "_t2")) \
            or column in ("grade", "pixels_code") else "#,##0"
    if pgtype not in _FLOAT_TYPES:
        return None
    if column.endswith("_ha"):
        return "#,##0.00"
    if column.endswith(("_t", "_t_per_yr", "_co2e_t_per_yr")):
        return "#,##0.0"
    if column.endswith(("_pct", "_t_per_ha", "_t_per_ha_yr")):
        return "#,##0.00"
    return "0.0000"


def _xlsx(conn, path: Path, run_id: int, meta: dict[str, str]) -> None:
    """One sheet per result table with rows; bilingual two-row header (Chinese, English) over
    the column names, frozen; number formats by unit; a README sheet first (the run, every
    sheet and column with its description, the tables without rows)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    readme = wb.active
    readme.title = "README"
    readme.append(["ecorest 结果表 / result tables"])
    readme["A1"].font = Font(bold=True, size=13)
    for k, v in meta.items():
        readme.append([k, v])
    readme.append([])
    readme.append(["工作表 / sheet", "列 / column", "中文", "English", "说明 / description"])
    header_row = readme.max_row
    for c in readme[header_row]:
        c.font = Font(bold=True)
    empty = []
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for name in TABLES:
        comments = {r["k"]: r["v"] for r in data.rows(conn, """
            select a.attname as k, col_description(a.attrelid, a.attnum) as v
            from pg_attribute a where a.attrelid = %s::regclass and a.attnum > 0
              and not a.attisdropped""", (f"marts.{name}",))}
        cols = [r for r in data.rows(conn, """
            select column_name, udt_name from information_schema.columns
            where table_schema = 'marts' and table_name = %s and udt_name <> 'geometry'
            order by ordinal_position""", (name,))]
        query = sql.SQL("select {} from {} where run_id = %s order by {}").format(
            sql.SQL(", ").join(sql.Identifier(c["column_name"]) for c in cols),
            sql.Identifier("marts", name),
            sql.SQL(", ").join(sql.Identifier(c.strip()) for c in TABLES[name].split(",")))
        with conn.cursor() as cur:
            found = cur.execute(query, (run_id,)).fetchall()
        table_comment = data.rows(conn, "select obj_description(%s::regclass, 'pg_class') as d",
                                  (f"marts.{name}",))[0]["d"] or ""
        if not found:
            empty.append(name)
            continue
        ws = wb.create_sheet(name[:31])
        ws.append([headers(c["column_name"])[0] for c in cols])
        ws.append([headers(c["column_name"])[1] for c in cols])
        ws.append([c["column_name"] for c in cols])
        for r in range(1, 4):
            for cell in ws[r]:
                cell.font = bold if r < 3 else Font(italic=True, color="666666")
                cell.fill = fill
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in found:
            ws.append([v if v is None or isinstance(v, (int, float, str, bool))
                       else (", ".join(map(str, v)) if isinstance(v, list) else
                             (float(v) if hasattr(v, "as_tuple") else str(v)))
                       for v in row])
        for j, c in enumerate(cols, start=1):
            fmt = number_format(c["column_name"], c["udt_name"])
            letter = get_column_letter(j)
            if fmt:
                for cell in ws[letter][3:]:
                    cell.number_format = fmt
            ws.column_dimensions[letter].width = max(10, min(40, len(c["column_name"]) + 4))
        ws.freeze_panes = "A4"
        ws.auto_filter.ref = f"A3:{get_column_letter(len(cols))}{ws.max_row}"
        readme.append([ws.title, "", "", "", table_comment])
        readme[readme.max_row][0].font = bold
        for c in cols:
            zh, en = headers(c["column_name"])
            readme.append([ws.title, c["column_name"], zh, en,
                           comments.get(c["column_name"]) or ""])
    if empty:
        readme.append([])
        readme.append(["本次运行无数据的表 / tables without rows in this run",
                       ", ".join(empty)])
    readme.freeze_panes = f"A{header_row + 1}"
    for letter, width in zip("ABCDE", (28, 30, 24, 30, 90), strict=True):
        readme.column_dimensions[letter].width = width
    wb.save(path)


def missing_inputs(conn, run_id: int) -> list[dict]:
    """The raster inputs a run recorded (etl.assessment_runs.input_catalog_ids) whose tiles are
    gone since (a later load replaced that layer and epoch): layer, epoch, file, and who
    replaced it."""
    return data.rows(conn, """
        select u.catalog_id, c.layer, c.epoch_label, c.source_path,
               (select n.source_path from raster.catalog n
                where n.region_id = c.region_id and n.layer = c.layer
                  and n.epoch_label = c.epoch_label and n.is_current) as replaced_by
        from etl.assessment_runs a
        cross join lateral unnest(a.input_catalog_ids) as u(catalog_id)
        left join raster.catalog c on c.catalog_id = u.catalog_id
        where a.run_id = %s
          and (c.catalog_id is null
               or (c.tile_count > 0 and not exists (select 1 from raster.tiles t
                                                    where t.catalog_id = u.catalog_id)))
        order by c.layer, c.epoch_label, u.catalog_id""", (run_id,))


def missing_inputs_text(run_id: int, gone: list[dict]) -> str:
    lines = [f"Run {run_id} read raster layers whose tiles have been replaced or removed since; "
             "the GeoTIFF maps drawn from them (carbon density of those epochs and the change "
             "map) are not written:"]
    for g in gone:
        if g["layer"] is None:
            lines.append(f"  raster catalog entry {g['catalog_id']}: removed")
            continue
        by = f", replaced by {g['replaced_by']}" if g["replaced_by"] else ""
        lines.append(f"  {g['layer']} {g['epoch_label']} (catalog entry {g['catalog_id']}, "
                     f"file {g['source_path']}{by})")
    return "\n".join(lines) + "\n"


def _geotiffs(conn, region: str, run_id: int, out_dir: Path, stem: str,
              meta: dict[str, str]) -> list[Path]:
    """The grade and score rasters, the total carbon density of every epoch and its change,
    as Cloud-Optimised GeoTIFFs cropped to the region's grid."""
    from ecorest.etl.regions import grid_crs

    written: list[Path] = []
    gone = missing_inputs(conn, run_id)
    if gone:  # the density maps are drawn from the run's land-cover tiles
        note = out_dir / f"{stem}_MISSING_INPUTS.txt"
        note.write_text(missing_inputs_text(run_id, gone), encoding="utf-8")
        written.append(note)
        for line in missing_inputs_text(run_id, gone).splitlines()[1:]:
            log.warning("run %d: %s", run_id, line.strip())
    reg = region_grid(conn, region)
    crs = grid_crs(conn, reg["srid"])
    grade = data.mosaic(conn, "select rast from marts.priority_tiles where run_id = %s",
                        (run_id,), band=1)
    if grade is not None:
        names = {r["grade"]: f"{r['name_en']} {r['name_zh']}" for r in data.rows(
            conn, "select grade, name_en, name_zh from intermediate.priority_grades", ())}
        written.append(cog(out_dir / f"{stem}_priority_grade.tif", crop(grade, reg), crs,
                           "uint8", 0, description="restoration priority grade 修复优先等级 "
                           "(1 priority restoration .. 5 general; 0 not assessed)",
                           units="grade", classes={0: "not assessed 未评估", **names},
                           colours={0: "#ffffff", **GRADE_COLOURS},
                           tags={**meta, "ECOREST_SOURCE": "marts.priority_tiles band 1"}))
        score = data.mosaic(conn, "select rast from marts.priority_tiles where run_id = %s",
                            (run_id,), band=2)
        written.append(cog(out_dir / f"{stem}_composite_score.tif", crop(score, reg), crs,
                           "float32", -9999.0, description="composite restoration score "
                           "综合得分 (0..1, degradation and importance combined)", units="1",
                           tags={**meta, "ECOREST_SOURCE": "marts.priority_tiles band 2"}))
    changes = data.rows(conn, "select distinct epoch_t1, epoch_t2 from "
                        "marts.carbon_stock_changes where run_id = %s order by 1", (run_id,))
    pools = [r["pool"] for r in data.rows(conn, "select distinct pool from "
                                          "marts.parameter_lineage where run_id = %s "
                                          "and parameter = 'carbon_density' "
                                          "order by 1", (run_id,))]
    # each epoch's total density once; the change map is the last minus the first
    totals = {e: data.density_grid(conn, run_id, e, pools)
              for e in sorted({r[c] for r in changes for c in ("epoch_t1", "epoch_t2")})}
    source = (f"raster.carbon_density_tiles(run {run_id}, epoch, pool) summed over the pools "
              f"{', '.join(pools)} (marts.parameter_lineage densities on the run's land cover)")
    for epoch, total in totals.items():
        if total is not None:
            written.append(cog(out_dir / f"{stem}_carbon_density_{epoch}.tif",
                               crop(total, reg), crs, "float32", -9999.0,
                               description=f"total carbon density 碳密度 {epoch}",
                               units="t C/ha", tags={**meta, "ECOREST_SOURCE": source,
                                                     "ECOREST_EPOCH": epoch}))
    change = data.difference(totals[changes[0]["epoch_t1"]],
                             totals[changes[-1]["epoch_t2"]]) if changes else None
    if change is not None:
        first, last = changes[0]["epoch_t1"], changes[-1]["epoch_t2"]
        written.append(cog(out_dir / f"{stem}_carbon_density_change.tif", crop(change, reg),
                           crs, "float32", -9999.0,
                           description=f"change of total carbon density 碳密度变化 "
                                       f"{first}-{last}", units="t C/ha",
                           tags={**meta, "ECOREST_SOURCE": f"{last} minus {first}: " + source,
                                 "ECOREST_EPOCH": f"{first}-{last}"}))
    return written


def export_run(conn: psycopg.Connection, region: str, out_dir: Path, *,
               run_id: int | None = None,
               formats: tuple[str, ...] = EXPORT_FORMATS) -> list[Path]:
    """Write the results of ``run_id`` (default: the region's latest succeeded run) in the
    given formats; returns the files written. The run is checked before any file is made."""
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    for f in formats:
        if f not in EXPORT_FORMATS:
            raise ResultError(f"unknown export format {f!r}: use {', '.join(EXPORT_FORMATS)}")
    run = data.read_run(conn, region, run_id)
    run_id = run["run_id"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{region}_run{run_id}"
    meta = {"ECOREST_REGION": region, "ECOREST_RUN_ID": str(run_id),
            "ECOREST_CODE_VERSION": str(run["code_version"]),
            "ECOREST_RUN_FINISHED": str(run["finished_at"]),
            "ECOREST_EXPORTED_BY": f"ecorest {__version__}"}
    written: list[Path] = []
    if "gpkg" in formats:
        path = out_dir / f"{stem}.gpkg"
        path.unlink(missing_ok=True)
        _gpkg(conn, path, run_id, region, meta)
        written.append(path)
    if "tif" in formats:
        written += _geotiffs(conn, region, run_id, out_dir, stem, meta)
    if "csv" in formats:
        for name in TABLES:
            path = out_dir / f"{stem}_{name}.csv"
            table(conn, name, run_id).to_csv(path, index=False)
            written.append(path)
    if "xlsx" in formats:
        path = out_dir / f"{stem}.xlsx"
        _xlsx(conn, path, run_id, meta)
        written.append(path)
    if "gpkg" in formats or "tif" in formats:  # a QGIS project over the database
        from psycopg import errors

        from .qgis import write_project

        try:
            written.append(write_project(conn, region, out_dir, run_id=run_id))
        except errors.InsufficientPrivilege as exc:  # a login that may not publish layers
            conn.rollback()
            log.warning("raster layers not published (%s): the QGIS project shows the ones "
                        "published before", str(exc).strip().splitlines()[0])
            written.append(write_project(conn, region, out_dir, run_id=run_id,
                                         publish_layers=False))
    log.info("export of %s run %d: %d files in %s", region, run_id, len(written), out_dir)
    return written
