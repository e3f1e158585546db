"""The demo: every bundled real dataset loaded into two regions, end to end.

* ``willamette`` (Oregon, USA; NAD83 / Conus Albers, 30 m): InVEST land cover ~1990 and the
  2050 scenario, the 30 m DEM, watersheds and sub-watersheds, the InVEST carbon pool table as
  Willamette's own parameter set (the Ansai run does not see it), three clearly labelled
  example restoration projects, and the BAAD harvested trees measured inside the region.
* ``ansai`` (安塞区, Yan'an, Shaanxi; CGCS2000 / Albers, 1 km): the district boundary as a GB/T
  2260 admin unit and 42 years (1982-2023) of NOAA VHP annual NDVI.
* ``assaba`` (Mauritania; MODIS sinusoidal, 463 m): 14 years (2010-2023) of MODIS land cover and
  annual GPP on the same pixels, and three clearly labelled example grassland projects (the
  benefit against matched controls and the sink-rate figure on a yearly signal).

Every step is an ordinary load, so running the demo again changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.plots import load_plots
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region, set_ipcc_strata
from ecorest.etl.vector_loads import load_projects, load_zones
from ecorest.progress import progress_bar

log = logging.getLogger(__name__)


def steps(sample: Path, derived: Path) -> list[tuple[str, Callable[[psycopg.Connection], object]]]:
    """The demo's loads, in order: ``sample`` is the public sample data folder, ``derived`` the
    folder of the files derived from it (:func:`ecorest.samples.derive`)."""
    w = sample / "invest_willamette"
    vhp = sorted((sample / "vhp_ndvi_annual_global_1982_2023").glob("VHP_SMN_annual_ndvi_*.tif"))

    def raster(region, layer, path, **kw):
        return lambda c: load_raster(c, region, layer, path, **kw)

    out = [
        ("region willamette", lambda c: create_region(
            c, "willamette", derived / "willamette_region.geojson",
            title="Willamette Valley, Oregon (InVEST sample)")),
        # Willamette Valley: mean annual temperature ~11 °C, wet winters (IPCC warm temperate
        # moist); mostly high-activity clay mineral soils
        ("IPCC strata willamette", lambda c: set_ipcc_strata(
            c, "willamette", "warm_temperate_moist", "HAC")),
        ("legend willamette", lambda c: load_legend(
            c, "willamette", derived / "willamette_legend.csv",
            title="InVEST Willamette land-use/land-cover classes",
            source="InVEST sample data, carbon_pools_willamette.csv (Natural Capital Project); "
                   "IPCC categories assigned by ecorest")),
        ("land cover ~1990", raster("willamette", "landcover", w / "lulc_samp_cur.tif",
                                    epoch="1990", legend="willamette")),
        ("land cover 2050 scenario", raster("willamette", "landcover", w / "lulc_samp_fut.tif",
                                            epoch="2050", scenario=True, legend="willamette")),
        ("DEM 30 m", raster("willamette", "dem", w / "dem_30m.tif", epoch="2000")),
        ("watersheds", lambda c: load_zones(c, "willamette", w / "watersheds.shp",
                                            zone_set="watershed",
                                            mapping={"zone_code": "ws_id"})),
        ("sub-watersheds", lambda c: load_zones(c, "willamette", w / "subwatersheds.shp",
                                                zone_set="subwatershed",
                                                mapping={"zone_code": "subws_id"})),
        ("carbon pool table", lambda c: load_params(
            c, w / "carbon_pools_willamette.csv", region="willamette",
            name="invest_willamette_pools", kind="carbon_pools",
            source_text="InVEST sample data: carbon_pools_willamette.csv "
                        "(Natural Capital Project), Mg C/ha")),
        # the 2050 scenario turns hybrid poplar (66) into conifer woodlot (95, forest land):
        # converted forest needs a growth rate (docs/CARBON.md)
        ("growth rate of conifer woodlot", lambda c: load_params(
            c, woodlot_growth(w, derived), region="willamette",
            name="willamette_conifer_growth", kind="growth_rates",
            source_text="derived from the InVEST sample table carbon_pools_willamette.csv "
                        "(Natural Capital Project): above-ground carbon of closed conifer 41-60 "
                        "yrs (58) minus conifers 0-20 yrs (56) over the 40 years between the "
                        "class mid-ages; an illustration, not a measured woodlot rate")),
        ("example projects", lambda c: load_projects(
            c, "willamette", derived / "willamette_example_projects.geojson", examples=True)),
        ("BAAD harvested trees", lambda c: load_plots(
            c, "willamette", sample / "forest_plots_biomass" / "baad_Domec2012_oregon" /
            "data.csv", source="BAAD: Domec et al. 2012")),
        ("region ansai", lambda c: create_region(
            c, "ansai", sample / "china_admin_loess_plateau" / "ansai_610603.geojson",
            pixel_size=1000, title="安塞区 Ansai District, Yan'an, Shaanxi")),
        # Ansai, Loess Plateau: ~8.8 °C, ~500 mm/yr below potential evapotranspiration (IPCC
        # cool temperate dry); loess soils are high-activity clays
        ("IPCC strata ansai", lambda c: set_ipcc_strata(c, "ansai", "cold_temperate_dry", "HAC")),
        ("admin unit 610603", lambda c: load_zones(
            c, "ansai", sample / "china_admin_loess_plateau" / "ansai_610603.geojson",
            code="610603", name="安塞区")),
    ]
    out += [(f"NDVI {p.stem[-4:]}", raster("ansai", "ndvi", p, epoch_from="filename"))
            for p in vhp]
    out += assaba_steps(sample, derived, raster)
    return out


def assaba_steps(sample: Path, derived: Path, raster) -> list:
    """Assaba (Mauritania, MODIS sinusoidal 463 m): 14 years of MODIS land cover (IGBP) and
    annual GPP over the same pixels, and three example grassland projects: the benefit against
    matched controls, its leakage belt and the sink-rate figure on a yearly signal."""
    a = sample / "modis_lc_gpp_assaba_2010_2023"
    if not a.is_dir():
        return []
    years = sorted(int(p.name[:4]) for p in (a / "landcover").glob("*LCT.tif"))
    first = a / "landcover" / f"{years[0]}LCT.tif"
    out = [
        ("region assaba", lambda c: create_region(
            c, "assaba", derived / "assaba_region.gpkg", align_to=str(first),
            legend="modis_igbp", title="Assaba, Mauritania (MODIS MCD12Q1 / MOD17A3HGF)")),
        # Assaba, Sahel: ~29 °C, 250-400 mm/yr (IPCC tropical dry); arenosols (sandy soils)
        ("IPCC strata assaba", lambda c: set_ipcc_strata(c, "assaba", "tropical_dry", "sandy")),
    ]
    out += [(f"MODIS land cover {y}", raster("assaba", "landcover",
                                             a / "landcover" / f"{y}LCT.tif", epoch=str(y),
                                             legend="modis_igbp"))
            for y in years]
    out += [(f"MODIS GPP {y}", raster("assaba", "gpp", derived / f"assaba_gpp_{y}.tif",
                                      epoch=str(y), scale=1e-4))
            for y in years]
    out.append(("example projects assaba", lambda c: load_projects(
        c, "assaba", derived / "assaba_example_projects.geojson", examples=True)))
    return out


def woodlot_growth(w: Path, derived: Path) -> Path:
    """A growth_rates table for the demo's conifer woodlot (class 95): the mean above-ground
    accumulation of the InVEST table's conifer age classes, (C_above of 58, 41-60 yrs, minus
    C_above of 56, 0-20 yrs) / 40 yrs (mid-ages 50 and 10); below ground grows in proportion
    (the class's bgb/agb densities, docs/CARBON.md)."""
    import csv

    with open(w / "carbon_pools_willamette.csv", newline="") as fh:
        above = {int(r["lucode"]): float(r["C_above"]) for r in csv.DictReader(fh)}
    rate = (above[58] - above[56]) / 40
    text = f"parameter,class_code,pool,value,unit\ngrowth_rate,95,agb,{rate:g},Mg C/ha/yr\n"
    path = derived / "willamette_woodlot_growth.csv"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def run(conn: psycopg.Connection, sample: Path, derived: Path, show_progress: bool = True) -> None:
    """Load every sample data set (each step an ordinary, idempotent load)."""
    todo = steps(sample, derived)
    t0 = time.monotonic()
    with progress_bar("demo", len(todo), "steps", show_progress) as bar:
        for name, step in todo:
            log.info("demo: %s", name)
            step(conn)
            conn.rollback()
            bar.advance(1)
    log.info("demo data loaded in %.1f s", time.monotonic() - t0)


def summary(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("""
        select r.name, r.crs_name, r.pixel_size_m,
               (select count(*) from raster.catalog c where c.region_id = r.region_id
                and c.is_current) as layers,
               (select count(*) from registry.zones z where z.region_id = r.region_id) as zones,
               (select count(*) from registry.projects p where p.region_id = r.region_id
                and p.valid_to is null) as projects,
               (select count(*) from registry.survey_plots s where s.region_id = r.region_id)
                 as plots
        from registry.regions r order by r.name""").fetchall()


def outputs(conn: psycopg.Connection, out_dir, show_progress: bool = True) -> list:
    """Reports (zh, en; html, pdf, md) and exports of both regions' latest runs."""
    from ecorest.report import make_report
    from ecorest.report.export import export_run

    written = []
    regions = ("willamette", "ansai", "assaba")
    with progress_bar("reports and exports", 2 * len(regions), "steps", show_progress) as bar:
        for region in regions:
            log.info("demo: report of %s", region)
            written += make_report(conn, region, Path(out_dir) / region)
            conn.rollback()
            bar.advance(1)
            log.info("demo: exports of %s", region)
            written += export_run(conn, region, Path(out_dir) / region / "exports")
            conn.rollback()
            bar.advance(1)
    return written
