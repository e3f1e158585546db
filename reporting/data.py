"""Everything the assessment report shows, read from one run's marts (and its run record)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import psycopg

from etl.validation import LoadError


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
    region: dict
    run: dict
    inputs: list[tuple] = field(default_factory=list)
    loads: list[tuple] = field(default_factory=list)
    tiers: list[tuple] = field(default_factory=list)
    factors: list[tuple] = field(default_factory=list)
    zones: list[tuple] = field(default_factory=list)
    patches: list[tuple] = field(default_factory=list)
    patch_totals: list[tuple] = field(default_factory=list)
    ndvi: list[tuple] = field(default_factory=list)
    accuracy: list[tuple] = field(default_factory=list)
    stocks: list[tuple] = field(default_factory=list)
    changes: list[tuple] = field(default_factory=list)
    transitions: list[tuple] = field(default_factory=list)
    projects: list[tuple] = field(default_factory=list)
    uncertainty: list[tuple] = field(default_factory=list)
    validation: list[tuple] = field(default_factory=list)
    landcover_accuracy: list[tuple] = field(default_factory=list)
    grade_grid: Grid | None = None
    change_grid: Grid | None = None
    outlines: list[tuple] = field(default_factory=list)  # (zone_set, code, WKB on the grid)


def latest_run(conn: psycopg.Connection, region: str) -> int:
    row = conn.execute(
        "select max(a.run_id) from etl.assessment_runs a join registry.regions r "
        "using (region_id) where r.name = %s and a.status = 'succeeded'", (region,)).fetchone()
    if row is None or row[0] is None:
        raise LoadError(f"region {region!r} has no succeeded assessment run: run "
                        f"`ecorest run {region}` first")
    return row[0]


def _rows(conn, query: str, params: tuple) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def load(conn: psycopg.Connection, region: str, run_id: int | None = None,
         with_maps: bool = True) -> ReportData:
    run_id = run_id or latest_run(conn, region)
    run = conn.execute(
        "select a.run_id, a.status, a.code_version, a.ipcc_edition, a.started_at, "
        "a.finished_at, a.options, a.input_catalog_ids, a.parameter_set_ids, r.name "
        "from etl.assessment_runs a join registry.regions r using (region_id) "
        "where a.run_id = %s", (run_id,)).fetchone()
    if run is None or run[9] != region:
        raise LoadError(f"run {run_id} is not a run of region {region!r}")
    if run[1] != "succeeded":
        raise LoadError(f"run {run_id} of {region} has status {run[1]}: only succeeded runs "
                        "are reported")
    reg = conn.execute(
        "select name, coalesce(title, name), srid, crs_name, pixel_size_m, width_px, height_px, "
        "boundary_area_ha, ipcc_climate_zone, ipcc_soil_type from registry.regions "
        "where name = %s", (region,)).fetchone()
    keys = ("name", "title", "srid", "crs_name", "pixel_size_m", "width_px", "height_px",
            "boundary_area_ha", "ipcc_climate_zone", "ipcc_soil_type")
    d = ReportData(region=dict(zip(keys, reg, strict=True)), run={
        "run_id": run[0], "code_version": run[2], "ipcc_edition": run[3],
        "started_at": run[4], "finished_at": run[5], "options": run[6]})
    p = (run_id,)
    d.inputs = _rows(conn, """
        select c.layer, c.epoch_label, regexp_replace(c.source_path, '^.*/', ''),
               c.source_sha256, c.units, c.resampling
        from raster.catalog c where c.catalog_id = any(%s) order by c.layer, c.epoch_date""",
                     (run[7],))
    d.loads = _rows(conn, """
        select l.loader, regexp_replace(l.source_path, '^.*/', ''), l.source_sha256,
               l.rows_loaded
        from etl.loads l join registry.regions r using (region_id)
        where r.name = %s and l.status = 'succeeded' and l.loader in
              ('zones', 'projects', 'samples', 'plots')
        order by l.loader, l.load_id""", (region,))
    d.tiers = _rows(conn, """
        select tier, pool, count(distinct class_code), min(source)
        from marts.parameter_lineage where run_id = %s group by 1, 2 order by 1, 2""", p)
    d.factors = _rows(conn, """
        select factor, factor_group, direction, source_layer, round(weight::numeric, 3),
               weight_method, round(ahp_cr::numeric, 3), round(normalise_low::numeric, 4),
               round(normalise_high::numeric, 4), area_ha
        from marts.factor_summaries where run_id = %s order by factor_no""", p)
    d.zones = _rows(conn, """
        select zone_set, zone_code, zone_name, assessed_ha, priority_restoration_ha,
               restoration_ha, improvement_ha, protection_ha, general_ha,
               restoration_need_pct, mean_composite, top_factors
        from marts.zone_scores where run_id = %s
        order by zone_set <> 'region', zone_set, zone_code""", p)
    d.patch_totals = _rows(conn, """
        select grade, grade_name_en, grade_name_zh, count(*), sum(area_ha)
        from marts.restoration_patches where run_id = %s group by 1, 2, 3 order by 1""", p)
    d.patches = _rows(conn, """
        select patch_no, grade, area_ha, mean_composite, dominant_factors, admin_codes
        from marts.restoration_patches where run_id = %s
        order by grade, area_ha desc limit 10""", p)
    d.ndvi = _rows(conn, """
        select trend_class, trend_name_en, trend_name_zh, area_ha, share_pct,
               zone_mean_sen_slope_per_yr
        from marts.ndvi_trends where run_id = %s and zone_set = 'region'
        order by trend_class""", p)
    d.accuracy = _rows(conn, """
        select grade, grade_name_en, grade_name_zh, map_samples, users_accuracy,
               producers_accuracy, mapped_area_ha, estimated_area_ha, estimated_area_ci_ha,
               overall_accuracy, overall_accuracy_ci, kappa, total_samples, passes_gate,
               gate_overall_accuracy
        from marts.identification_accuracy where run_id = %s order by grade""", p)
    d.stocks = _rows(conn, """
        select epoch_label, pool, sum(carbon_t), sum(area_ha)
        from marts.carbon_stocks where run_id = %s and zone_set = 'region'
        group by 1, 2 order by 1, 2""", p)
    d.changes = _rows(conn, """
        select epoch_t1, epoch_t2, years, pool, stock_t1_t, stock_t2_t, change_t,
               sink_co2e_t_per_yr
        from marts.carbon_stock_changes where run_id = %s and zone_set = 'region'
        order by epoch_t1, pool""", p)
    d.transitions = _rows(conn, """
        select t.epoch_t1, t.epoch_t2, t.class_t1, coalesce(a.name_en, t.class_t1::text),
               coalesce(a.name_zh, a.name_en, t.class_t1::text), t.class_t2,
               coalesce(b.name_en, t.class_t2::text),
               coalesce(b.name_zh, b.name_en, t.class_t2::text), t.area_ha
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
        order by t.area_ha desc limit 12""", (run[7], region, run_id))
    d.projects = _rows(conn, """
        select project_id, project_name, is_example, max(area_ha), sum(change_t),
               sum(baseline_change_t), sum(benefit_t), sum(sink_enhancement_co2e_t_per_yr),
               min(baseline_method)
        from marts.project_benefits where run_id = %s
        group by 1, 2, 3 order by 1""", p)
    d.uncertainty = _rows(conn, """
        select quantity, epoch_t1, epoch_t2, pool, total_t, u_approach1_pct, mc_p2_5_t,
               mc_p97_5_t
        from marts.carbon_uncertainty where run_id = %s and zone_set = 'region'
        order by quantity desc, epoch_t1, pool""", p)
    d.validation = _rows(conn, """
        select ecosystem_type, pool, plots, within_10pct_share_pct, mre_pct, bias_pct,
               rmse_t_per_ha, bias_within_10pct
        from marts.plot_validation_summary where run_id = %s order by 1, 2""", p)
    d.landcover_accuracy = _rows(conn, """
        select epoch_label, class_code, map_samples, users_accuracy, producers_accuracy,
               mapped_area_ha, estimated_area_ha, estimated_area_ci_ha, overall_accuracy,
               kappa, passes_gate
        from marts.landcover_accuracy where run_id = %s order by epoch_label, class_code""", p)
    if with_maps:
        d.grade_grid = mosaic(conn, "select rast from marts.priority_tiles where run_id = %s",
                              (run_id,), band=1)
        d.change_grid = carbon_change_grid(conn, run_id, d.changes)
        d.outlines = _rows(conn, """
            select zone_set, zone_code, st_asbinary(st_transform(geom, %s))
            from marts.zone_scores where run_id = %s and zone_set in ('region', 'admin')""",
                           (d.region["srid"], run_id))
    return d


_TYPES = {0: "u1", 1: "u1", 2: "u1", 3: "i1", 4: "u1", 5: "<i2", 6: "<u2", 7: "<i4", 8: "<u4",
          10: "<f4", 11: "<f8"}


def decode_band(wkb: bytes, band: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """One band of a PostGIS raster's WKB (little-endian, in-database) as float64 with NaN for
    nodata, and its (upper-left x, upper-left y, pixel size)."""
    import struct

    nbands, = struct.unpack_from("<H", wkb, 3)
    sx, _sy, ulx, uly = struct.unpack_from("<dddd", wkb, 5)
    width, height = struct.unpack_from("<HH", wkb, 57)
    off = 61
    for i in range(1, nbands + 1):
        flags = wkb[off]
        dtype = np.dtype(_TYPES[flags & 0x0F])
        nodata = np.frombuffer(wkb, dtype=dtype, count=1, offset=off + 1)[0]
        start = off + 1 + dtype.itemsize
        if i == band:
            a = np.frombuffer(wkb, dtype=dtype, count=width * height,
                              offset=start).reshape(height, width).astype(np.float64)
            if flags & 0x40:
                a[a == nodata] = np.nan
            return a, (ulx, uly, sx)
        off = start + width * height * dtype.itemsize
    raise ValueError(f"raster has no band {band}")


def mosaic(conn, query: str, params: tuple, band: int = 1) -> Grid | None:
    """The tiles a query (a constant of this module with %s parameters) returns in its column
    rast, merged into one array on their common grid."""
    from psycopg import sql

    rows = conn.execute(sql.SQL("select q.rast::bytea from ({}) q").format(sql.SQL(query)),
                        params).fetchall()
    if not rows:
        return None
    parts = [decode_band(bytes(r[0]), band) for r in rows if r[0] is not None]
    px = parts[0][1][2]
    left = min(g[0] for _, g in parts)
    top = max(g[1] for _, g in parts)
    right = max(g[0] + a.shape[1] * px for a, g in parts)
    bottom = min(g[1] - a.shape[0] * px for a, g in parts)
    out = np.full((round((top - bottom) / px), round((right - left) / px)), np.nan)
    for a, (x, y, _) in parts:
        r0, c0 = round((top - y) / px), round((x - left) / px)
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


def carbon_change_grid(conn, run_id: int, changes: list[tuple]) -> Grid | None:
    """Total carbon density (all pools) at the last epoch minus the first (t C/ha)."""
    if not changes:
        return None
    pools = sorted({c[3] for c in changes})
    return difference(density_grid(conn, run_id, changes[0][0], pools),
                      density_grid(conn, run_id, changes[-1][1], pools))
