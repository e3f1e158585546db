"""The ``ecorest`` command line.

Every command works against the embedded PostGIS cluster under the data folder (``.ecorest/``,
started on demand) unless ``--dsn`` or ``ECOREST_DATABASE_URL`` names another server.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from . import db as dbmod
from .cluster import ClusterError, EmbeddedCluster
from .settings import ENV_DATABASE_URL, ENV_HOME, Settings
from .validation import LoadError

log = logging.getLogger("ecorest")
console = Console(stderr=True)
out = Console()


class AppError(click.ClickException):
    """An error to show the user as one clear message (exit code 1)."""

    def show(self, file=None) -> None:  # noqa: ARG002 - click's signature
        console.print(f"[bold red]error:[/] {self.message}")


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(message)s", datefmt="%H:%M:%S",
        handlers=[RichHandler(console=console, show_path=verbosity > 0, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(name="ecorest", context_settings=CONTEXT)
@click.option("--dsn", metavar="URL", envvar=ENV_DATABASE_URL, show_envvar=True,
              help="PostgreSQL+PostGIS server to use instead of the embedded cluster, e.g. "
                   "postgresql://user:pass@host:5432/db.")
@click.option("--home", metavar="DIR", envvar=ENV_HOME, show_envvar=True,
              help="Data folder of the embedded cluster and outputs [default: ./.ecorest].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.version_option(package_name="ecorest")
@click.pass_context
def cli(ctx: click.Context, dsn: str | None, home: str | None, verbose: int, quiet: bool) -> None:
    """ecorest: ecological-restoration area identification and carbon sink-enhancement
    assessment on PostGIS.

    \b
    Typical session:
      ecorest db start                 start the embedded PostGIS (created on first use)
      ecorest db migrate               create or upgrade the schema
      ecorest db status                versions, schema revision, roles
    """
    _setup_logging(-1 if quiet else verbose)
    ctx.obj = Settings.from_env(dsn=dsn, home=home)


# ================================================================================================
# db
# ================================================================================================
@cli.group()
def db() -> None:
    """Manage the database: the embedded cluster, migrations, status.

    Without --dsn / ECOREST_DATABASE_URL these commands act on the embedded PostgreSQL cluster
    kept under the data folder; with them, start/stop/destroy do not apply and the other
    commands act on the given server.
    """


def _cluster(settings: Settings) -> EmbeddedCluster:
    if not settings.uses_embedded_cluster:
        raise AppError("this command manages the embedded cluster; a server was given with "
                       f"--dsn/{ENV_DATABASE_URL} ({dbmod.mask_url(settings.database_url)})")
    return EmbeddedCluster(settings.home)


def _wrap(fn):
    """Turn the domain errors into one-line messages."""
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ClusterError, dbmod.DatabaseError, LoadError) as exc:
            raise AppError(str(exc)) from exc
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


@db.command("start")
@click.pass_obj
@_wrap
def db_start(settings: Settings) -> None:
    """Create (first time) and start the embedded PostGIS cluster.

    The cluster listens on 127.0.0.1 only, on a free port chosen at creation, with a generated
    password kept in <home>/cluster.json (mode 0600). Run as root, the server runs as the
    'postgres' OS user. Starting a running cluster does nothing.
    """
    cluster = _cluster(settings)
    state = cluster.start()
    log.info("embedded cluster running on 127.0.0.1:%d (data: %s)", state.port, state.pgdata)


@db.command("stop")
@click.pass_obj
@_wrap
def db_stop(settings: Settings) -> None:
    """Stop the embedded cluster (its data stay)."""
    if not _cluster(settings).stop():
        log.info("embedded cluster is not running")


@db.command("destroy")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@_wrap
def db_destroy(settings: Settings, yes: bool) -> None:
    """Stop the embedded cluster and delete all its data."""
    cluster = _cluster(settings)
    if not yes:
        click.confirm(f"Delete the embedded cluster under {settings.home} and all its data?",
                      abort=True)
    cluster.destroy()


@db.command("url")
@click.option("--show-password", is_flag=True, help="Print the password instead of ***.")
@click.pass_obj
@_wrap
def db_url(settings: Settings, show_password: bool) -> None:
    """Print the connection URL (for psql, QGIS, BI tools or ECOREST_DATABASE_URL)."""
    url = settings.database_url or _cluster(settings).url()
    out.print(url if show_password else dbmod.mask_url(url), soft_wrap=True, highlight=False)


@db.command("migrate")
@click.option("--revision", default="head", show_default=True,
              help="Target revision (alembic syntax).")
@click.pass_obj
@_wrap
def db_migrate(settings: Settings, revision: str) -> None:
    """Create or upgrade the schema (alembic upgrade), then apply sql/ functions and grants.

    Safe to run again: at head it only re-applies the idempotent sql/ files.
    """
    url = dbmod.resolve_url(settings)
    t0 = time.monotonic()
    with dbmod.connect(url) as conn:
        before = dbmod.current_revision(conn)
    dbmod.migrate(url, revision)
    with dbmod.connect(url) as conn:
        after = dbmod.current_revision(conn)
    if before == after:
        log.info("schema already at revision %s; sql/ functions and grants re-applied (%.1f s)",
                 after, time.monotonic() - t0)
    else:
        log.info("schema migrated from %s to %s (%.1f s)", before or "empty", after,
                 time.monotonic() - t0)


@db.command("status")
@click.pass_obj
@_wrap
def db_status(settings: Settings) -> None:
    """Show the server, PostgreSQL/PostGIS/PL/Python versions, schema revision and roles."""
    _print_status(settings)


def _print_status(settings: Settings) -> None:
    table = Table(title="ecorest database", show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")
    if settings.uses_embedded_cluster:
        cluster = EmbeddedCluster(settings.home)
        st = cluster.state()
        running = cluster.is_running()
        table.add_row("server", "embedded cluster" + ("" if running else " (stopped)"))
        table.add_row("data folder", str(settings.home))
        if st:
            table.add_row("cluster files", st.pgdata)
        if not running:
            out.print(table)
            out.print("start it with: ecorest db start")
            return
        url = cluster.url()
    else:
        url = settings.database_url
        table.add_row("server", "given by --dsn / " + ENV_DATABASE_URL)
    table.add_row("url", dbmod.mask_url(url))
    with dbmod.connect(url) as conn:
        versions = dbmod.server_versions(conn)
        current = dbmod.current_revision(conn)
        roles = [r for (r,) in conn.execute(
            "select rolname from pg_roles where rolname = any(%s) order by 1",
            (list(dbmod.ROLES),)).fetchall()]
    head = dbmod.head_revision()
    table.add_row("PostgreSQL", versions["postgresql"])
    table.add_row("PostGIS", _or_missing(versions.get("postgis_full") or versions["postgis"],
                                         f"GEOS {versions.get('geos')}, PROJ {versions.get('proj')}"
                                         if versions.get("geos") else None))
    table.add_row("postgis_raster", _or_missing(versions["postgis_raster"]))
    table.add_row("PL/Python", _or_missing(versions.get("plpython") or versions["plpython3u"]))
    state = ("up to date" if current == head else
             f"[red]behind[/] (code expects {head}; run `ecorest db migrate`)")
    table.add_row("schema revision", f"{current or 'none'} — {state}")
    table.add_row("roles", ", ".join(roles) or "[red]none[/] (run `ecorest db migrate`)")
    out.print(table)


def _or_missing(value: str | None, extra: str | None = None) -> str:
    if not value:
        return "[red]not installed[/] (run `ecorest db migrate`)"
    return f"{value} ({extra})" if extra else value


# ================================================================================================
# region
# ================================================================================================
@cli.group()
def region() -> None:
    """Declare assessment regions and their grid.

    A region is a boundary and one canonical equal-area grid (CRS, pixel size, origin snapped to
    the pixel size, tile size). Every raster loaded for the region is warped onto this grid.
    """


@region.command("create")
@click.argument("name")
@click.option("--boundary", "boundary", required=True, type=click.Path(dir_okay=False),
              help="Boundary polygon(s): GeoPackage, Shapefile, GeoJSON ... (all features are "
                   "merged).")
@click.option("--crs", default=None, metavar="CRS",
              help="Grid CRS: 'china-albers' (CGCS2000 / Albers, SRID 990001), EPSG:xxxx, "
                   "ESRI:xxxxx or a PROJ string; must be equal-area. Default: China Albers in "
                   "China, EPSG:5070 in the conterminous US, EPSG:3035 in Europe, else a "
                   "Lambert azimuthal equal-area centred on the region.")
@click.option("--pixel-size", default=30.0, show_default=True, type=float,
              help="Pixel size of the grid in metres.")
@click.option("--tile-size", default=256, show_default=True, type=click.IntRange(16, 4096),
              help="Tile edge in pixels (256 measured best; see bench/).")
@click.option("--legend", default=None, metavar="NAME",
              help="Default land-cover legend of the region (e.g. clcd, hj1166_l2).")
@click.option("--align-to", default=None, metavar="RASTER", type=click.Path(dir_okay=False),
              help="Use this raster's grid (CRS, pixel size, origin) so it loads without "
                   "resampling.")
@click.option("--allow-non-equal-area", is_flag=True,
              help="Accept a grid CRS that is not equal-area (areas are then grid areas); "
                   "only to reproduce results computed on such a grid.")
@click.option("--title", default=None, help="Display title.")
@click.option("--ipcc-climate", default=None, metavar="ZONE",
              help="IPCC climate zone (warm_temperate_moist, cold_temperate_dry, ...): selects "
                   "the Tier 1 carbon defaults.")
@click.option("--ipcc-soil", default=None, metavar="TYPE",
              help="Dominant IPCC mineral soil type (HAC, LAC, sandy, spodic, volcanic, "
                   "wetland).")
@click.pass_obj
@_wrap
def region_create(settings: Settings, name: str, boundary: str, crs: str | None,
                  pixel_size: float, tile_size: int, legend: str | None,
                  align_to: str | None, allow_non_equal_area: bool,
                  title: str | None, ipcc_climate: str | None, ipcc_soil: str | None) -> None:
    """Create region NAME from a boundary file (re-running with the same inputs is a no-op)."""
    from .legends import ensure_legend
    from .regions import create_region, set_ipcc_strata

    with dbmod.session(settings) as conn:
        r = create_region(conn, name, boundary, crs=crs, pixel_size=pixel_size,
                          tile_size=tile_size, title=title, align_to=align_to,
                          allow_non_equal_area=allow_non_equal_area)
        if legend:
            legend_id = ensure_legend(conn, legend)
            conn.execute("update registry.regions set legend_id = %s where region_id = %s",
                         (legend_id, r.region_id))
            conn.commit()
        if ipcc_climate or ipcc_soil:
            set_ipcc_strata(conn, name, ipcc_climate, ipcc_soil)
    out.print(f"region {r.name}: SRID {r.srid} ({r.crs_name}), {r.pixel_size_m:g} m, "
              f"{r.width_px} x {r.height_px} px in {r.tiles_x} x {r.tiles_y} tiles of "
              f"{r.tile_size_px}")


@region.command("set-ipcc")
@click.argument("name")
@click.option("--climate", default=None, metavar="ZONE",
              help="IPCC climate zone: boreal, cold_temperate_dry, cold_temperate_moist, "
                   "warm_temperate_dry, warm_temperate_moist, tropical_dry, tropical_moist, "
                   "tropical_wet, tropical_montane.")
@click.option("--soil", default=None, metavar="TYPE",
              help="Dominant IPCC mineral soil type: HAC, LAC, sandy, spodic, volcanic, wetland.")
@click.pass_obj
@_wrap
def region_set_ipcc(settings: Settings, name: str, climate: str | None,
                    soil: str | None) -> None:
    """Set the IPCC climate zone and soil type of region NAME (Tier 1 carbon defaults)."""
    from .regions import set_ipcc_strata

    with dbmod.session(settings) as conn:
        set_ipcc_strata(conn, name, climate, soil)
    out.print(f"region {name}: IPCC climate zone {climate or '(unchanged)'}, soil type "
              f"{soil or '(unchanged)'}")


@region.command("list")
@click.pass_obj
@_wrap
def region_list(settings: Settings) -> None:
    """List regions with their grid and what has been loaded."""
    with dbmod.session(settings) as conn:
        rows = conn.execute("""
            select r.name, r.srid, r.crs_name, r.pixel_size_m, r.width_px, r.height_px,
                   r.tile_size_px, round(r.boundary_area_ha::numeric, 1),
                   (select count(*) from raster.catalog c
                     where c.region_id = r.region_id and c.is_current)
            from registry.regions r order by r.name""").fetchall()
    table = Table("region", "SRID", "CRS", "pixel m", "grid px", "tile", "area ha", "layers")
    for r in rows:
        table.add_row(r[0], str(r[1]), r[2], f"{r[3]:g}", f"{r[4]} x {r[5]}", str(r[6]),
                      str(r[7]), str(r[8]))
    out.print(table)


# ================================================================================================
# load
# ================================================================================================
@cli.group()
def load() -> None:
    """Load inputs into a region: rasters, legends, zones, projects, samples, plots, parameters.

    Every load validates first, runs in one transaction, is recorded in etl.loads and sends
    rejected rows to etl.quarantine (--strict fails the whole load instead). Loading the same
    file again does nothing; a corrected file for the same layer/epoch replaces the old one.
    """


@load.command("raster")
@click.argument("region_name", metavar="REGION")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--layer", required=True, metavar="KIND",
              help="landcover, ndvi, evi, fvc, dem, or factor_<name>.")
@click.option("--epoch", default=None, metavar="YEAR|DATE",
              help="Epoch of a single-band file (e.g. 2020 or 2020-07-15).")
@click.option("--epoch-from", type=click.Choice(["band", "filename"]), default=None,
              help="Read epochs from band descriptions (each band = one epoch, e.g. "
                   "X1982.01.01) or from file names (..._2016_017.tif, ..._1982.tif).")
@click.option("--band", type=int, default=None, help="Load only this band.")
@click.option("--scale", type=float, default=None,
              help="Physical value = stored × scale + offset (default: the file's own; "
                   "e.g. 0.0001 for MODIS NDVI integers).")
@click.option("--offset", type=float, default=None, help="See --scale.")
@click.option("--nodata", type=float, default=None, help="Override the file's nodata value.")
@click.option("--legend", default=None, metavar="NAME",
              help="Legend of a land-cover layer (default: the region's).")
@click.option("--resampling", default=None,
              help="Override the resampling (default: nearest/mode for classes, "
                   "bilinear/average for continuous values).")
@click.option("--valid-min", type=float, default=None, help="Lower bound of valid values.")
@click.option("--valid-max", type=float, default=None, help="Upper bound of valid values.")
@click.option("--units", default=None, help="Units of a factor layer.")
@click.option("--scenario", is_flag=True,
              help="The file is a scenario map: its epoch may lie in the future (e.g. 2050).")
@click.option("--strict", is_flag=True,
              help="Fail the whole load on any bad pixel instead of quarantining its tile.")
@click.pass_obj
@_wrap
def load_raster_cmd(settings: Settings, region_name: str, files: tuple[str, ...], layer: str,
                    **options) -> None:
    """Warp raster FILES onto the grid of REGION and store them as tiles.

    \b
    Examples:
      ecorest load raster willamette --layer landcover --epoch 1990 --legend willamette lulc.tif
      ecorest load raster italy --layer ndvi --scale 0.0001 --epoch-from filename MOD13A1_*.tif
      ecorest load raster alaska --layer ndvi --epoch-from band gimms_monthly.tif
    """
    from .rasters import load_raster

    with dbmod.session(settings) as conn:
        for f in files:
            ids = load_raster(conn, region_name, layer, f, **options)
            if ids:
                out.print(f"{f}: {len(ids)} epoch(s) loaded as {layer} (catalog "
                          f"{', '.join(map(str, ids))})")
            else:
                out.print(f"{f}: already loaded, nothing changed")


@load.command("legend")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--title", default=None, help="Legend title.")
@click.option("--source", default=None, help="Where the classes come from (citation).")
@click.pass_obj
@_wrap
def load_legend_cmd(settings: Settings, name: str, file: str, title: str | None,
                    source: str | None) -> None:
    """Register (or replace) legend NAME from a CSV.

    Columns: class_code, name_en [, name_zh, ipcc_category, ecosystem_type, color_hex].
    Built-in legends 'clcd' and 'hj1166_l2' are registered automatically on first use.
    """
    from .legends import load_legend

    with dbmod.session(settings) as conn:
        legend_id = load_legend(conn, name, file, title=title, source=source)
    out.print(f"legend {name} (id {legend_id}) loaded")


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise AppError(f"{option} expects KEY=VALUE, got {v!r}")
        out[key.strip()] = val.strip()
    return out


MAP_OPTION = click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
                          help="Read FIELD from COLUMN (repeatable), e.g. --map plot_id=PLOT.")
CRS_OPTION = click.option("--crs", default=None, metavar="CRS",
                          help="CRS of the input when the file has none (CSV coordinates: "
                               "lon/lat columns default to EPSG:4326).")
STRICT_OPTION = click.option("--strict", is_flag=True,
                             help="Fail the whole load on any bad row instead of quarantining.")
X_OPTION = click.option("--x", default=None, help="CSV column with x/longitude.")
Y_OPTION = click.option("--y", default=None, help="CSV column with y/latitude.")
GEOMETRY_OPTION = click.option("--invalid-geometry", type=click.Choice(["repair", "reject"]),
                               default="repair", show_default=True,
                               help="Repair invalid polygons (ST_MakeValid, with a warning) or "
                                    "reject them to the quarantine.")


@load.command("zones")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "zone_set", default="admin", show_default=True,
              help="Zone set name; 'admin' means GB/T 2260 administrative units (6-digit codes,"
                   " level derived from the code).")
@click.option("--code", default=None, help="Code of a single-feature file without attributes.")
@click.option("--name", default=None, help="Name of a single-feature file without attributes.")
@MAP_OPTION
@CRS_OPTION
@GEOMETRY_OPTION
@STRICT_OPTION
@click.pass_obj
@_wrap
def load_zones_cmd(settings: Settings, region_name: str, file: str, zone_set: str,
                   code: str | None, name: str | None, mapping: tuple[str, ...],
                   crs: str | None, invalid_geometry: str, strict: bool) -> None:
    """Load zones (admin units or another zone set) for REGION; a new file replaces the set.

    Columns: zone_code (aliases code, adcode, id ...), name, admin_level, parent_code.
    """
    from .vector_loads import load_zones

    with dbmod.session(settings) as conn:
        n = load_zones(conn, region_name, file, zone_set=zone_set, code=code, name=name,
                       mapping=_pairs(mapping, "--map"), crs=crs,
                       repair=invalid_geometry == "repair", strict=strict)
    out.print(f"{file}: {n} zone(s) of set {zone_set!r} loaded" if n else
              f"{file}: already loaded, nothing changed")


@load.command("samples")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=click.Path(dir_okay=False))
@X_OPTION
@Y_OPTION
@click.option("--legend", default=None, help="Legend of reference_class (default: region's).")
@MAP_OPTION
@CRS_OPTION
@STRICT_OPTION
@click.pass_obj
@_wrap
def load_samples_cmd(settings: Settings, region_name: str, file: str, x: str | None,
                     y: str | None, legend: str | None, mapping: tuple[str, ...],
                     crs: str | None, strict: bool) -> None:
    """Load reference samples (points) for accuracy assessment.

    Columns: sample_id, reference_class and/or reference_grade, sample_date, source.
    """
    from .vector_loads import load_samples

    with dbmod.session(settings) as conn:
        n = load_samples(conn, region_name, file, mapping=_pairs(mapping, "--map"), crs=crs,
                         x=x, y=y, legend=legend, strict=strict)
    out.print(f"{file}: {n} sample(s) loaded" if n else f"{file}: already loaded")


@load.command("projects")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--examples", is_flag=True,
              help="Mark every project as an illustrative example (not a real record).")
@MAP_OPTION
@CRS_OPTION
@GEOMETRY_OPTION
@STRICT_OPTION
@click.pass_obj
@_wrap
def load_projects_cmd(settings: Settings, region_name: str, file: str, examples: bool,
                      mapping: tuple[str, ...], crs: str | None, invalid_geometry: str,
                      strict: bool) -> None:
    """Load restoration projects; a changed project gets a new version, nothing is deleted.

    Columns: project_id, name, project_type, start_date, end_date, investment_cny, agency,
    description, measures ('type:area_ha; ...' or JSON), polygon geometry.
    """
    from .vector_loads import load_projects

    with dbmod.session(settings) as conn:
        c = load_projects(conn, region_name, file, mapping=_pairs(mapping, "--map"), crs=crs,
                          repair=invalid_geometry == "repair", examples=examples, strict=strict)
    out.print(f"{file}: {c['new']} new, {c['changed']} changed, {c['unchanged']} unchanged")


@load.command("plots")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--units", multiple=True, metavar="POOL=UNIT",
              help="Unit of a pool column without one in its header (t/ha, Mg C/ha, kg/m2, "
                   "g/m2 ...), e.g. --units agb=t/ha.")
@click.option("--carbon-fraction", type=float, default=0.47, show_default=True,
              help="Carbon fraction of dry matter (IPCC 2006 Table 4.3 default).")
@click.option("--wood-density", type=float, default=0.57, show_default=True,
              help="Wood density (g/cm³) for trees without one (tree lists).")
@click.option("--plot-area-m2", type=float, default=None,
              help="Plot area when the file has no plot-area column.")
@X_OPTION
@Y_OPTION
@click.option("--source", default=None, help="Survey or dataset name.")
@MAP_OPTION
@CRS_OPTION
@STRICT_OPTION
@click.pass_obj
@_wrap
def load_plots_cmd(settings: Settings, region_name: str, file: str, units: tuple[str, ...],
                   mapping: tuple[str, ...], **options) -> None:
    """Load survey plots: plot tables, tree lists, soil layers or a BAAD study's data.csv.

    \b
    Plot table:  plot_id, date/year, coordinates, plot area, agb/bgb/... with units
    Tree list:   plot_id, tree id, dbh (cm) [, height (m), wood density], plot area
    Soil layers: plot_id, date, top_cm, bottom_cm, soc_g_per_kg, bulk_density [, gravel]
    """
    from .plots import load_plots

    with dbmod.session(settings) as conn:
        c = load_plots(conn, region_name, file, mapping=_pairs(mapping, "--map"),
                       units=_pairs(units, "--units"), **options)
    out.print(f"{file}: {c['plots']} plots, {c['measurements']} pool measurements, "
              f"{c['trees']} trees, {c['soil_layers']} soil layers")


@load.command("params")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Parameter set name.")
@click.option("--kind", required=True,
              type=click.Choice(["carbon_pools", "ipcc_defaults", "growth_rates", "weights",
                                 "transition_severity", "thresholds", "factor_table", "other"]),
              help="What the set holds.")
@click.option("--source", "source_text", required=True,
              help="Bibliographic source of the values (stored with every result).")
@click.option("--description", default=None, help="Free text.")
@click.option("--ipcc-edition", type=click.Choice(["2006", "2019"]), default=None,
              help="IPCC guidance edition for IPCC default sets.")
@click.pass_obj
@_wrap
def load_params_cmd(settings: Settings, file: str, **options) -> None:
    """Load a versioned parameter set from a CSV (long layout or an InVEST pool table).

    A changed file under the same name becomes the next version and the active one.
    """
    from .params import load_params

    with dbmod.session(settings) as conn:
        set_id, version = load_params(conn, file, **options)
    out.print(f"{file}: parameter set {options['name']} version {version} (id {set_id})")


# ================================================================================================
# run
# ================================================================================================
@cli.command("run")
@click.argument("region_name", metavar="REGION")
@click.option("--ipcc-edition", type=click.Choice(["2006", "2019"]), default="2006",
              show_default=True, help="IPCC guidance edition of default factors (stored with "
                                      "every result).")
@click.option("--force", is_flag=True,
              help="Rebuild even when the last run used the same inputs and models.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a model setting of dbt_project/dbt_project.yml for this run, e.g. "
                   "--set grading_method=quantile --set project_baseline=no_change "
                   "(repeatable; stored with the run).")
@click.pass_obj
@_wrap
def run_cmd(settings: Settings, region_name: str, ipcc_edition: str, force: bool,
            overrides: tuple[str, ...]) -> None:
    """Build the models for REGION (dbt build) as one recorded assessment run.

    Results go to the marts, keyed by the run id: carbon (carbon_stocks, carbon_stock_changes,
    landcover_transitions, project_benefits, carbon_uncertainty, plot_validation,
    parameter_lineage) and identification (priority_tiles, zone_scores, restoration_patches,
    ndvi_trends, factor_summaries, identification_accuracy). A failed run is recorded as
    failed and leaves earlier results in place.
    """
    from .runs import RunError, run_assessment

    url = dbmod.resolve_url(settings)
    with dbmod.session(settings) as conn:
        try:
            run_id = run_assessment(conn, url, region_name, work_dir=settings.home / "dbt",
                                    ipcc_edition=ipcc_edition, force=force,
                                    dbt_vars=_parse_overrides(overrides))
        except RunError as exc:
            raise AppError(str(exc)) from exc
        rows = conn.execute(
            "select epoch_label, round(sum(carbon_t)::numeric) from marts.carbon_stocks "
            "where run_id = %s and zone_set = 'region' group by 1 order by 1",
            (run_id,)).fetchall()
        grades = _grade_table(conn, run_id, region_name)
    out.print(f"assessment run {run_id} of {region_name}: succeeded")
    for epoch, total in rows:
        out.print(f"  carbon stock {epoch}: {total:,} t C")
    if grades is not None:
        out.print(grades)


def _parse_overrides(items: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs; values are read as YAML (numbers, lists, text)."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _grade_table(conn, run_id: int, region_name: str) -> Table | None:
    """Restoration priority of a run by zone (the region and every zone set), for the console."""
    rows = conn.execute(
        "select zone_set, zone_code, zone_name, assessed_ha, priority_restoration_ha, "
        "restoration_ha, improvement_ha, protection_ha, general_ha, top_factors "
        "from marts.zone_scores where run_id = %s "
        "order by zone_set <> 'region', zone_set, zone_code limit 12", (run_id,)).fetchall()
    if not rows:
        return None
    patches = conn.execute("select count(*), coalesce(sum(area_ha), 0) from "
                           "marts.restoration_patches where run_id = %s", (run_id,)).fetchone()
    table = Table("zone", "assessed ha", "1 priority", "2 restoration", "3 improvement",
                  "4 protection", "5 general", "top factors",
                  title=f"{region_name}: restoration priority by zone (ha; run {run_id}; "
                        f"{patches[0]} patches, {patches[1]:,.0f} ha)", title_justify="left")
    for zset, code, name, *areas, top in rows:
        label = name if zset == "region" else f"{zset} {code} {name if name != code else ''}"
        table.add_row(label.strip(), *(f"{a:,.0f}" for a in areas), top or "")
    return table


# ================================================================================================
# report and export
# ================================================================================================
def _csv(value: str) -> tuple[str, ...]:
    """A comma-separated option as its non-empty items."""
    return tuple(x.strip() for x in value.split(",") if x.strip())


@cli.command()
@click.argument("region_name", metavar="REGION")
@click.option("--run", "run_id", type=int, default=None,
              help="Assessment run to report (default: the region's latest succeeded run).")
@click.option("--lang", "langs", default="zh,en", show_default=True,
              help="Languages, comma-separated: zh, en.")
@click.option("--format", "formats", default="html,pdf,md", show_default=True,
              help="Formats, comma-separated: html (self-contained), pdf, md (+ PNG figures).")
@click.option("--out", "out_dir", default="out", show_default=True,
              type=click.Path(file_okay=False), help="Folder to write to.")
@click.pass_obj
@_wrap
def report(settings: Settings, region_name: str, run_id: int | None, langs: str,
           formats: str, out_dir: str) -> None:
    """Write the assessment report of REGION from its result tables.

    Sections follow the guideline's outline: overview; data and provenance (every input with
    its checksum and epoch); methods and parameters (tiers and sources used); identification
    (grade map, table by zone, patches, NDVI trend, accuracy with the 85 % gate); carbon
    (stocks by pool and epoch, change map, transitions, project benefits); uncertainty and
    validation (the ±10 % criterion); conclusions computed from the numbers.
    """
    from reporting.report import make_report

    with dbmod.session(settings) as conn:
        files = make_report(conn, region_name, Path(out_dir), run_id=run_id,
                            langs=_csv(langs),
                            formats=_csv(formats))
    for f in files:
        out.print(f"  {f}")


@cli.command()
@click.argument("region_name", metavar="REGION")
@click.option("--run", "run_id", type=int, default=None,
              help="Assessment run to export (default: the region's latest succeeded run).")
@click.option("--format", "formats", default="gpkg,tif,csv,xlsx", show_default=True,
              help="Formats, comma-separated: gpkg (patches, zones, projects with results), "
                   "tif (grade raster, carbon density, change), csv and xlsx (result tables).")
@click.option("--out", "out_dir", default="out", show_default=True,
              type=click.Path(file_okay=False), help="Folder to write to.")
@click.pass_obj
@_wrap
def export(settings: Settings, region_name: str, run_id: int | None, formats: str,
           out_dir: str) -> None:
    """Export the results of REGION's run to GeoPackage, GeoTIFF, CSV and Excel."""
    from reporting.export import export_run

    with dbmod.session(settings) as conn:
        files = export_run(conn, region_name, Path(out_dir), run_id=run_id,
                           formats=_csv(formats))
    for f in files:
        out.print(f"  {f}")


# ================================================================================================
# demo
# ================================================================================================
@cli.command()
@click.pass_obj
@_wrap
def demo(settings: Settings) -> None:
    """Run the main job end to end on the bundled real data.

    Starts the embedded cluster (or uses --dsn), brings the schema to head, loads every bundled
    dataset into two regions (willamette, ansai), runs every model (carbon and restoration-area
    identification) for both, writes the assessment reports (Chinese and English; HTML, PDF,
    Markdown) and the exports (GeoPackage, GeoTIFF, CSV, Excel) to ./out/, then prints where
    to look and how to connect. Running it again loads and computes nothing new.
    """
    from . import demo as demo_mod

    t0 = time.monotonic()
    if settings.uses_embedded_cluster:
        EmbeddedCluster(settings.home).start()
    url = dbmod.resolve_url(settings)
    dbmod.migrate(url)
    log.info("schema at revision %s", dbmod.head_revision())
    from .runs import run_assessment

    with dbmod.session(settings) as conn:
        demo_mod.run(conn)
        run_id = run_assessment(conn, url, "willamette", work_dir=settings.home / "dbt")
        ansai_run = run_assessment(conn, url, "ansai", work_dir=settings.home / "dbt")
        grade_tables = [_grade_table(conn, run_id, "willamette"),
                        _grade_table(conn, ansai_run, "ansai")]
        written = demo_mod.outputs(conn, Path("out"))
        rows = demo_mod.summary(conn)
        carbon = conn.execute(
            "select pool, round(stock_t1_t::numeric), round(stock_t2_t::numeric), "
            "round(change_t::numeric), round(sink_co2e_t_per_yr::numeric) "
            "from marts.carbon_stock_changes where run_id = %s and zone_set = 'region' "
            "order by pool", (run_id,)).fetchall()
        benefits = conn.execute(
            "select project_id, project_name, round(max(area_ha)::numeric, 1), "
            "round(sum(change_t)::numeric), round(sum(baseline_change_t)::numeric), "
            "round(sum(sink_enhancement_co2e_t_per_yr)::numeric, 1) from marts.project_benefits "
            "where run_id = %s group by 1, 2 order by 1", (run_id,)).fetchall()
    _print_status(settings)
    table = Table("region", "grid CRS", "pixel m", "raster layers", "zones", "projects",
                  "plots", title="loaded", title_justify="left")
    for r in rows:
        table.add_row(r[0], r[1], f"{r[2]:g}", *(str(x) for x in r[3:]))
    out.print(table)
    ctable = Table("pool", "stock 1990 t C", "stock 2050 t C", "change t C",
                   "sink t CO2e/yr", title=f"willamette carbon (assessment run {run_id}, "
                   "InVEST pool table; 2050 is the InVEST scenario)", title_justify="left")
    for pool, *values in carbon:
        ctable.add_row(pool, *(f"{v:,}" for v in values))
    out.print(ctable)
    btable = Table("project", "name", "ha", "change t C", "baseline t C",
                   "sink enhancement t CO2e/yr", title="example projects (illustrative) against "
                   "a 1 km ring of comparable pixels, all pools", title_justify="left")
    for row in benefits:
        btable.add_row(row[0], row[1], *(f"{v:,}" for v in row[2:]))
    out.print(btable)
    for t in grade_tables:
        if t is not None:
            out.print(t)
    reports = sorted(str(f) for f in written if f.suffix in (".html", ".pdf"))
    out.print(f"done in {time.monotonic() - t0:.0f} s.\n\n"
              f"Reports (Chinese and English) and exports are in ./out/ ({len(written)} files):"
              "\n  " + "\n  ".join(reports) + "\n"
              "  GeoPackage, GeoTIFF, CSV and Excel: out/<region>/exports/\n\n"
              "Connect psql, QGIS or a BI tool with the URL from `ecorest db url "
              "--show-password`.\nBI tools read the documented views in schema bi "
              "(bi.zone_scores, bi.restoration_patches, bi.carbon_stocks, ...; the latest "
              "run of each region).\nGive a BI login read access with: "
              "CREATE ROLE metabase LOGIN PASSWORD '...' IN ROLE ecorest_bi;\n"
              "In QGIS add bi.restoration_patches and bi.zone_scores (MultiPolygon, EPSG:4326, "
              "keys patch_id / zone_score_id); raster tiles are in raster.tiles_<catalog_id>.")


def main() -> None:
    try:
        cli(prog_name="ecorest")
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
