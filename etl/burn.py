"""A polygon attribute burnt onto a region grid as a continuous layer (``ecorest load raster
REGION --layer KIND FILE.shp --field NAME``).

Some inputs of the service and sensitivity models come as polygons: InVEST's accessibility to
threats (a field ACCESS, 0 ... 1), protected areas and basic farmland (constraint masks,
``mask_<name>``, 1 = excluded). They are rasterised onto the region grid by **pixel centre** —
a pixel takes the value of the polygon that contains its centre (GDAL's rule, the one the
region boundary and the zones follow), the later feature where polygons overlap — and then
loaded like any raster of the layer: the same validation, catalog entry, tiles, load record and
quarantine. The load log and the catalog name the vector file; its SHA-256 (with its side-car
files and the burn options) makes loading it again a no-op, and a changed file or field
replaces the layer's epoch.

Invalid polygons (self-intersecting rings, common in old shapefiles) are burnt as drawn, the
way GDAL and so InVEST burn them, with one warning; they are not repaired. Pixels inside the
region that no polygon covers get ``fill`` (InVEST's access layer: 1, fully
accessible; a mask: 0, not excluded), or stay nodata when no fill is given.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import psycopg
import rasterio
import shapely
from pyproj import CRS, Transformer
from rasterio.crs import CRS as RioCRS

from ecorest.errors import LoadError

from .loadlog import check_file, previous_load, sha256_file
from .rasters import MASK, EpochError, layer_spec, load_raster, parse_epoch_option
from .regions import Region, get_region, grid_crs
from .validation import fail, issue
from .vectors import require_earth_crs
from .zone_grid import rasterize_rows

log = logging.getLogger(__name__)

#: file suffixes read as polygons (anything else is a raster)
VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".kml", ".gml")
#: side-car files of a shapefile that hold its attributes and CRS (part of its SHA-256)
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: grid rows rasterised at once (bounded memory whatever the region size)
BLOCK_ROWS = 2048
NODATA = -9999.0


def is_vector(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VECTOR_SUFFIXES


def source_sha256(path: Path, options: dict) -> str:
    """SHA-256 of the vector file (a shapefile with its side-cars) and the burn options."""
    parts = [path]
    if path.suffix.lower() == ".shp":
        parts = [path.with_suffix(s) for s in SHAPEFILE_PARTS if path.with_suffix(s).is_file()]
    h = hashlib.sha256()
    for p in parts:
        h.update(f"{p.suffix.lower()}:{sha256_file(p)}\n".encode())
    h.update(json.dumps(options, sort_keys=True).encode())
    return h.hexdigest()


def _field_name(path: Path, field: str | None) -> str | None:
    """The file's own spelling of ``field`` (matched case-insensitively: ACCESS or access)."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    if field is None:
        return None
    try:
        names = list(pyogrio.read_info(path)["fields"])
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise fail(path, "", "file.readable", what="vector", detail=str(exc).strip()) from exc
    if field in names:
        return field
    match = [n for n in names if n.casefold() == field.casefold()]
    if len(match) != 1:
        raise fail(path, "--field", "table.columns", missing=[field], found=names)
    return match[0]


def read_polygons(path: Path, field: str | None, value: float | None, layer: str,
                  target: CRS) -> list[tuple[object, float]]:
    """(polygon in the grid CRS, value) per feature; every problem named (file, feature,
    rule), all of them at once."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        meta, _fids, geometry, field_data = pyogrio.raw.read(path)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise fail(path, "", "file.readable", what="vector", detail=str(exc).strip()) from exc
    if not meta.get("crs"):
        raise fail(path, "", "crs.present")
    src_crs = require_earth_crs(meta["crs"], path)
    names = list(meta["fields"])
    if field is not None and field not in names:  # ACCESS or access
        match = [n for n in names if n.casefold() == field.casefold()]
        if len(match) != 1:
            raise fail(path, "--field", "table.columns", missing=[field], found=names)
        field = match[0]
    values = field_data[names.index(field)] if field is not None else None
    geoms = shapely.from_wkb(geometry) if geometry is not None else []
    if len(geoms) == 0:
        raise fail(path, "", "table.empty")
    spec = layer_spec(layer)
    lo, hi = spec.valid_range or (-math.inf, math.inf)
    problems, out = [], []
    for i, g in enumerate(geoms):
        item = f"feature {i + 1}"
        if g is None or g.is_empty:
            problems.append(issue(path, item, "geometry.present"))
            continue
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(issue(path, item, "geometry.type", gtype=g.geom_type,
                                  expected="Polygon or MultiPolygon"))
            continue
        if values is not None:
            raw = values[i]
            try:
                v = float(raw)
            except (TypeError, ValueError):
                problems.append(issue(path, item, "value.type", column=field, value=raw,
                                      type="number"))
                continue
            if not math.isfinite(v):
                problems.append(issue(path, item, "value.type", column=field, value=raw,
                                      type="number"))
                continue
        else:
            v = float(value)
        if not lo <= v <= hi or (spec.integral and v != round(v)):
            problems.append(issue(path, item, "value.range", column=field or "--burn", value=v,
                                  range=f"[{lo:g}, {hi:g}] of {layer}{spec.hint}"))
            continue
        out.append((g, v))
    if problems:
        raise LoadError(problems)
    invalid = [i for i, (g, _) in enumerate(out) if not g.is_valid]
    if invalid:  # rings are filled as drawn (GDAL), as InVEST burns them; no repair
        log.warning("%s: %d of %d polygons are not valid (feature %d: %s); each is burnt as "
                    "drawn, pixel centres inside its rings", path, len(invalid), len(out),
                    invalid[0] + 1, shapely.is_valid_reason(out[invalid[0]][0]))
    if not src_crs.equals(target):
        tr = Transformer.from_crs(src_crs, target, always_xy=True)
        out = [(shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))),
                v) for g, v in out]
    return out


def burn_to_grid(polygons: list[tuple[object, float]], region: Region, crs: CRS,
                 fill: float | None, target: Path) -> Path:
    """A float32 GeoTIFF on the whole region grid: each pixel the value of the (last) polygon
    that contains its centre, else ``fill`` (else nodata). Written BLOCK_ROWS rows at a time."""
    shapes = [(g, v) for g, v in polygons]
    bounds = [g.bounds for g, _ in shapes]
    profile = dict(driver="GTiff", width=region.width_px, height=region.height_px, count=1,
                   dtype="float32", nodata=NODATA, crs=RioCRS.from_wkt(crs.to_wkt()),
                   transform=region.transform, tiled=True, blockxsize=256, blockysize=256,
                   compress="deflate", BIGTIFF="IF_SAFER")
    background = NODATA if fill is None else fill
    with rasterio.open(target, "w", **profile) as dst:
        for r0 in range(0, region.height_px, BLOCK_ROWS):
            r1 = min(region.height_px, r0 + BLOCK_ROWS)
            block = rasterize_rows(shapes, bounds, region, r0, r1, background, "float32")
            if block is None:
                block = np.full((r1 - r0, region.width_px), background, dtype=np.float32)
            dst.write(block, 1, window=((r0, r1), (0, region.width_px)))
    return target


def load_vector_layer(conn: psycopg.Connection, region_name: str, layer: str,
                      path: str | Path, *, field: str | None = None,
                      burn: float | None = None, fill: float | None = None,
                      epoch: str | None = None, scenario: bool = False, strict: bool = False,
                      show_progress: bool = True) -> list[int]:
    """Burn the polygons of ``path`` onto the grid of ``region_name`` as ``layer`` (one
    epoch): the value of ``field``, or ``burn`` for every polygon (a mask: 1 by default), and
    ``fill`` where no polygon is (a mask: 0 by default). Returns the catalog ids written
    (empty when the same file and options were loaded already)."""
    p = check_file(path, "vector")
    is_mask = bool(MASK.match(layer))
    if field is not None and burn is not None:
        raise fail(p, "--burn", "option.value", option="--burn", value=burn,
                   reason="and --field exclude each other: burn a field's values or one value")
    if field is None and burn is None:
        if not is_mask:
            raise fail(p, "--field", "option.value", option="--field", value="(none)",
                       reason=f"is needed to burn polygons as {layer}: name the attribute "
                              "that holds the values (or give --burn VALUE)")
        burn = 1.0
    if fill is None and is_mask:
        fill = 0.0
    spec = layer_spec(layer)
    if spec.value_kind != "continuous":
        raise LoadError(f"{p}: layer {layer!r} is categorical; polygons burn continuous layers "
                        "only (access, mask_<name>, factor_<name>, ...)")
    for option, v in (("--burn", burn), ("--fill", fill)):
        if v is not None:
            lo, hi = spec.valid_range or (-math.inf, math.inf)
            if not math.isfinite(v) or not lo <= v <= hi or (spec.integral and v != round(v)):
                raise fail(p, option, "option.value", option=option, value=v,
                           reason=f"is outside the valid range [{lo:g}, {hi:g}] of {layer}"
                                  f"{spec.hint}")
    region = get_region(conn, region_name)
    crs = grid_crs(conn, region.srid)
    conn.rollback()
    field = _field_name(p, field)
    options = {"vector_field": field, "vector_burn": burn, "vector_fill": fill,
               "vector_rule": "pixel centre inside the polygon; the later feature where "
                              "polygons overlap"}
    sha = source_sha256(p, options)
    if epoch is None:
        raise fail(p, "", "raster.epoch", detail="no epoch: give --epoch YEAR|DATE")
    try:
        label = parse_epoch_option(epoch)[0]
    except EpochError as exc:
        raise fail(p, "", "raster.epoch", detail=str(exc)) from None
    done = previous_load(conn, "raster", sha, region_id=region.region_id, layer=layer,
                         epoch_label=label)
    if done:
        log.info("%s: already burnt as %s/%s (load %d): nothing to do", p, layer, label, done)
        return []
    polygons = read_polygons(p, field, burn, layer, crs)
    with tempfile.TemporaryDirectory(prefix="ecorest-burn-") as tmp:
        grid = burn_to_grid(polygons, region, crs, fill, Path(tmp) / f"{layer}.tif")
        return load_raster(conn, region_name, layer, grid, epoch=epoch, scenario=scenario,
                           resampling="nearest", strict=strict, show_progress=show_progress,
                           source=(p, sha, options))
