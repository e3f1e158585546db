"""Everything the assessment report shows, read from one run's marts (and its run record).

Every report and export reads its run through :func:`read_run`; result rows are dicts keyed by
column name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from ecorest.errors import ResultError
from ecorest.wkb import decode_band

#: a result row, by column name
Row = dict[str, Any]


@dataclass
class Grid:
    """A raster mosaic on the region grid: values (NaN = no data) and its geotransform."""

    values: np.ndarray
    left: float
    top: float
    pixel_m: float

    @property
    def extent(self) -> tuple[float, float, float, float]:
        h, w = self.values.shape
        return (self.left, self.left + w * self.pixel_m, self.top - h * self.pixel_m, self.top)


@dataclass
class ReportData:
    region: Row
    run: Row
    inputs: list[Row] = field(default_factory=list)
    loads: list[Row] = field(default_factory=list)
    tiers: list[Row] = field(default_factory=list)
    factors: list[Row] = field(default_factory=list)
    zones: list[Row] = field(default_factory=list)
    patches: list[Row] = field(default_factory=list)
    patch_totals: list[Row] = field(default_factory=list)
    ndvi: list[Row] = field(default_factory=list)
    accuracy: list[Row] = field(default_factory=list)
    stocks: list[Row] = field(default_factory=list)
    changes: list[Row] = field(default_factory=list)
    transitions: list[Row] = field(default_factory=list)
    projects: list[Row] = field(default_factory=list)
    uncertainty: list[Row] = field(default_factory=list)
    validation: list[Row] = field(default_factory=list)
    landcover_accuracy: list[Row] = field(default_factory=list)
    class_areas: list[Row] = field(default_factory=list)   # epoch_label, class, area_ha
    densities: list[Row] = field(default_factory=list)     # marts.parameter_lineage rows
    span_transitions: list[Row] = field(default_factory=list)  # first -> last epoch, region
    settings: dict[str, Any] = field(default_factory=dict)  # the run's model settings
    grade_grid: Grid | None = None
    change_grid: Grid | None = None
    outlines: list[Row] = field(default_factory=list)  # zone_set, zone_code, wkb (on the grid)
    # land-cover maps of the run's first and last epochs: epoch -> Grid, and the classes
    # shown: class_code -> (name_en, name_zh, colour or None)
    landcover_grids: dict[str, Grid] = field(default_factory=dict)
    landcover_classes: dict[int, tuple[str, str, str | None]] = field(default_factory=dict)


def rows(conn: psycopg.Connection, query: str | sql.Composable, params: tuple) -> list[Row]:
    """The rows of a query as dicts keyed by column name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def read_run(conn: psycopg.Connection, region: str, run_id: int | None = None) -> Row:
    """The record of a succeeded assessment run of ``region``: ``run_id``, or the region's
    latest succeeded run when it is None. Reports and exports read their run here first.

    Raises :class:`ResultError` when the region does not exist or has no succeeded run, or the
    run does not exist, is another region's or did not succeed.
    """
    if not rows(conn, "select 1 from registry.regions where name = %s", (region,)):
        raise ResultError(f"region {region!r} does not exist; create it with "
                          "`ecorest region create`")
    if run_id is None:
        run_id = rows(conn, """
            select max(a.run_id) as run_id from etl.assessment_runs a
            join registry.regions r using (region_id)
            where r.name = %s and a.status = 'succeeded'""", (region,))[0]["run_id"]
        if run_id is None:
            raise ResultError(f"region {region!r} has no succeeded assessment run: run "
                              f"`ecorest run {region}` first")
    found = rows(conn, """
        select a.run_id, a.status, a.code_version, a.ipcc_edition, a.started_at,
               a.finished_at, a.options, a.input_catalog_ids, a.parameter_set_ids,
               r.name as region
        from etl.assessment_runs a join registry.regions r using (region_id)
        where a.run_id = %s""", (run_id,))
    if not found:
        raise ResultError(f"run {run_id} does not exist")
    run = found[0]
    if run["region"] != region:
        raise ResultError(f"run {run_id} is a run of region {run['region']!r}, not of "
                          f"{region!r}")
    if run["status"] != "succeeded":
        raise ResultError(f"run {run_id} of {region} has status {run['status']}: only "
                          "succeeded runs are reported or exported")
    return run


def load(conn: psycopg.Connection, run: Row, with_maps: bool = True) -> ReportData:
    """Everything the report shows of a run (its record as :func:`read_run` returns it)."""
    region, run_id = run["region"], run["run_id"]
    reg = rows(conn, """
        select name, coalesce(title, name) as title, srid, crs_name, pixel_size_m, width_px,
               height_px, boundary_area_ha, ipcc_climate_zone, ipcc_soil_type,
               (select s.srtext from spatial_ref_sys s where s.srid = regions.srid) as srtext
        from registry.regions where name = %s""", (region,))[0]
    d = ReportData(region=reg, run=run)
    p = (run_id,)
    d.inputs = rows(conn, """
        select c.layer, c.epoch_label, regexp_replace(c.source_path, '^.*/', '') as file,
               c.source_sha256, c.units, c.resampling
        from raster.catalog c where c.catalog_id = any(%s) order by c.layer, c.epoch_date""",
                    (run["input_catalog_ids"],))
    d.loads = rows(conn, """
        select l.loader, regexp_replace(l.source_path, '^.*/', '') as file, l.source_sha256,
               l.rows_loaded
        from etl.loads l join registry.regions r using (region_id)
        where r.name = %s and l.status = 'succeeded' and l.loader in
              ('zones', 'projects', 'samples', 'plots')
        order by l.loader, l.load_id""", (region,))
    d.tiers = rows(conn, """
        select tier, pool, count(distinct class_code) as classes, min(source) as source
        from marts.parameter_lineage where run_id = %s and parameter = 'carbon_density'
        group by 1, 2 order by 1, 2""", p)
    d.factors = rows(conn, """
        select factor, factor_group, direction, source_layer,
               round(weight::numeric, 3) as weight, weight_method,
               round(ahp_cr::numeric, 3) as ahp_cr,
               round(normalise_low::numeric, 4) as normalise_low,
               round(normalise_high::numeric, 4) as normalise_high, area_ha
        from marts.factor_summaries where run_id = %s order by factor_no""", p)
    # coverage_pct: the share of the zone's own area inside the region's boundary (on the
    # grid CRS); a zone mostly outside the region is assessed on a small part of it only
    d.zones = rows(conn, """
        select z.zone_set, z.zone_code, z.zone_name, z.assessed_ha, z.priority_restoration_ha,
               z.restoration_ha, z.improvement_ha, z.protection_ha, z.general_ha,
               z.restoration_need_pct, z.mean_composite, z.top_factors,
               case when z.zone_set = 'region' or z.geom is null then 100.0
                    else 100.0 * st_area(st_transform(st_intersection(st_makevalid(z.geom),
                                                                      g.boundary), g.srid))
                         / nullif(st_area(st_transform(z.geom, g.srid)), 0) end
                   as coverage_pct
        from marts.zone_scores z
        join registry.regions g on g.name = %s
        where z.run_id = %s
        order by z.zone_set <> 'region', z.zone_set, z.zone_code""", (region, run_id))
    d.patch_totals = rows(conn, """
        select grade, grade_name_en, grade_name_zh, count(*) as patches,
               sum(area_ha) as area_ha
        from marts.restoration_patches where run_id = %s group by 1, 2, 3 order by 1""", p)
    d.patches = rows(conn, """
        select patch_no, grade, area_ha, mean_composite, dominant_factors, admin_codes
        from marts.restoration_patches where run_id = %s
        order by grade, area_ha desc limit 10""", p)
    d.ndvi = rows(conn, """
        select trend_class, trend_name_en, trend_name_zh, area_ha, share_pct,
               zone_mean_sen_slope_per_yr
        from marts.ndvi_trends where run_id = %s and zone_set = 'region'
        order by trend_class""", p)
    d.accuracy = rows(conn, """
        select grade, grade_name_en, grade_name_zh, map_samples, users_accuracy,
               producers_accuracy, mapped_area_ha, estimated_area_ha, estimated_area_ci_ha,
               overall_accuracy, overall_accuracy_ci, kappa, total_samples, passes_gate,
               gate_overall_accuracy
        from marts.identification_accuracy where run_id = %s order by grade""", p)
    d.stocks = rows(conn, """
        select epoch_label, pool, sum(carbon_t) as carbon_t, sum(area_ha) as area_ha
        from marts.carbon_stocks where run_id = %s and zone_set = 'region'
        group by 1, 2 order by 1, 2""", p)
    d.changes = rows(conn, """
        select epoch_t1, epoch_t2, years, pool, stock_t1_t, stock_t2_t, change_t,
               sink_co2e_t_per_yr
        from marts.carbon_stock_changes where run_id = %s and zone_set = 'region'
        order by epoch_t1, pool""", p)
    d.transitions = rows(conn, """
        select t.epoch_t1, t.epoch_t2, t.class_t1,
               coalesce(a.name_en, t.class_t1::text) as name_en_t1,
               coalesce(a.name_zh, a.name_en, t.class_t1::text) as name_zh_t1, t.class_t2,
               coalesce(b.name_en, t.class_t2::text) as name_en_t2,
               coalesce(b.name_zh, b.name_en, t.class_t2::text) as name_zh_t2, t.area_ha
        from marts.landcover_transitions t
        cross join (select coalesce(
            (select c.legend_id from raster.catalog c where c.catalog_id = any(%s)
             and c.layer = 'landcover' and c.legend_id is not null limit 1),
            (select legend_id from registry.regions where name = %s)) as legend_id) lg
        left join registry.legend_classes a on a.legend_id = lg.legend_id
             and a.class_code = t.class_t1
        left join registry.legend_classes b on b.legend_id = lg.legend_id
             and b.class_code = t.class_t2
        where t.run_id = %s and t.zone_set = 'region' and t.class_t1 <> t.class_t2
        order by t.area_ha desc limit 12""", (run["input_catalog_ids"], region, run_id))
    d.projects = rows(conn, """
        select project_id, project_name, is_example, max(area_ha) as area_ha,
               sum(change_t) as change_t, sum(baseline_change_t) as baseline_change_t,
               sum(benefit_t) as benefit_t,
               sum(sink_enhancement_co2e_t_per_yr) as sink_enhancement_co2e_t_per_yr,
               min(baseline_method) as baseline_method
        from marts.project_benefits where run_id = %s
        group by 1, 2, 3 order by 1""", p)
    d.uncertainty = rows(conn, """
        select quantity, epoch_t1, epoch_t2, pool, total_t, mapped_total_t, area_basis,
               u_approach1_pct, mc_p2_5_t, mc_p97_5_t, unquantified
        from marts.carbon_uncertainty where run_id = %s and zone_set = 'region'
        order by quantity desc, epoch_t1, pool""", p)
    d.validation = rows(conn, """
        select ecosystem_type, pool, plots, within_10pct_share_pct, mre_pct, bias_pct,
               rmse_t_per_ha, bias_within_10pct
        from marts.plot_validation_summary where run_id = %s order by 1, 2""", p)
    d.landcover_accuracy = rows(conn, """
        select epoch_label, class_code, map_samples, users_accuracy, producers_accuracy,
               mapped_area_ha, estimated_area_ha, estimated_area_ci_ha, overall_accuracy,
               kappa, passes_gate
        from marts.landcover_accuracy where run_id = %s order by epoch_label, class_code""", p)
    d.class_areas = rows(conn, """
        select s.epoch_label, s.class_code,
               coalesce(lc.name_en, s.class_code::text) as name_en,
               coalesce(lc.name_zh, lc.name_en, s.class_code::text) as name_zh,
               max(s.area_ha) as area_ha
        from marts.carbon_stocks s
        cross join (select coalesce(
            (select c.legend_id from raster.catalog c where c.catalog_id = any(%s)
             and c.layer = 'landcover' and c.legend_id is not null limit 1),
            (select legend_id from registry.regions where name = %s)) as legend_id) lg
        left join registry.legend_classes lc on lc.legend_id = lg.legend_id
             and lc.class_code = s.class_code
        where s.run_id = %s and s.zone_set = 'region'
        group by 1, 2, 3, 4 order by 2, 1""", (run["input_catalog_ids"], region, run_id))
    d.densities = rows(conn, """
        select l.class_code, coalesce(lc.name_en, l.class_code::text) as name_en,
               coalesce(lc.name_zh, lc.name_en, l.class_code::text) as name_zh, l.pool,
               l.value, l.unit, l.tier, l.source, l.uncertainty_pct, l.parameter_set_name,
               l.parameter_set_version, l.selected_because
        from marts.parameter_lineage l
        cross join (select coalesce(
            (select c.legend_id from raster.catalog c where c.catalog_id = any(%s)
             and c.layer = 'landcover' and c.legend_id is not null limit 1),
            (select legend_id from registry.regions where name = %s)) as legend_id) lg
        left join registry.legend_classes lc on lc.legend_id = lg.legend_id
             and lc.class_code = l.class_code
        where l.run_id = %s and l.parameter = 'carbon_density'
        order by l.class_code, l.pool""", (run["input_catalog_ids"], region, run_id))
    d.span_transitions = rows(conn, """
        select s.epoch_t1, s.epoch_t2, s.class_t1, s.class_t2, s.area_ha,
               coalesce(c1.class_name_en, s.class_t1::text) as name_en_t1,
               coalesce(c1.class_name_zh, c1.class_name_en, s.class_t1::text) as name_zh_t1,
               coalesce(c2.class_name_en, s.class_t2::text) as name_en_t2,
               coalesce(c2.class_name_zh, c2.class_name_en, s.class_t2::text) as name_zh_t2
        from marts.landcover_transitions_span s
        left join marts.landcover_class_areas c1 on c1.run_id = s.run_id
             and c1.zone_set = 'region' and c1.epoch_label = s.epoch_t1
             and c1.class_code = s.class_t1
        left join marts.landcover_class_areas c2 on c2.run_id = s.run_id
             and c2.zone_set = 'region' and c2.epoch_label = s.epoch_t2
             and c2.class_code = s.class_t2
        where s.run_id = %s and s.zone_set = 'region' and s.is_first_to_last
        order by s.class_t1, s.class_t2""", p)
    d.settings = settings(run)
    if with_maps:
        d.grade_grid = mosaic(conn, "select rast from marts.priority_tiles where run_id = %s",
                              (run_id,), band=1)
        d.change_grid = carbon_change_grid(conn, run_id, d.changes)
        epochs = rows(conn, """
            select c.catalog_id, c.epoch_label, c.legend_id from raster.catalog c
            where c.catalog_id = any(%s) and c.layer = 'landcover'
            order by c.epoch_date""", (run["input_catalog_ids"],))
        for e in ([epochs[0], epochs[-1]] if len(epochs) > 1 else epochs):
            g = mosaic(conn, "select rast from raster.tiles where catalog_id = %s",
                       (e["catalog_id"],))
            if g is not None:
                d.landcover_grids[e["epoch_label"]] = g
        if epochs and epochs[0]["legend_id"] is not None:
            d.landcover_classes = {r["class_code"]: (r["name_en"], r["name_zh"] or r["name_en"],
                                                     r["color_hex"]) for r in rows(conn, """
                select class_code, name_en, name_zh, color_hex from registry.legend_classes
                where legend_id = %s""", (epochs[0]["legend_id"],))}
        d.outlines = rows(conn, """
            select zone_set, zone_code, st_asbinary(st_transform(geom, %s)) as wkb
            from marts.zone_scores where run_id = %s and zone_set in ('region', 'admin')""",
                          (d.region["srid"], run_id))
    return d


def settings(run: Row) -> dict[str, Any]:
    """The model settings of a run: the defaults of dbt_project.yml, overridden by the run's
    own (``options.vars``)."""
    import yaml

    from ecorest import assets

    try:
        found = yaml.safe_load((assets.path("dbt_project") / "dbt_project.yml").read_text())
        values = dict(found.get("vars") or {})
    except (OSError, yaml.YAMLError, AttributeError):
        values = {}
    values.update((run.get("options") or {}).get("vars") or {})
    return values


def mosaic(conn, query: str, params: tuple, band: int = 1) -> Grid | None:
    """The tiles a query (a constant of this module with %s parameters) returns in its column
    rast, merged into one array on their common (north-up) grid."""
    found = rows(conn, sql.SQL("select q.rast::bytea as wkb from ({}) q").format(sql.SQL(query)),
                 params)
    if not found:
        return None
    parts = [decode_band(r["wkb"], band) for r in found if r["wkb"] is not None]
    if not parts:
        return None
    px = parts[0][1].scale_x
    left = min(g.ulx for _, g in parts)
    top = max(g.uly for _, g in parts)
    right = max(g.ulx + a.shape[1] * px for a, g in parts)
    bottom = min(g.uly - a.shape[0] * px for a, g in parts)
    out = np.full((round((top - bottom) / px), round((right - left) / px)), np.nan)
    for a, g in parts:
        r0, c0 = round((top - g.uly) / px), round((g.ulx - left) / px)
        view = out[r0:r0 + a.shape[0], c0:c0 + a.shape[1]]
        np.copyto(view, a, where=~np.isnan(a))
    return Grid(out, left, top, px)


def density_grid(conn, run_id: int, epoch: str, pools: list[str]) -> Grid | None:
    """Total carbon density (t C/ha, sum of the pools) of a run's land cover at one epoch."""
    total = None
    for pool in pools:
        g = mosaic(conn, "select rast from raster.carbon_density_tiles(%s, %s, %s)",
                   (run_id, epoch, pool))
        if g is not None:
            total = g if total is None else Grid(total.values + g.values, g.left, g.top,
                                                 g.pixel_m)
    return total


def difference(first: Grid | None, last: Grid | None) -> Grid | None:
    """last - first on the same grid (None when either is missing or the grids differ)."""
    if first is None or last is None or first.values.shape != last.values.shape:
        return None
    return Grid(last.values - first.values, first.left, first.top, first.pixel_m)


def carbon_change_grid(conn, run_id: int, changes: list[Row]) -> Grid | None:
    """Total carbon density (all pools) at the last epoch minus the first (t C/ha); ``changes``
    are rows with ``epoch_t1``, ``epoch_t2`` and ``pool``, ordered by epoch."""
    if not changes:
        return None
    pools = sorted({c["pool"] for c in changes})
    return difference(density_grid(conn, run_id, changes[0]["epoch_t1"], pools),
                      density_grid(conn, run_id, changes[-1]["epoch_t2"], pools))
