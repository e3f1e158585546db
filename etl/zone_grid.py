"""A zone set rasterised onto its region's grid when it is loaded (``registry.zone_tiles``).

The models that count by zone (land-cover areas and transitions, stocks, the vegetation signal,
zone scores, services) need every pixel's zone. Burning the polygons is the same work for every
run as long as the zones and the grid stay, so the zone loader does it once, in the load's
transaction: the polygons as PostGIS transforms them to the grid CRS (``st_transform``, as the
region boundary and ``raster.zone_tiles`` do), rasterised by **pixel centre** (GDAL's rule,
the one ``st_asraster`` applies) block by block of tile rows, one tile per grid position that a
zone touches. A pixel holds the zone id (``registry.zones.zone_id``); where zones of a set
overlap the larger id wins (``raster.burn_tiles`` takes the maximum); 0 (nodata) lies outside
every zone. Tiles have the grid's full tile size, like the raster tiles, so a kernel places
them without resampling.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import psycopg
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine

from ecorest.progress import progress_bar
from ecorest.wkb import raster_wkb

from .regions import Region

#: grid pixels rasterised at once (bounded memory whatever the region size)
BLOCK_PIXELS = 1 << 24


def pixel_type(max_id: int) -> tuple[str, type]:
    """The smallest PostGIS pixel type (and numpy type) holding zone ids 1..max_id, 0 = none."""
    if max_id <= 0xFF:
        return "8BUI", np.uint8
    if max_id <= 0xFFFF:
        return "16BUI", np.uint16
    return "32BSI", np.int32


def rasterize_rows(shapes: list[tuple[object, float]], bounds: list[tuple], region: Region,
                   r0: int, r1: int, fill: float, dtype) -> np.ndarray | None:
    """Grid rows r0..r1 (end exclusive, full width) with ``shapes`` (geometry in the grid CRS,
    value; ``bounds`` their bounding boxes) burnt by pixel centre, each drawn over the ones
    before it, ``fill`` elsewhere; None when no shape reaches these rows."""
    px = region.pixel_size_m
    y_top, y_bottom = region.origin_y - r0 * px, region.origin_y - r1 * px
    here = [s for s, b in zip(shapes, bounds, strict=True) if b[1] <= y_top and b[3] >= y_bottom]
    if not here:
        return None
    return rasterize(here, out_shape=(r1 - r0, region.width_px), fill=fill,
                     transform=region.transform @ Affine.translation(0, r0), all_touched=False,
                     dtype=dtype)


def burn_zone_tiles(conn: psycopg.Connection, region: Region, zone_set: str, load_id: int,
                    show_progress: bool = True) -> int:
    """Replace the tiles of ``zone_set`` in ``registry.zone_tiles`` by its current zones burnt
    onto the region's grid (in the caller's transaction). Returns the tiles written."""
    conn.execute("delete from registry.zone_tiles where region_id = %s and zone_set = %s",
                 (region.region_id, zone_set))
    rows = conn.execute(
        "select z.zone_id, st_asbinary(st_transform(z.geom, r.srid)) from registry.zones z "
        "join registry.regions r on r.region_id = z.region_id "
        "where z.region_id = %s and z.zone_set = %s order by z.zone_id",
        (region.region_id, zone_set)).fetchall()
    if not rows:
        return 0
    shapes = [(shapely.from_wkb(bytes(g)), int(zid)) for zid, g in rows]
    bounds = [g.bounds for g, _ in shapes]
    ptype, dtype = pixel_type(max(z for _, z in shapes))
    t, px = region.tile_size_px, region.pixel_size_m
    W, H = region.width_px, region.height_px
    tile_rows = max(1, BLOCK_PIXELS // (t * region.tiles_x * t))
    written = 0
    copy_sql = ("copy registry.zone_tiles (region_id, zone_set, tile_x, tile_y, rast, load_id) "
                "from stdin")
    with progress_bar(f"zones {zone_set} onto the grid", H, "rows", show_progress) as bar, \
            conn.cursor().copy(copy_sql) as copy:
        for ty0 in range(0, region.tiles_y, tile_rows):
            r0, r1 = ty0 * t, min(H, (ty0 + tile_rows) * t)
            # ascending ids, each drawn over the previous: the larger id wins an overlap
            block = rasterize_rows(shapes, bounds, region, r0, r1, 0, dtype)
            bar.advance(r1 - r0)
            if block is None:                       # no zone reaches these rows
                continue
            for i, k in product(range(0, r1 - r0, t), range(0, W, t)):
                part = block[i:i + t, k:k + t]
                if not part.any():
                    continue
                full = np.zeros((t, t), dtype)
                full[:part.shape[0], :part.shape[1]] = part
                tx, ty = k // t, ty0 + i // t
                wkb = raster_wkb(full, ptype, 0, region.origin_x + tx * t * px,
                                 region.origin_y - ty * t * px, px, region.srid)
                copy.write_row((region.region_id, zone_set, tx, ty, wkb.hex(), load_id))
                written += 1
    return written
