"""The demo: every bundled real dataset loaded into its regions, end to end.

* ``willamette`` (Oregon, USA; NAD83 / Conus Albers, 30 m): InVEST land cover ~1990 and the
  2050 scenario, the 30 m DEM, watersheds and sub-watersheds, the InVEST carbon pool table as
  Willamette's own parameter set (the Ansai run does not see it), three clearly labelled
  example restoration projects, and the BAAD harvested trees measured inside the region.
* ``ansai`` (安塞区, Yan'an, Shaanxi; CGCS2000 / Albers, 1 km): the district boundary as a GB/T
  2260 admin unit and 42 years (1982-2023) of NOAA VHP annual NDVI.
* ``willamette_services`` and ``willamette_habitat`` (the InVEST Willamette sample, UTM 10N,
  30 m): the inputs of soil retention, water yield and habitat quality on the real bundled
  InVEST inputs (:func:`services_steps`), on the grids InVEST computes them on.
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

from ecorest.etl.burn import load_vector_layer
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
            source_text=WOODLOT_SOURCE)),
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
    out += services_steps(sample, derived, raster)
    out += assaba_steps(sample, derived, raster)
    return out


#: InVEST's threat names (sensitivity_willamette.csv) -> the file stem of their rasters
#: (ecosystem_services/SOURCE.md: the mapping is confirmed by the 2013 table's values)
HABITAT_THREATS = {"crops": "crp", "railroad": "rr", "urban": "urb", "timber": "rot",
                   "roads1": "prds", "roads2": "srds", "roads3": "lrds"}


#: the regions of the ecosystem-service inputs (services_steps)
SERVICE_REGIONS = ("willamette_services", "willamette_habitat")


def service_regions(sample: Path) -> tuple[str, ...]:
    """The service regions the demo loads from this copy of the sample data (none when it
    lacks invest_willamette/ecosystem_services)."""
    es = sample / "invest_willamette" / "ecosystem_services"
    return SERVICE_REGIONS if (es / "derived_lulc_cur_demgrid.tif").is_file() else ()


def services_steps(sample: Path, derived: Path, raster) -> list:
    """The inputs of the ecosystem-service models on the real InVEST Willamette inputs:

    * ``willamette_services`` on the DEM's own grid (UTM 10N, 30 m), bounded by the three
      watersheds: land cover ~1990 and the 2050 scenario snapped onto the DEM grid, the DEM,
      watersheds and sub-watersheds, RUSLE R and K, precipitation, ET0, PAWC, the depth to the
      root-restricting layer (R, ET0, PAWC and the depth are constant stand-ins for grids the
      sample lacks, ecosystem_services/SOURCE.md), and InVEST's SDR and water-yield
      biophysical tables as one services parameter set;
    * ``willamette_habitat`` on the grid of InVEST's habitat-quality sample: land cover ~1990
      and the 2050 scenario, the seven threats of each epoch as threat_<name>, the
      accessibility polygons burnt by pixel centre, and the sensitivity and threat tables as
      one services parameter set.
    """
    w = sample / "invest_willamette"
    es = w / "ecosystem_services"
    hq = es / "habitat_quality"
    if not service_regions(sample):
        return []
    s, h = SERVICE_REGIONS
    out = [
        ("region willamette_services", lambda c: create_region(
            c, s, w / "watersheds.shp", align_to=str(w / "dem_30m.tif"),
            allow_non_equal_area=True, legend="willamette",
            title="Willamette watersheds on the InVEST DEM grid (InVEST sample)")),
        *carbon_steps(w, derived, s),
        ("services land cover ~1990", raster(s, "landcover", es / "derived_lulc_cur_demgrid.tif",
                                             epoch="1990", legend="willamette")),
        ("services land cover 2050 scenario", raster(
            s, "landcover", es / "derived_lulc_fut_demgrid.tif", epoch="2050", scenario=True,
            legend="willamette")),
        ("services DEM", raster(s, "dem", w / "dem_30m.tif", epoch="2000")),
        ("services watersheds", lambda c: load_zones(c, s, w / "watersheds.shp",
                                                     zone_set="watershed",
                                                     mapping={"zone_code": "ws_id"})),
        ("services sub-watersheds", lambda c: load_zones(c, s, w / "subwatersheds.shp",
                                                         zone_set="subwatershed",
                                                         mapping={"zone_code": "subws_id"})),
    ]
    # the inputs of soil retention and water yield: one epoch, valid for both land covers
    for step, layer, path in (
            ("rainfall erosivity R", "erosivity", es / "sdr" /
             "derived_erosivity_const_demgrid.tif"),
            ("soil erodibility K", "erodibility", es / "sdr" / "derived_erodibility_demgrid.tif"),
            ("precipitation", "precip", es / "water_yield" / "derived_precip_demgrid.tif"),
            ("reference ET0", "et0", es / "water_yield" / "derived_eto_const_demgrid.tif"),
            ("PAWC", "pawc", es / "water_yield" / "derived_pawc_const_demgrid.tif"),
            ("root-restricting depth", "soil_depth", es / "water_yield" /
             "derived_depth_root_restricting_const_demgrid.tif")):
        out.append((step, raster(s, layer, path, epoch="1990")))
    out.append(("SDR and water-yield tables", lambda c: load_params(
        c, [es / "sdr" / "biophysical_table_sdr.csv",
            es / "water_yield" / "biophysical_table_awy.csv"], region=s,
        name="invest_willamette_services", kind="services",
        source_text="InVEST sample data (Natural Capital Project): biophysical_table_sdr.csv "
                    "(usle_c, usle_p) and biophysical_table_awy.csv (Kc = etk / 1000 of the "
                    "2013 hydropower table, root_depth mm, lulc_veg assigned by class name)")))
    lc = w / "hq_epochs_subarea"
    out += [
        ("region willamette_habitat", lambda c: create_region(
            c, h, derived / "willamette_habitat_region.geojson",
            align_to=str(lc / "lc_samp_cur_b.tif"), allow_non_equal_area=True,
            legend="willamette",
            title="Willamette habitat-quality sub-area (InVEST sample)")),
        *carbon_steps(w, derived, h, habitat=True),
        ("habitat land cover ~1990", raster(h, "landcover", lc / "lc_samp_cur_b.tif",
                                            epoch="1990", legend="willamette")),
        ("habitat land cover 2050 scenario", raster(h, "landcover", lc / "lc_samp_fut_b.tif",
                                                    epoch="2050", scenario=True,
                                                    legend="willamette")),
    ]
    for name, stem in HABITAT_THREATS.items():
        out.append((f"threat {name} ~1990", raster(h, f"threat_{name}",
                                                   hq / "threats" / f"{stem}_c.tif",
                                                   epoch="1990")))
        out.append((f"threat {name} 2050", raster(h, f"threat_{name}",
                                                  hq / "threats" / f"{stem}_f.tif",
                                                  epoch="2050", scenario=True)))
    out += [
        # InVEST: pixels no polygon covers are fully accessible (1)
        ("accessibility to threats", lambda c: load_vector_layer(
            c, h, "access", hq / "access_samp.shp", field="ACCESS", fill=1.0, epoch="1990")),
        ("habitat sensitivity and threat tables", lambda c: load_params(
            c, [hq / "sensitivity_willamette.csv", hq / "threats_willamette_local.csv"],
            region=h, name="invest_willamette_habitat", kind="services",
            source_text="InVEST sample data (Natural Capital Project): "
                        "sensitivity_willamette.csv and threats_willamette.csv (MAX_DIST m)")),
    ]
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


#: forest classes the habitat sub-area's 2050 scenario turns land into that need a growth rate
#: (closed hardwood 53, closed mixed 54, semi-closed hardwood 62, conifer woodlot 95)
HABITAT_GROWTH_CLASSES = (53, 54, 62, 95)


def carbon_steps(w: Path, derived: Path, region: str, habitat: bool = False) -> list:
    """What a run of a Willamette services region needs besides its service inputs, as in the
    willamette region: the IPCC strata, the InVEST carbon pool table and growth rates of the
    forest classes its scenario creates (every run also builds the carbon models)."""
    if habitat:
        growth = (f"growth rates of new forest {region}", lambda c: load_params(
            c, woodlot_growth(w, derived, HABITAT_GROWTH_CLASSES,
                              "willamette_habitat_forest_growth.csv"),
            region=region, name="willamette_forest_growth", kind="growth_rates",
            source_text=WOODLOT_SOURCE + "; the same conifer rate for the hardwood and mixed "
                        "classes 53, 54 and 62 (an illustration only)"))
    else:
        growth = (f"growth rate of conifer woodlot {region}", lambda c: load_params(
            c, woodlot_growth(w, derived), region=region, name="willamette_conifer_growth",
            kind="growth_rates", source_text=WOODLOT_SOURCE))
    return [
        (f"IPCC strata {region}", lambda c: set_ipcc_strata(
            c, region, "warm_temperate_moist", "HAC")),
        (f"carbon pool table {region}", lambda c: load_params(
            c, w / "carbon_pools_willamette.csv", region=region,
            name="invest_willamette_pools", kind="carbon_pools",
            source_text="InVEST sample data: carbon_pools_willamette.csv "
                        "(Natural Capital Project), Mg C/ha")),
        growth,
    ]


WOODLOT_SOURCE = ("derived from the InVEST sample table carbon_pools_willamette.csv (Natural "
                  "Capital Project): above-ground carbon of closed conifer 41-60 yrs (58) minus "
                  "conifers 0-20 yrs (56) over the 40 years between the class mid-ages; an "
                  "illustration, not a measured woodlot rate")


def woodlot_growth(w: Path, derived: Path, classes: tuple[int, ...] = (95,),
                   name: str = "willamette_woodlot_growth.csv") -> Path:
    """A growth_rates table for the demo's conifer woodlot (class 95): the mean above-ground
    accumulation of the InVEST table's conifer age classes, (C_above of 58, 41-60 yrs, minus
    C_above of 56, 0-20 yrs) / 40 yrs (mid-ages 50 and 10); below ground grows in proportion
    (the class's bgb/agb densities, docs/CARBON.md). ``classes`` other than 95 take the same
    rate (an illustration for the habitat region's scenario, HABITAT_GROWTH_CLASSES)."""
    import csv

    with open(w / "carbon_pools_willamette.csv", newline="") as fh:
        above = {int(r["lucode"]): float(r["C_above"]) for r in csv.DictReader(fh)}
    rate = (above[58] - above[56]) / 40
    text = "parameter,class_code,pool,value,unit\n" + "".join(
        f"growth_rate,{c},agb,{rate:g},Mg C/ha/yr\n" for c in classes)
    path = derived / name
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


def service_inputs(conn: psycopg.Connection, runs: dict[str, int]) -> list[tuple]:
    """Per service region: its run, the land-cover epochs, the service input layers the run
    read and the services parameters of its set."""
    out = []
    for region, run_id in runs.items():
        row = conn.execute("""
            select string_agg(distinct c.epoch_label, ', ' order by c.epoch_label)
                     filter (where c.layer = 'landcover'),
                   count(distinct c.layer) filter (where c.layer <> 'landcover'),
                   string_agg(distinct c.layer, ', ' order by c.layer)
                     filter (where c.layer not in ('landcover', 'dem'))
            from etl.assessment_runs a join raster.catalog c
              on c.catalog_id = any(a.input_catalog_ids)
            where a.run_id = %s""", (run_id,)).fetchone()
        params = conn.execute("""
            select string_agg(distinct v.parameter, ', ' order by v.parameter)
            from etl.assessment_runs a
            join registry.parameter_sets ps on ps.parameter_set_id = any(a.parameter_set_ids)
            join registry.parameter_values v using (parameter_set_id)
            where a.run_id = %s and ps.kind = 'services'""", (run_id,)).fetchone()[0]
        conn.rollback()
        out.append((region, run_id, row[0], row[2] or "", params or ""))
    return out


def service_table(rows: list[tuple]):
    """The terminal table of :func:`service_inputs`."""
    from rich.table import Table

    table = Table(title="ecosystem-service inputs (real InVEST Willamette inputs; R, ET0, PAWC "
                  "and soil depth are constant stand-ins, see their SOURCE.md)",
                  title_justify="left")
    cells = [(f"{r[0]}\nland cover {r[2]}", str(r[1]), r[3], r[4]) for r in rows]
    for k, name in enumerate(("region", "run", "service inputs", "services parameters")):
        # wide enough for the longest single name, so names wrap between words, never cut
        longest = max([len(w) for c in cells for w in c[k].replace(",", " ").split()],
                      default=0)
        table.add_column(name, min_width=longest, overflow="fold")
    for c in cells:
        table.add_row(*c)
    return table


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
    """Reports (zh, en; html, pdf, md) and exports of the demo regions' latest runs (the
    service regions where the sample data hold them)."""
    from ecorest.report import make_report
    from ecorest.report.export import export_run

    written = []
    loaded = {r for (r,) in conn.execute("select name from registry.regions").fetchall()}
    conn.rollback()
    regions = ("willamette", "ansai", "assaba") + tuple(r for r in SERVICE_REGIONS
                                                        if r in loaded)
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
