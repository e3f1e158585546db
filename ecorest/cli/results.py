"""``ecorest report`` and ``ecorest export``: one run's results as documents and files."""

from __future__ import annotations

from pathlib import Path

import click

from ecorest.settings import Settings
from ecorest.store import db as dbmod
from ecorest.vocab import EXPORT_FORMATS, REPORT_FORMATS, REPORT_LANGS

from ._common import command, csv_choice, out

RUN_OPTION = click.option("--run", "run_id", type=click.IntRange(min=1), default=None,
                          help="Assessment run of REGION (default: its latest succeeded run).")
OUT_OPTION = click.option("--out", "out_dir", default="out", show_default=True,
                          type=click.Path(file_okay=False, writable=True),
                          help="Folder to write to.")


@command(None, "report")
@click.argument("region_name", metavar="REGION")
@RUN_OPTION
@click.option("--lang", "langs", default=",".join(REPORT_LANGS), show_default=True,
              callback=csv_choice(REPORT_LANGS, "language"),
              help="Languages, comma-separated: zh, en.")
@click.option("--format", "formats", default=",".join(REPORT_FORMATS), show_default=True,
              callback=csv_choice(REPORT_FORMATS, "format"),
              help="Formats, comma-separated: html (self-contained), pdf, md (+ PNG figures).")
@OUT_OPTION
def report(settings: Settings, region_name: str, run_id: int | None, langs: tuple[str, ...],
           formats: tuple[str, ...], out_dir: str) -> None:
    """Write the assessment report of REGION from its result tables.

    Sections follow the guideline's outline: overview; data and provenance (every input with
    its checksum and epoch); methods and parameters (tiers and sources used); identification
    (grade map, table by zone, patches, NDVI trend, accuracy with the 85 % gate); carbon
    (stocks by pool and epoch, change map, transitions, project benefits); uncertainty and
    validation (the ±10 % criterion); conclusions computed from the numbers.
    """
    from ecorest.report import make_report
    from ecorest.run import mark_dead_runs

    with dbmod.session(settings) as conn:
        mark_dead_runs(conn)   # a run killed meanwhile is reported as failed, not as running
        files = make_report(conn, region_name, Path(out_dir), run_id=run_id, langs=langs,
                            formats=formats)
    for f in files:
        out.print(f"  {f}")


@command(None, "export")
@click.argument("region_name", metavar="REGION")
@RUN_OPTION
@click.option("--format", "formats", default=",".join(EXPORT_FORMATS), show_default=True,
              callback=csv_choice(EXPORT_FORMATS, "format"),
              help="Formats, comma-separated: gpkg (patches, zones, projects with results), "
                   "tif (grade raster, carbon density, change), csv and xlsx (result tables).")
@OUT_OPTION
def export(settings: Settings, region_name: str, run_id: int | None, formats: tuple[str, ...],
           out_dir: str) -> None:
    """Export the results of REGION's run to GeoPackage, GeoTIFF, CSV and Excel."""
    from ecorest.report.export import export_run
    from ecorest.run import mark_dead_runs

    with dbmod.session(settings) as conn:
        mark_dead_runs(conn)
        files = export_run(conn, region_name, Path(out_dir), run_id=run_id, formats=formats)
    for f in files:
        out.print(f"  {f}")


@command(None, "qgis")
@click.argument("region_name", metavar="REGION")
@RUN_OPTION
@OUT_OPTION
@click.option("--no-publish", is_flag=True,
              help="Use the raster layers already published in schema maps instead of "
                   "publishing them again.")
def qgis(settings: Settings, region_name: str, run_id: int | None, out_dir: str,
         no_publish: bool) -> None:
    """Write a QGIS project (.qgz) of REGION's run over the database.

    Publishes the region's raster layers (inputs per layer and epoch, priority grades,
    composite score, carbon density per epoch and its change) as tables of schema maps with
    raster constraints and overviews, and writes a styled project over them and the bi views
    (patches, zones, projects). The project keeps host, port, database and user, never the
    password: QGIS asks for it.
    """
    from ecorest.report.qgis import write_project
    from ecorest.run import mark_dead_runs

    with dbmod.session(settings) as conn:
        mark_dead_runs(conn)
        path = write_project(conn, region_name, Path(out_dir), run_id=run_id,
                             publish_layers=not no_publish)
    out.print(f"  {path}")
