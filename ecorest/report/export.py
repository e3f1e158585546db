"""`ecorest export`: one run's results as GeoPackage, GeoTIFF, CSV and Excel files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

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


def _gpkg(conn, path: Path, run_id: int, region: str) -> None:
    from pyogrio.raw import write

    layers = {
        "restoration_patches": """
            select patch_id, patch_no, grade, grade_name_en, grade_name_zh, area_ha,
                   mean_composite, mean_degradation, mean_importance, dominant_factors,
                   admin_codes, st_asbinary(geom) as wkb
            from marts.restoration_patches where run_id = %s order by patch_no""",
        "zone_scores": """
            select zone_score_id, zone_set, zone_code, zone_name, assessed_ha,
                   priority_restoration_ha, restoration_ha, improvement_ha, protection_ha,
                   general_ha, restoration_need_pct, mean_composite, top_factors,
                   st_asbinary(geom) as wkb
            from marts.zone_scores where run_id = %s order by zone_set, zone_code""",
        "projects": """
            select p.project_id, p.name, p.project_type, p.start_date::text, p.is_example,
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
            where p.valid_to is null order by p.project_id""",
    }
    params = {"restoration_patches": (run_id,), "zone_scores": (run_id,),
              "projects": (region, run_id)}
    first = True
    for layer, query in layers.items():
        rows = data.rows(conn, query, params[layer])
        if not rows:
            continue
        names = [n for n in rows[0] if n != "wkb"]
        geoms = np.array([bytes(r["wkb"]) for r in rows], dtype=object)
        fields = []
        for name in names:
            col = [r[name] for r in rows]
            if all(v is None or isinstance(v, bool) for v in col):
                fields.append(np.array([bool(v) if v is not None else False for v in col]))
            elif all(v is None or isinstance(v, (int, float)) for v in col):
                fields.append(np.array([np.nan if v is None else float(v) for v in col]))
            else:
                fields.append(np.array(["" if v is None else str(v) for v in col],
                                       dtype=object))
        write(str(path), geoms, fields, names, layer=layer, driver="GPKG",
              geometry_type="MultiPolygon", crs="EPSG:4326", append=not first)
        first = False


def _geotiff(path: Path, grid: data.Grid, crs, dtype: str, nodata) -> None:
    import rasterio
    from rasterio.transform import from_origin

    a = grid.values
    out = np.where(np.isnan(a), nodata, a).astype(dtype)
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=1,
                       dtype=dtype, crs=crs, nodata=nodata, compress="deflate",
                       transform=from_origin(grid.left, grid.top, grid.pixel_m,
                                             grid.pixel_m)) as dst:
        dst.write(out, 1)


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


def export_run(conn: psycopg.Connection, region: str, out_dir: Path, *,
               run_id: int | None = None,
               formats: tuple[str, ...] = EXPORT_FORMATS) -> list[Path]:
    """Write the results of ``run_id`` (default: the region's latest succeeded run) in the
    given formats; returns the files written. The run is checked before any file is made."""
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    for f in formats:
        if f not in EXPORT_FORMATS:
            raise ResultError(f"unknown export format {f!r}: use {', '.join(EXPORT_FORMATS)}")
    from ecorest.etl.regions import get_region, grid_crs

    run_id = data.read_run(conn, region, run_id)["run_id"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{region}_run{run_id}"
    written: list[Path] = []
    if "gpkg" in formats:
        path = out_dir / f"{stem}.gpkg"
        path.unlink(missing_ok=True)
        _gpkg(conn, path, run_id, region)
        written.append(path)
    if "tif" in formats:
        gone = missing_inputs(conn, run_id)
        if gone:  # the density maps are drawn from the run's land-cover tiles
            note = out_dir / f"{stem}_MISSING_INPUTS.txt"
            note.write_text(missing_inputs_text(run_id, gone), encoding="utf-8")
            written.append(note)
            for line in missing_inputs_text(run_id, gone).splitlines()[1:]:
                log.warning("run %d: %s", run_id, line.strip())
        crs = grid_crs(conn, get_region(conn, region).srid)
        grade = data.mosaic(conn, "select rast from marts.priority_tiles where run_id = %s",
                            (run_id,), band=1)
        if grade is not None:
            written.append(out_dir / f"{stem}_priority_grade.tif")
            _geotiff(written[-1], grade, crs, "uint8", 0)
            score = data.mosaic(conn, "select rast from marts.priority_tiles "
                                "where run_id = %s", (run_id,), band=2)
            written.append(out_dir / f"{stem}_composite_score.tif")
            _geotiff(written[-1], score, crs, "float32", -9999.0)
        changes = data.rows(conn, "select distinct epoch_t1, epoch_t2 from "
                            "marts.carbon_stock_changes where run_id = %s order by 1",
                            (run_id,))
        pools = [r["pool"] for r in data.rows(conn, "select distinct pool from "
                                              "marts.parameter_lineage where run_id = %s "
                                              "order by 1", (run_id,))]
        # each epoch's total density once; the change map is the last minus the first
        totals = {e: data.density_grid(conn, run_id, e, pools)
                  for e in sorted({r[c] for r in changes for c in ("epoch_t1", "epoch_t2")})}
        for epoch, total in totals.items():
            if total is not None:
                written.append(out_dir / f"{stem}_carbon_density_{epoch}.tif")
                _geotiff(written[-1], total, crs, "float32", -9999.0)
        change = data.difference(totals[changes[0]["epoch_t1"]],
                                 totals[changes[-1]["epoch_t2"]]) if changes else None
        if change is not None:
            written.append(out_dir / f"{stem}_carbon_density_change.tif")
            _geotiff(written[-1], change, crs, "float32", -9999.0)
    frames = None
    if "csv" in formats or "xlsx" in formats:
        frames = {name: table(conn, name, run_id) for name in TABLES}
    if "csv" in formats:
        for name, df in frames.items():
            path = out_dir / f"{stem}_{name}.csv"
            df.to_csv(path, index=False)
            written.append(path)
    if "xlsx" in formats:
        path = out_dir / f"{stem}.xlsx"
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            for name, df in frames.items():
                df.to_excel(xl, sheet_name=name[:31], index=False)
        written.append(path)
    log.info("export of %s run %d: %d files in %s", region, run_id, len(written), out_dir)
    return written
