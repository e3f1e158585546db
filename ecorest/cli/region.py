"""``ecorest region``: assessment regions and their grid."""

from __future__ import annotations

import click
from rich.table import Table

from ecorest.settings import Settings
from ecorest.store import db as dbmod
from ecorest.vocab import IPCC_CLIMATE_ZONES, IPCC_SOIL_TYPES

from ._common import CONTEXT, command, input_file, out


@click.group(context_settings=CONTEXT)
def region() -> None:
    """Declare assessment regions and their grid.

    A region is a boundary and one canonical equal-area grid (CRS, pixel size, origin snapped to
    the pixel size, tile size). Every raster loaded for the region is warped onto this grid.
    The grid never changes once the region exists; its default legend and IPCC strata have
    commands of their own.
    """


@command(region, "create")
@click.argument("name")
@click.option("--boundary", "boundary", required=True, type=input_file(),
              help="Boundary polygon(s): GeoPackage, Shapefile, GeoJSON ... (all features are "
                   "merged).")
@click.option("--crs", default=None, metavar="CRS",
              help="Grid CRS: 'china-albers' (CGCS2000 / Albers, SRID 990001), EPSG:xxxx, "
                   "ESRI:xxxxx or a PROJ string; must be equal-area. Default: China Albers in "
                   "China, EPSG:5070 in the conterminous US, EPSG:3035 in Europe, else a "
                   "Lambert azimuthal equal-area centred on the region.")
@click.option("--pixel-size", default=30.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Pixel size of the grid in metres.")
@click.option("--tile-size", default=256, show_default=True, type=click.IntRange(16, 4096),
              help="Tile edge in pixels (256 measured best; see bench/).")
@click.option("--legend", default=None, metavar="NAME",
              help="Default land-cover legend of the region (e.g. clcd, hj1166_l2).")
@click.option("--align-to", default=None, metavar="RASTER", type=input_file(),
              help="Use this raster's grid (CRS, pixel size, origin) so it loads without "
                   "resampling.")
@click.option("--allow-non-equal-area", is_flag=True,
              help="Accept a grid CRS that is not equal-area (areas are then grid areas); "
                   "only to reproduce results computed on such a grid.")
@click.option("--title", default=None, help="Display title.")
@click.option("--ipcc-climate", default=None, type=click.Choice(IPCC_CLIMATE_ZONES),
              metavar="ZONE", help="IPCC climate zone (warm_temperate_moist, "
                                   "cold_temperate_dry, ...): selects the Tier 1 carbon defaults.")
@click.option("--ipcc-soil", default=None, type=click.Choice(IPCC_SOIL_TYPES), metavar="TYPE",
              help=f"Dominant IPCC mineral soil type ({', '.join(IPCC_SOIL_TYPES)}).")
def region_create(settings: Settings, name: str, boundary: str, crs: str | None,
                  pixel_size: float, tile_size: int, legend: str | None,
                  align_to: str | None, allow_non_equal_area: bool,
                  title: str | None, ipcc_climate: str | None, ipcc_soil: str | None) -> None:
    """Create region NAME from a boundary file.

    Re-running with the same inputs is a no-op; with another boundary, grid CRS, pixel size,
    tile size or legend it fails naming the setting.
    """
    from ecorest.etl.regions import create_region, set_ipcc_strata

    with dbmod.session(settings) as conn:
        r = create_region(conn, name, boundary, crs=crs, pixel_size=pixel_size,
                          tile_size=tile_size, title=title, align_to=align_to,
                          allow_non_equal_area=allow_non_equal_area, legend=legend)
        if ipcc_climate or ipcc_soil:
            set_ipcc_strata(conn, name, ipcc_climate, ipcc_soil)
    out.print(f"region {r.name}: SRID {r.srid} ({r.crs_name}), {r.pixel_size_m:g} m, "
              f"{r.width_px} x {r.height_px} px in {r.tiles_x} x {r.tiles_y} tiles of "
              f"{r.tile_size_px}")


@command(region, "set-ipcc")
@click.argument("name")
@click.option("--climate", default=None, type=click.Choice(IPCC_CLIMATE_ZONES), metavar="ZONE",
              help=f"IPCC climate zone: {', '.join(IPCC_CLIMATE_ZONES)}.")
@click.option("--soil", default=None, type=click.Choice(IPCC_SOIL_TYPES), metavar="TYPE",
              help=f"Dominant IPCC mineral soil type: {', '.join(IPCC_SOIL_TYPES)}.")
def region_set_ipcc(settings: Settings, name: str, climate: str | None,
                    soil: str | None) -> None:
    """Set the IPCC climate zone and soil type of region NAME (Tier 1 carbon defaults)."""
    from ecorest.etl.regions import set_ipcc_strata

    with dbmod.session(settings) as conn:
        set_ipcc_strata(conn, name, climate, soil)
    out.print(f"region {name}: IPCC climate zone {climate or '(unchanged)'}, soil type "
              f"{soil or '(unchanged)'}")


@command(region, "set-legend")
@click.argument("name")
@click.argument("legend")
def region_set_legend(settings: Settings, name: str, legend: str) -> None:
    """Make LEGEND the default land-cover legend of region NAME.

    Land-cover loads that name no --legend use it; layers already loaded keep theirs.
    """
    from ecorest.etl.regions import set_legend

    with dbmod.session(settings) as conn:
        set_legend(conn, name, legend)
    out.print(f"region {name}: default legend {legend}")


@command(region, "list")
def region_list(settings: Settings) -> None:
    """List regions with their grid and what has been loaded."""
    from ecorest.etl.regions import list_regions

    with dbmod.session(settings) as conn:
        rows = list_regions(conn)
    table = Table("region", "SRID", "CRS", "pixel m", "grid px", "tile", "area ha", "layers")
    for r in rows:
        table.add_row(r["name"], str(r["srid"]), r["crs_name"], f"{r['pixel_size_m']:g}",
                      f"{r['width_px']} x {r['height_px']}", str(r["tile_size_px"]),
                      str(r["area_ha"]), str(r["layers"]))
    out.print(table)
