"""``ecorest demo``: the main job end to end on the public sample data."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ecorest.settings import Settings
from ecorest.store import db as dbmod
from ecorest.store.cluster import EmbeddedCluster

from ._common import command, log, out, result_table
from .db import print_status
from .run import grade_table


@command(None, "demo")
@click.option("--out", "out_dir", default="out", show_default=True,
              type=click.Path(file_okay=False, writable=True),
              help="Folder for the reports and exports.")
def demo(settings: Settings, out_dir: str) -> None:
    """Run the main job end to end on the public sample data.

    Finds the public sample data (ECOREST_SAMPLE_DATA, else ./shared/data or ../shared/data),
    derives the demo's legend, region and example projects from them, starts the embedded
    cluster (or uses --dsn), brings the schema to head, loads every data set into its regions
    (willamette, ansai, assaba; the ecosystem-service inputs in willamette_services and
    willamette_habitat), runs every model (carbon, restoration-area identification, ecosystem
    services) for each, writes the assessment reports of every region (Chinese and English;
    HTML, PDF, Markdown), the exports (GeoPackage, GeoTIFF, CSV, Excel) and a QGIS project to
    --out, then prints where to look and how to connect. Running it again loads and computes
    nothing new.
    """
    from ecorest import demo as demo_mod
    from ecorest import samples
    from ecorest.report import summary
    from ecorest.run import run_assessment

    t0 = time.monotonic()
    sample = samples.locate()
    derived = samples.derive(sample, settings.home / "sample-derived")
    log.info("sample data: %s (derived files in %s)", sample, derived)
    if settings.uses_embedded_cluster:
        EmbeddedCluster(settings.home).start()
    # the cluster's superuser migrates; loads and runs (dbt) go through the ecorest_runner
    # login like every other command (with --dsn: that URL, which `run` never lets dbt use
    # as a superuser)
    dbmod.migrate(dbmod.resolve_url(settings, create=True))
    log.info("schema at revision %s", dbmod.head_revision())
    url = dbmod.resolve_url(settings)
    with dbmod.session(settings) as conn:
        demo_mod.run(conn, sample, derived)
        run_id = run_assessment(conn, url, "willamette", work_dir=settings.home / "dbt")
        ansai_run = run_assessment(conn, url, "ansai", work_dir=settings.home / "dbt")
        assaba_run = run_assessment(conn, url, "assaba", work_dir=settings.home / "dbt")
        service_runs = {r: run_assessment(conn, url, r, work_dir=settings.home / "dbt")
                        for r in demo_mod.service_regions(sample)}
        grade_tables = [grade_table(conn, run_id, "willamette"),
                        grade_table(conn, ansai_run, "ansai")]
        written = demo_mod.outputs(conn, Path(out_dir))
        loaded = demo_mod.summary(conn)
        carbon = summary.carbon_by_pool(conn, run_id)
        benefits = summary.project_benefits(conn, run_id)
        matched = summary.matched_benefits(conn, assaba_run)
        services = demo_mod.service_inputs(conn, service_runs)
    print_status(settings)
    # result tables fit 80 columns: numbers right-aligned and whole, text wrapped
    table = result_table("loaded", ["region", "grid CRS", "pixel m", "rasters", "zones",
                                    "projects", "plots"],
                         numeric=["pixel m", "rasters", "zones", "projects", "plots"])
    for r in loaded:
        table.add_row(r[0], r[1], f"{r[2]:g}", *(str(x) for x in r[3:]))
    out.print(table)
    ctable = result_table(f"willamette carbon (assessment run {run_id}, InVEST pool table; "
                          "2050 is the InVEST scenario)",
                          ["pool", "1990 t C", "2050 t C", "change t C", "t CO2e/yr"],
                          numeric=["1990 t C", "2050 t C", "change t C", "t CO2e/yr"],
                          caption="stocks 1990 and 2050, their change and the sink it "
                                  "makes per year")
    for r in carbon:
        ctable.add_row(r["pool"], *(f"{r[k]:,}" for k in ("stock_t1_t", "stock_t2_t",
                                                          "change_t", "sink_co2e_t_per_yr")))
    out.print(ctable)
    btable = result_table("example projects (illustrative) against a 1 km ring of comparable "
                          "pixels, all pools",
                          ["project", "name", "ha", "change t C", "baseline t C",
                           "t CO2e/yr"],
                          numeric=["ha", "change t C", "baseline t C", "t CO2e/yr"],
                          caption="t CO2e/yr: the sink enhancement (change beyond the "
                                  "baseline, per year)")
    for r in benefits:
        btable.add_row(r["project_id"], r["project_name"],
                       *(f"{r[k]:,}" for k in ("area_ha", "change_t", "baseline_change_t",
                                               "sink_enhancement_co2e_t_per_yr")))
    out.print(btable)
    mtable = result_table(f"assaba example projects (illustrative) against matched controls, "
                          f"biomass following MODIS GPP (run {assaba_run})",
                          ["project", "benefit t C", "95 % interval", "sink rate vs before",
                           "vs controls"],
                          numeric=["benefit t C", "95 % interval", "sink rate vs before",
                                   "vs controls"])
    for r in matched:
        mtable.add_row(r["project_id"], f"{r['benefit_t']:,.0f}",
                       f"{r['benefit_p2_5_t']:,.0f} … {r['benefit_p97_5_t']:,.0f}",
                       _pass(r["change_vs_pre_pct"], r["passes_vs_pre"]),
                       _pass(r["change_vs_controls_pct"], r["passes_vs_controls"]))
    out.print(mtable)
    for t in grade_tables:
        if t is not None:
            out.print(t)
    if services:
        out.print(demo_mod.service_table(services))
    reports = sorted(str(f) for f in written if f.suffix in (".html", ".pdf"))
    out.print(f"done in {time.monotonic() - t0:.0f} s.\n\n"
              f"Reports (Chinese and English) and exports are in {out_dir}/ ({len(written)} "
              "files):\n  " + "\n  ".join(reports) + "\n"
              f"  GeoPackage, GeoTIFF, CSV and Excel: {out_dir}/<region>/exports/\n\n"
              "Connect psql, QGIS or a BI tool with the URL from `ecorest db url "
              "--show-password`.\nBI tools read the documented views in schema bi "
              "(bi.zone_scores, bi.restoration_patches, bi.carbon_stocks, ...; the latest "
              "run of each region).\nGive a BI login read access with: "
              "CREATE ROLE metabase LOGIN PASSWORD '...' IN ROLE ecorest_bi;\n"
              "In QGIS open <region>/exports/<region>_run<id>.qgz, or add any bi view (its first "
              "column row_key is its key) and the rasters of schema maps.")


def _pass(pct, passes) -> str:
    if pct is None:
        return "n/a"
    return f"{pct:+.0f} % ({'pass' if passes else 'fail'})"
