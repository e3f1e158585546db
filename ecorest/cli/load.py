"""``ecorest load``: rasters, legends, zones, projects, samples, plots and parameter sets."""

from __future__ import annotations

from pathlib import Path

import click

from ecorest.settings import Settings
from ecorest.store import db as dbmod
from ecorest.vocab import IPCC_EDITIONS, PARAMETER_KINDS

from ._common import CONTEXT, command, input_file, pairs, say


@click.group(context_settings=CONTEXT)
def load() -> None:
    """Load inputs into a region: rasters, legends, zones, projects, samples, plots, parameters.

    Every load validates first, runs in one transaction, is recorded in etl.loads and sends
    rejected rows to etl.quarantine (--strict fails the whole load instead). Loading the same
    file again does nothing; a corrected file for the same layer/epoch replaces the old one.
    """


@command(load, "raster")
@click.argument("region_name", metavar="REGION")
@click.argument("files", nargs=-1, required=True, type=input_file())
@click.option("--layer", required=True, metavar="KIND",
              help="landcover, ndvi, evi, fvc, gpp, npp, dem, a service input (erosivity, "
                   "erodibility, precip, et0, aet, pawc, soil_depth, access, ...), "
                   "factor_<name>, threat_<name> or mask_<name>.")
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
@click.option("--field", default=None, metavar="NAME",
              help="Polygons (.shp, .gpkg, .geojson): burn this attribute onto the grid, by "
                   "pixel centre (e.g. --layer access --field ACCESS).")
@click.option("--burn", type=float, default=None, metavar="VALUE",
              help="Polygons: burn this value instead of a field (mask_<name>: 1 by default).")
@click.option("--fill", type=float, default=None, metavar="VALUE",
              help="Polygons: the value of region pixels no polygon covers (default nodata; "
                   "mask_<name>: 0).")
def load_raster_cmd(settings: Settings, region_name: str, files: tuple[str, ...], layer: str,
                    field: str | None, burn: float | None, fill: float | None,
                    **options) -> None:
    """Warp raster FILES onto the grid of REGION and store them as tiles; burn polygon FILES
    (an attribute, or one value) onto the grid by pixel centre.

    \b
    Examples:
      ecorest load raster willamette --layer landcover --epoch 1990 --legend willamette lulc.tif
      ecorest load raster italy --layer ndvi --scale 0.0001 --epoch-from filename MOD13A1_*.tif
      ecorest load raster alaska --layer ndvi --epoch-from band gimms_monthly.tif
      ecorest load raster basin --layer access --field ACCESS --fill 1 --epoch 1990 access.shp
      ecorest load raster basin --layer mask_protected --epoch 2020 reserves.gpkg
    """
    from ecorest.etl.burn import is_vector, load_vector_layer
    from ecorest.etl.rasters import load_raster

    vectors = [f for f in files if is_vector(f)]
    if (field is not None or burn is not None or fill is not None) and len(vectors) < len(files):
        raise click.UsageError("--field, --burn and --fill are for polygon files (.shp, .gpkg, "
                               ".geojson ...), not rasters")
    raster_only = [k for k in ("epoch_from", "band", "scale", "offset", "nodata", "legend",
                               "resampling", "valid_min", "valid_max", "units")
                   if options.get(k) is not None]
    if vectors and raster_only:
        raise click.UsageError(f"--{raster_only[0].replace('_', '-')} is for rasters; polygon "
                               "files take --field/--burn/--fill and --epoch")
    with dbmod.session(settings) as conn:
        for f in files:
            if is_vector(f):
                ids = load_vector_layer(conn, region_name, layer, f, field=field, burn=burn,
                                        fill=fill, epoch=options["epoch"],
                                        scenario=options["scenario"], strict=options["strict"])
            else:
                ids = load_raster(conn, region_name, layer, f, **options)
            if ids:
                say(f"{f}: {len(ids)} epoch(s) loaded as {layer} (catalog "
                          f"{', '.join(map(str, ids))})")
            else:
                say(f"{f}: already loaded, nothing changed")


@command(load, "legend")
@click.argument("name")
@click.argument("file", type=input_file())
@click.option("--title", default=None, help="Legend title.")
@click.option("--source", default=None, help="Where the classes come from (citation).")
def load_legend_cmd(settings: Settings, name: str, file: str, title: str | None,
                    source: str | None) -> None:
    """Register (or replace) legend NAME from a CSV.

    Columns: class_code, name_en [, name_zh, ipcc_category, ecosystem_type, color_hex].
    Built-in legends 'clcd' and 'hj1166_l2' are registered automatically on first use.
    """
    from ecorest.etl.legends import load_legend

    with dbmod.session(settings) as conn:
        legend_id = load_legend(conn, name, file, title=title, source=source)
    say(f"legend {name} (id {legend_id}) loaded")


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


@command(load, "zones")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=input_file())
@click.option("--set", "zone_set", default="admin", show_default=True,
              help="Zone set name; 'admin' means GB/T 2260 administrative units (6-digit codes,"
                   " level derived from the code).")
@click.option("--code", default=None, help="Code of a single-feature file without attributes.")
@click.option("--name", default=None, help="Name of a single-feature file without attributes.")
@MAP_OPTION
@CRS_OPTION
@GEOMETRY_OPTION
@STRICT_OPTION
def load_zones_cmd(settings: Settings, region_name: str, file: str, zone_set: str,
                   code: str | None, name: str | None, mapping: tuple[str, ...],
                   crs: str | None, invalid_geometry: str, strict: bool) -> None:
    """Load zones (admin units or another zone set) for REGION; a new file replaces the set.

    Columns: zone_code (aliases code, adcode, id ...), name, admin_level, parent_code. The
    zones are rasterised onto the region's grid as they are loaded (pixel centres inside a
    zone), so that runs count by zone without burning them again.
    """
    from ecorest.etl.vector_loads import load_zones

    with dbmod.session(settings) as conn:
        n = load_zones(conn, region_name, file, zone_set=zone_set, code=code, name=name,
                       mapping=pairs(mapping, "--map"), crs=crs,
                       repair=invalid_geometry == "repair", strict=strict)
    say(f"{file}: {n} zone(s) of set {zone_set!r} loaded" if n else
              f"{file}: already loaded, nothing changed")


@command(load, "samples")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=input_file())
@X_OPTION
@Y_OPTION
@click.option("--legend", default=None, help="Legend of reference_class (default: region's).")
@MAP_OPTION
@CRS_OPTION
@STRICT_OPTION
def load_samples_cmd(settings: Settings, region_name: str, file: str, x: str | None,
                     y: str | None, legend: str | None, mapping: tuple[str, ...],
                     crs: str | None, strict: bool) -> None:
    """Load reference samples (points) for accuracy assessment.

    Columns: sample_id, reference_class and/or reference_grade, sample_date, source.
    """
    from ecorest.etl.vector_loads import load_samples

    with dbmod.session(settings) as conn:
        n = load_samples(conn, region_name, file, mapping=pairs(mapping, "--map"), crs=crs,
                         x=x, y=y, legend=legend, strict=strict)
    say(f"{file}: {n} sample(s) loaded" if n else f"{file}: already loaded")


@command(load, "projects")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=input_file())
@click.option("--examples", is_flag=True,
              help="Mark every project as an illustrative example (not a real record).")
@MAP_OPTION
@CRS_OPTION
@GEOMETRY_OPTION
@STRICT_OPTION
def load_projects_cmd(settings: Settings, region_name: str, file: str, examples: bool,
                      mapping: tuple[str, ...], crs: str | None, invalid_geometry: str,
                      strict: bool) -> None:
    """Load restoration projects; a changed project gets a new version, nothing is deleted.

    Columns: project_id, name, project_type, start_date, end_date, investment_cny, agency,
    description, measures ('type:area_ha; ...' or JSON), polygon geometry.
    """
    from ecorest.etl.vector_loads import load_projects

    with dbmod.session(settings) as conn:
        c = load_projects(conn, region_name, file, mapping=pairs(mapping, "--map"), crs=crs,
                          repair=invalid_geometry == "repair", examples=examples, strict=strict)
    say(f"{file}: {c['new']} new, {c['changed']} changed, {c['unchanged']} unchanged")


@command(load, "plots")
@click.argument("region_name", metavar="REGION")
@click.argument("file", type=input_file())
@click.option("--units", multiple=True, metavar="POOL=UNIT",
              help="Unit of a pool column without one in its header (t/ha, Mg C/ha, kg/m2, "
                   "g/m2 ...), e.g. --units agb=t/ha.")
@click.option("--carbon-fraction", type=float, default=0.47, show_default=True,
              help="Carbon fraction of biomass dry matter (IPCC 2006 Table 4.3 default); dead "
                   "wood takes 0.50 and litter 0.37, soil carbon is carbon already.")
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
def load_plots_cmd(settings: Settings, region_name: str, file: str, units: tuple[str, ...],
                   mapping: tuple[str, ...], **options) -> None:
    """Load survey plots: plot tables, tree lists, soil layers or a BAAD study's data.csv.

    \b
    Plot table:  plot_id, date/year, coordinates, plot area, agb/bgb/... with units
    Tree list:   plot_id, tree id, dbh (cm) [, height (m), wood density], plot area
    Soil layers: plot_id, date, top_cm, bottom_cm, soc_g_per_kg, bulk_density [, gravel]
    """
    from ecorest.etl.plots import load_plots

    with dbmod.session(settings) as conn:
        c = load_plots(conn, region_name, file, mapping=pairs(mapping, "--map"),
                       units=pairs(units, "--units"), **options)
    say(f"{file}: {c['plots']} plots, {c['measurements']} pool measurements, "
              f"{c['trees']} trees, {c['soil_layers']} soil layers")


@command(load, "params")
@click.argument("region_or_file", metavar="[REGION] FILE...")
@click.argument("files", nargs=-1, metavar="")
@click.option("--global", "is_global", is_flag=True,
              help="Load a global set (every region without its own set of the kind uses it) "
                   "instead of a set of REGION.")
@click.option("--name", required=True, help="Parameter set name.")
@click.option("--kind", required=True,
              type=click.Choice(PARAMETER_KINDS),
              help="What the set holds.")
@click.option("--source", "source_text", required=True,
              help="Bibliographic source of the values (stored with every result).")
@click.option("--description", default=None, help="Free text.")
@click.option("--ipcc-edition", type=click.Choice(IPCC_EDITIONS), default=None,
              help="IPCC guidance edition for IPCC default sets.")
def load_params_cmd(settings: Settings, region_or_file: str, files: tuple[str, ...],
                    is_global: bool, **options) -> None:
    """Load a versioned parameter set from a CSV (long layout, an InVEST carbon pool table, or
    InVEST's service tables), owned by REGION, or global with --global.

    A run of a region uses, per kind, the region's active set, else an active global set (else
    IPCC defaults where the kind has them); `ecorest run REGION --params NAME[@VERSION]` pins a
    set. A changed file under the same name (for the same region, or globally) becomes the
    next version and the active one.

    Kind services reads InVEST's tables as they are (recognised by their columns): SDR and
    annual water yield biophysical tables (lucode, usle_c, usle_p / Kc, root_depth, LULC_veg),
    the habitat sensitivity table (lucode, habitat, one column per threat) and the threat
    table (THREAT, MAX_DIST in m, WEIGHT, DECAY). Several FILEs make one set together.

    \b
    Examples:
      ecorest load params yanan densities.csv --name yanan_pools --kind carbon_pools --source "…"
      ecorest load params --global pools.csv --name china_pools --kind carbon_pools --source "…"
      ecorest load params basin sdr.csv awy.csv --name basin_services --kind services --source "…"
    """
    from ecorest.etl.params import load_params

    ctx = click.get_current_context()
    given = (region_or_file, *files)
    if is_global and files and not Path(region_or_file).exists():
        raise click.UsageError(f"--global takes FILE... only, not a REGION ({region_or_file!r})",
                               ctx=ctx)
    if not is_global and not files:
        raise click.UsageError("give REGION FILE (a set of that region) or --global FILE (a set "
                               "every region may use)", ctx=ctx)
    region, paths = (None, list(given)) if is_global else (region_or_file, list(files))
    for path in paths:
        try:
            input_file().convert(path, None, ctx)
        except click.BadParameter as exc:
            exc.param_hint = "'FILE'"
            raise
    with dbmod.session(settings) as conn:
        set_id, version = load_params(conn, paths[0] if len(paths) == 1 else paths,
                                      region=region, **options)
    owner = "global" if region is None else f"region {region}"
    shown = " + ".join(paths)
    say(f"{shown}: parameter set {options['name']} ({owner}) version {version} "
        f"(id {set_id})")
