"""Assessment regions and their one canonical grid.

A region is a boundary plus a grid: an equal-area CRS, a pixel size, an origin snapped to a
multiple of the pixel size and a tile size. Every raster of the region is warped onto this grid,
so layers join on (tile_x, tile_y) and a pixel's area is the constant ``pixel_size_m²``.

Default grid CRS: CGCS2000 / Albers (SRID 990001) inside China; NAD83 / Conus Albers
(EPSG:5070) in the conterminous US; ETRS89-LAEA (EPSG:3035) in Europe; elsewhere a Lambert
azimuthal equal-area projection centred on the region (registered under the ECOREST authority).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
import shapely
from pyproj import CRS
from rasterio.transform import Affine

from ecorest.errors import LoadError
from ecorest.vocab import IPCC_CLIMATE_ZONES, IPCC_SOIL_TYPES

from .legends import ensure_legend
from .loadlog import check_file, recorded_load, sha256_file
from .validation import fail, issue
from .vectors import check_geometry, read_features, require_earth_crs

log = logging.getLogger(__name__)

CHINA_ALBERS_SRID = 990001
#: smallest grid pixel (m): sub-decimetre pixels are unit mistakes (mm or degrees for metres)
MIN_PIXEL_SIZE_M = 0.1
DEFAULT_TILE_SIZE = 256  # measured: see bench/ and docs (256 px tiles balance TOAST and overhead)
EQUAL_AREA_PROJ = ("aea", "laea", "cea", "eqearth", "moll", "sinu", "eck4", "eck6", "igh",
                   "hammer", "bonne", "tcea")

# (name, lon range, lat range, CRS)
DEFAULT_CRS_AREAS = (
    ("China", (73.0, 135.5), (17.0, 54.0), f"ECOREST:{CHINA_ALBERS_SRID}"),
    ("conterminous US", (-125.0, -66.0), (24.0, 50.0), "EPSG:5070"),
    ("Europe", (-25.0, 45.0), (34.0, 72.0), "EPSG:3035"),
)


@dataclass(frozen=True)
class Region:
    region_id: int
    name: str
    srid: int
    crs_name: str
    pixel_size_m: float
    origin_x: float
    origin_y: float
    width_px: int
    height_px: int
    tile_size_px: int
    legend_id: int | None

    @property
    def transform(self) -> Affine:
        return Affine(self.pixel_size_m, 0.0, self.origin_x, 0.0, -self.pixel_size_m,
                      self.origin_y)

    @property
    def tiles_x(self) -> int:
        return -(-self.width_px // self.tile_size_px)

    @property
    def tiles_y(self) -> int:
        return -(-self.height_px // self.tile_size_px)

    @property
    def pixel_area_ha(self) -> float:
        return self.pixel_size_m ** 2 / 10_000.0


def get_region(conn: psycopg.Connection, name: str) -> Region:
    row = conn.execute(
        "select region_id, name, srid, crs_name, pixel_size_m, origin_x, origin_y, width_px, "
        "height_px, tile_size_px, legend_id from registry.regions where name = %s",
        (name,)).fetchone()
    if row is None:
        raise LoadError(issue("region", name, "region.exists", region=name))
    return Region(*row)


def grid_crs(conn: psycopg.Connection, srid: int) -> CRS:
    """The pyproj CRS of an SRID in spatial_ref_sys."""
    row = conn.execute("select srtext, proj4text from spatial_ref_sys where srid = %s",
                       (srid,)).fetchone()
    if row is None:
        raise LoadError(f"SRID {srid} is not in spatial_ref_sys")
    return CRS.from_wkt(row[0]) if row[0] else CRS.from_proj4(row[1])


def boundary_on_grid(conn: psycopg.Connection, region: Region):
    """The region's boundary (shapely) in its grid CRS.

    Transformed by PostGIS with ``st_transform``, exactly as ``raster.zone_tiles`` transforms
    zone polygons before burning them, so that a zone drawn with the region's own boundary
    covers the same pixels as the region.
    """
    row = conn.execute("select st_asbinary(st_transform(boundary, srid)) from registry.regions "
                       "where region_id = %s", (region.region_id,)).fetchone()
    if row is None:
        raise LoadError(issue("region", region.name, "region.exists", region=region.name))
    return shapely.from_wkb(bytes(row[0]))


EQUAL_AREA_METHODS = ("equal area", "mollweide", "sinusoidal", "eckert", "equal earth", "goode")


def is_equal_area(crs: CRS) -> bool:
    op = crs.coordinate_operation
    method = (op.method_name if op else "").lower()
    if any(m in method for m in EQUAL_AREA_METHODS):
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        proj = (crs.to_proj4() or "").split()
    names = {p.split("=", 1)[1] for p in proj if p.startswith("+proj=")}
    return bool(names & set(EQUAL_AREA_PROJ))


def default_crs_for(boundary_wgs84) -> tuple[str, str]:
    """(CRS spec, reason) for a boundary in lon/lat."""
    c = boundary_wgs84.centroid
    for name, (lon0, lon1), (lat0, lat1), spec in DEFAULT_CRS_AREAS:
        if lon0 <= c.x <= lon1 and lat0 <= c.y <= lat1:
            return spec, f"centroid in {name}"
    laea = (f"+proj=laea +lat_0={round(c.y, 2)} +lon_0={round(c.x, 2)} +x_0=0 +y_0=0 "
            "+datum=WGS84 +units=m +no_defs")
    return laea, "Lambert azimuthal equal-area centred on the region"


def resolve_srid(conn: psycopg.Connection, spec: str, where: str,
                 allow_non_equal_area: bool = False) -> tuple[int, str]:
    """SRID (registering the CRS if PostGIS lacks it) and display name for a CRS spec."""
    if spec.upper() in (f"ECOREST:{CHINA_ALBERS_SRID}", "CHINA-ALBERS", "CGCS2000-ALBERS"):
        return CHINA_ALBERS_SRID, "CGCS2000 / Albers China"
    crs = require_earth_crs(spec, where)
    if not crs.is_projected:
        raise fail(where, "", "crs.equal_area", crs=crs.to_string(),
                   suggestion="a projected CRS in metres")
    if not is_equal_area(crs) and allow_non_equal_area:
        log.warning("grid CRS %s is not equal-area: pixel areas are grid areas, not ellipsoidal "
                    "areas (use only to reproduce results computed on this grid)", crs.name)
    elif not is_equal_area(crs):
        raise fail(where, "", "crs.equal_area", crs=crs.to_string(),
                   suggestion="EPSG:5070, EPSG:3035, ESRI:54009 or 'china-albers'")
    auth = crs.to_authority()
    if auth:
        row = conn.execute("select srid from spatial_ref_sys where upper(auth_name) = %s and "
                           "auth_srid = %s", (auth[0].upper(), int(auth[1]))).fetchone()
        if row:
            return row[0], crs.name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        proj4 = crs.to_proj4()
    srid = conn.execute("select registry.register_crs(%s, %s)",
                        (crs.to_wkt("WKT1_GDAL"), proj4)).fetchone()[0]
    return srid, crs.name


def create_region(conn: psycopg.Connection, name: str, boundary_path: str, *,
                  crs: str | None = None, pixel_size: float = 30.0,
                  tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                  boundary_crs: str | None = None, align_to: str | None = None,
                  allow_non_equal_area: bool = False, legend: str | None = None) -> Region:
    """Create a region from a boundary file; re-creating the same region is a no-op.

    ``align_to`` takes the grid (CRS, pixel size, origin) of a raster, so that it loads onto
    the region without resampling. ``legend`` is the region's default land-cover legend.
    A region is immutable: creating it again with another boundary, grid CRS, pixel size, tile
    size, alignment or legend fails naming the setting (the legend and the IPCC strata have
    commands of their own: :func:`set_legend`, :func:`set_ipcc_strata`).
    """
    anchor = (0.0, 0.0)
    if align_to is not None:
        import rasterio

        with rasterio.open(check_file(align_to, "raster")) as ref:
            if abs(abs(ref.res[0]) - abs(ref.res[1])) > 1e-9 * abs(ref.res[0]):
                raise LoadError(f"{align_to}: pixels are not square ({ref.res}); cannot align")
            pixel_size = float(abs(ref.res[0]))
            anchor = (ref.transform.c, ref.transform.f)
            crs = crs or ref.crs.to_wkt()
    path = check_file(boundary_path, "vector")
    table = read_features(path, crs=boundary_crs)
    polys = []
    for i in range(len(table)):
        g, found = check_geometry(table, i, ("Polygon", "MultiPolygon"), repair=True)
        errors = [f for f in found if f.severity == "error"]
        if errors:
            raise LoadError(errors)
        for w in found:
            log.warning("%s", w)
        polys.append(g)
    if not polys:
        raise fail(path, "", "table.empty")
    boundary = shapely.force_2d(shapely.union_all(polys))
    if boundary.geom_type == "Polygon":
        boundary = shapely.MultiPolygon([boundary])
    if not (math.isfinite(pixel_size) and pixel_size >= MIN_PIXEL_SIZE_M):
        raise fail(path, "--pixel-size", "option.value", option="--pixel-size",
                   value=pixel_size,
                   reason=f"is not a sane grid pixel size: it must be at least "
                          f"{MIN_PIXEL_SIZE_M:g} m (the grid is in metres of an equal-area "
                          "projection; a 0.001 m pixel is a unit mistake)")
    sha = sha256_file(path)
    existing = conn.execute("select region_id from registry.regions where name = %s",
                            (name,)).fetchone()
    conn.rollback()
    spec, reason = (crs, "given") if crs else default_crs_for(boundary)
    if existing:
        _require_same_region(conn, name, path, boundary, spec, allow_non_equal_area,
                             pixel_size, tile_size, anchor, legend)
        log.info("region %s already exists with this boundary and grid: nothing to do", name)
        return get_region(conn, name)
    legend_id = ensure_legend(conn, legend) if legend else None
    with recorded_load(conn, "region", path, sha, layer=name,
                       options={"crs": spec, "pixel_size": pixel_size, "tile_size": tile_size,
                                "align_to": align_to, "legend": legend,
                                "allow_non_equal_area": allow_non_equal_area}) as ctx:
        srid, crs_name = resolve_srid(conn, spec, str(path), allow_non_equal_area)
        row = conn.execute(
            """
            with b as (
              select st_transform(st_segmentize(st_geomfromwkb(%(wkb)s, 4326)::geography,
                                                1000)::geometry, %(srid)s) as g
            ), e as (
              select %(ax)s + floor((st_xmin(g) - %(ax)s) / %(px)s) * %(px)s as x0,
                     %(ay)s + ceil((st_ymax(g) - %(ay)s) / %(px)s) * %(px)s as y0,
                     st_xmax(g) as x1, st_ymin(g) as y1, st_area(g) as area_m2 from b
            )
            insert into registry.regions (name, title, srid, crs_name, pixel_size_m, origin_x,
                                          origin_y, width_px, height_px, tile_size_px, boundary,
                                          boundary_area_ha, legend_id)
            select %(name)s, %(title)s, %(srid)s, %(crs_name)s, %(px)s, x0, y0,
                   ceil((x1 - x0) / %(px)s)::int, ceil((y0 - y1) / %(px)s)::int, %(tile)s,
                   st_geomfromwkb(%(wkb)s, 4326), area_m2 / 10000.0, %(legend_id)s
            from e
            returning region_id, width_px, height_px, boundary_area_ha
            """,
            {"wkb": shapely.to_wkb(boundary), "srid": srid, "px": pixel_size, "name": name,
             "title": title, "crs_name": crs_name, "tile": tile_size, "ax": anchor[0],
             "ay": anchor[1], "legend_id": legend_id}).fetchone()
        conn.execute("update etl.loads set region_id = %s where load_id = %s",
                     (row[0], ctx.load_id))
        ctx.rows_read = len(table)
        ctx.rows_loaded = 1
        ctx.message = (f"region {name}: {crs_name} (SRID {srid}, {reason}), {pixel_size:g} m "
                       f"pixels, {row[1]} x {row[2]} px, {row[3]:.1f} ha")
        log.info("%s", ctx.message)
    return get_region(conn, name)


def _require_same_region(conn: psycopg.Connection, name: str, path: Path, boundary, spec: str,
                         allow_non_equal_area: bool, pixel_size: float, tile_size: int,
                         anchor: tuple[float, float], legend: str | None) -> None:
    """Refuse to re-create region ``name`` with any setting other than the stored one."""
    row = conn.execute(
        "select st_equals(r.boundary, st_geomfromwkb(%s, 4326)), r.srid, r.crs_name, "
        "r.pixel_size_m, r.tile_size_px, r.origin_x, r.origin_y, l.name "
        "from registry.regions r left join registry.legends l using (legend_id) "
        "where r.name = %s", (shapely.to_wkb(boundary), name)).fetchone()
    same_boundary, srid, crs_name, px, tile, ox, oy, legend_now = row
    srid_given, crs_given = resolve_srid(conn, spec, str(path), allow_non_equal_area)
    conn.rollback()  # resolving may register a CRS; nothing is kept
    off_grid = any(abs((o - a) / px - round((o - a) / px)) > 1e-6
                   for o, a in ((ox, anchor[0]), (oy, anchor[1])))
    if not same_boundary:
        raise fail(path, "", "region.duplicate", region=name)
    differences = [
        (srid_given != srid, "grid CRS", f"{crs_given} (SRID {srid_given})",
         f"{crs_name} (SRID {srid})"),
        (pixel_size != px, "pixel size", f"{pixel_size:g} m", f"{px:g} m"),
        (tile_size != tile, "tile size", f"{tile_size} px", f"{tile} px"),
        (pixel_size == px and off_grid, "grid origin", "another alignment",
         f"origin ({ox:g}, {oy:g})"),
    ]
    for differs, setting, given, stored in differences:
        if differs:
            raise fail(path, "", "region.immutable", region=name, setting=setting,
                       given=given, stored=stored, advice="a region's grid never changes once "
                       "created: create a region under another name")
    if legend is not None and legend != legend_now:
        raise fail(path, "", "region.immutable", region=name, setting="legend",
                   given=repr(legend), stored=repr(legend_now),
                   advice=f"change it with `ecorest region set-legend {name} {legend}`")


def list_regions(conn: psycopg.Connection) -> list[dict]:
    """Every region with its grid and how many current layers it holds."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("""
            select r.name, r.srid, r.crs_name, r.pixel_size_m, r.width_px, r.height_px,
                   r.tile_size_px, round(r.boundary_area_ha::numeric, 1) as area_ha,
                   (select count(*) from raster.catalog c
                     where c.region_id = r.region_id and c.is_current) as layers
            from registry.regions r order by r.name""").fetchall()


def set_legend(conn: psycopg.Connection, name: str, legend: str) -> None:
    """Make ``legend`` the default land-cover legend of region ``name`` (for land-cover loads
    that name no legend; layers already loaded keep the legend they were loaded with)."""
    region = get_region(conn, name)
    legend_id = ensure_legend(conn, legend)
    conn.rollback()
    with conn.transaction():
        conn.execute("update registry.regions set legend_id = %s where region_id = %s",
                     (legend_id, region.region_id))
    log.info("region %s: default legend %s", name, legend)


def set_ipcc_strata(conn: psycopg.Connection, name: str, climate_zone: str | None,
                    soil_type: str | None) -> None:
    """Record the region's IPCC climate zone and dominant mineral soil type (IPCC 2006 Vol.4
    Ch.3 / Table 2.3 classes): they select the Tier 1 defaults used where neither survey plots
    nor a parameter set give a carbon density."""
    if climate_zone is not None and climate_zone not in IPCC_CLIMATE_ZONES:
        raise LoadError(f"region {name}: unknown IPCC climate zone {climate_zone!r}; use one of "
                        f"{', '.join(IPCC_CLIMATE_ZONES)}")
    if soil_type is not None and soil_type not in IPCC_SOIL_TYPES:
        raise LoadError(f"region {name}: unknown IPCC soil type {soil_type!r}; use one of "
                        f"{', '.join(IPCC_SOIL_TYPES)}")
    region = get_region(conn, name)
    conn.rollback()  # end the read so that the update below commits on its own
    with conn.transaction():
        conn.execute("update registry.regions set ipcc_climate_zone = coalesce(%s, "
                     "ipcc_climate_zone), ipcc_soil_type = coalesce(%s, ipcc_soil_type) "
                     "where region_id = %s", (climate_zone, soil_type, region.region_id))
    log.info("region %s: IPCC climate zone %s, soil type %s", name, climate_zone, soil_type)
