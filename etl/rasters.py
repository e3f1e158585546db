"""Loading rasters onto a region grid: validate, warp window by window, tile, COPY.

Any GDAL-readable file in any CRS is warped (GDAL, through ``rasterio.warp.reproject``) onto
the region grid, one block of tiles at a time, so memory stays bounded whatever the file size.
Pixels whose centre lies outside the region boundary become nodata (the rule the zone rasters
follow, ``raster.burn_tiles``), so every model, mart, report and export downstream counts the
region's own pixels, not the grid's bounding box. Each tile is checked (class codes in the
legend, physical values in the layer's valid range), encoded as PostGIS raster WKB and streamed
with COPY into the partition of its catalog entry. All-nodata tiles are skipped. A file is one
load: one transaction for all its bands.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import rasterio
import shapely
from psycopg import sql
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.features import geometry_mask
from rasterio.transform import Affine
from rasterio.warp import reproject, transform_bounds

from ecorest.errors import LoadError
from ecorest.progress import progress_bar
from ecorest.wkb import raster_wkb  # the tiles' encoder (also imported from here)

from .legends import ensure_legend
from .loadlog import (
    LoadContext,
    check_file,
    previous_load,
    recorded_load,
    sha256_file,
    use_loader_role,
)
from .nodes import writer_for as node_writer_for  # scale-out: tiles on data nodes
from .regions import Region, boundary_on_grid, get_region, grid_crs
from .validation import Issue, fail, issue
from .vectors import require_earth_crs

log = logging.getLogger(__name__)

#: PostGIS pixel types: name -> (WKB code, numpy dtype)
PIXEL_TYPES = {
    "8BUI": (4, np.uint8), "16BSI": (5, np.int16), "16BUI": (6, np.uint16),
    "32BSI": (7, np.int32), "32BF": (10, np.float32),
}
#: pixels warped at once over all bands (one block of tiles): ~16 M x (4 + 1) bytes
BLOCK_PIXELS = 16 * 1024 * 1024
#: largest block edge, in tiles (4 x 256 px measured best against whole-band warps)
MAX_BLOCK_TILES = 4
#: GDAL block cache while loading (MB); GDAL's default is 5 % of the machine's memory
GDAL_CACHE_MB = 256
#: share of bad pixels above which a file is rejected as a whole (unit/scale mistakes)
MAX_BAD_SHARE = 0.01
#: how a load masks the grid to the region, recorded in etl.loads.options (key "mask"); loads
#: recorded without it predate the masking and are loaded again
BOUNDARY_MASK = "pixel centre inside the region boundary"


@dataclass(frozen=True)
class LayerSpec:
    """How one kind of layer is validated and stored."""

    value_kind: str                 # categorical | continuous
    pixel_type: str                 # PostGIS pixel type of the stored tiles
    valid_range: tuple[float, float] | None   # physical values
    store_scale: float = 1.0        # physical = stored * store_scale
    nodata: float = -9999.0         # stored nodata
    units: str | None = None
    hint: str = ""
    #: default resampling (same or finer source, coarser source) instead of the value kind's
    resampling: tuple[str, str] | None = None
    #: only whole numbers are valid (a 0/1 mask)
    integral: bool = False


LAYERS: dict[str, LayerSpec] = {
    "landcover": LayerSpec("categorical", "16BUI", None, nodata=65535, units="class"),
    "ndvi": LayerSpec("continuous", "16BSI", (-1.0, 1.0), 1e-4, -32768, "1",
                      "; NDVI is unitless in [-1, 1]: for MODIS-style integers give "
                      "--scale 0.0001"),
    "evi": LayerSpec("continuous", "16BSI", (-1.0, 1.0), 1e-4, -32768, "1",
                     "; EVI is unitless in [-1, 1]: for MODIS-style integers give --scale 0.0001"),
    "fvc": LayerSpec("continuous", "16BSI", (0.0, 1.0), 1e-4, -32768, "1",
                     "; FVC is a fraction in [0, 1]: percentages need --scale 0.01"),
    "dem": LayerSpec("continuous", "32BF", (-500.0, 9000.0), units="m",
                     hint="; elevations must be metres (feet need --scale 0.3048)"),
    # yearly productivity, a vegetation signal that is a carbon flux (MODIS MOD17A3)
    "gpp": LayerSpec("continuous", "32BF", (0.0, 6.0), units="kg C/m2/yr",
                     hint="; annual GPP in kg C m-2 yr-1: MODIS MOD17A3 integers need --scale "
                          "0.0001 (and their fill codes 65529-65535 as nodata)"),
    "npp": LayerSpec("continuous", "32BF", (-1.0, 4.0), units="kg C/m2/yr",
                     hint="; annual NPP in kg C m-2 yr-1: MODIS MOD17A3 integers need --scale "
                          "0.0001 (and their fill codes 65529-65535 as nodata)"),
    # ecosystem-service inputs (docs/SERVICES.md)
    "erosivity": LayerSpec("continuous", "32BF", (0.0, 100000.0), units="MJ mm/(ha h yr)",
                           hint="; RUSLE R in MJ mm ha-1 h-1 yr-1 (US units x 17.02)"),
    "erodibility": LayerSpec("continuous", "32BF", (0.0, 2.0), units="t ha h/(ha MJ mm)",
                             hint="; RUSLE K in t ha h ha-1 MJ-1 mm-1 (US units x 0.1317)"),
    "precip": LayerSpec("continuous", "32BF", (0.0, 15000.0), units="mm/yr",
                        hint="; annual precipitation in mm (m need --scale 1000)"),
    "et0": LayerSpec("continuous", "32BF", (0.0, 5000.0), units="mm/yr",
                     hint="; annual reference evapotranspiration in mm"),
    "aet": LayerSpec("continuous", "32BF", (0.0, 5000.0), units="mm/yr",
                     hint="; annual actual evapotranspiration in mm"),
    "pawc": LayerSpec("continuous", "32BF", (0.0, 1.0), units="1",
                      hint="; plant-available water content is a fraction in [0, 1]"),
    "soil_depth": LayerSpec("continuous", "32BF", (0.0, 100000.0), units="mm",
                            hint="; depth to the root-restricting layer in mm"),
    "access": LayerSpec("continuous", "32BF", (0.0, 1.0), units="1",
                        hint="; accessibility to threats lies in [0, 1]",
                        resampling=("nearest", "average")),
    "wind_factor": LayerSpec("continuous", "32BF", (0.0, 10000.0), units="kg/m",
                             hint="; RWEQ weather factor WF in kg m-1 (yearly sum)"),
    "soil_sand": LayerSpec("continuous", "32BF", (0.0, 100.0), units="%",
                           hint="; sand content in percent"),
    "soil_silt": LayerSpec("continuous", "32BF", (0.0, 100.0), units="%",
                           hint="; silt content in percent"),
    "soil_clay": LayerSpec("continuous", "32BF", (0.0, 100.0), units="%",
                           hint="; clay content in percent"),
    "soil_om": LayerSpec("continuous", "32BF", (0.0, 100.0), units="%",
                         hint="; organic matter in percent"),
    "soil_caco3": LayerSpec("continuous", "32BF", (0.0, 100.0), units="%",
                            hint="; calcium carbonate in percent"),
    "snow_cover": LayerSpec("continuous", "32BF", (0.0, 1.0), units="1",
                            hint="; share of days with snow cover in [0, 1]"),
    "lithology": LayerSpec("continuous", "32BF", (0.0, 1.0), units="1",
                           hint="; carbonate-rock share (rocky desertification) in [0, 1]"),
}
FACTOR = re.compile(r"^factor_[a-z][a-z0-9_]{0,40}$")
#: a habitat threat (0..1, InVEST's threat rasters) and a constraint mask (1 = excluded)
THREAT = re.compile(r"^threat_[a-z][a-z0-9_]{0,40}$")
MASK = re.compile(r"^mask_[a-z][a-z0-9_]{0,40}$")


def layer_spec(layer: str, valid_min: float | None = None, valid_max: float | None = None,
               units: str | None = None) -> LayerSpec:
    if layer in LAYERS:
        spec = LAYERS[layer]
    elif FACTOR.match(layer):
        spec = LayerSpec("continuous", "32BF", None)
    elif THREAT.match(layer):
        # nearest neighbour as InVEST aligns its threat rasters; coarser: the threatened share
        spec = LayerSpec("continuous", "32BF", (0.0, 1.0), units="1",
                         hint="; a threat layer holds 0 ... 1 (1 = full threat)",
                         resampling=("nearest", "average"))
    elif MASK.match(layer):
        spec = LayerSpec("continuous", "8BUI", (0.0, 1.0), nodata=255, units="1",
                         hint="; a mask holds 1 (excluded) or 0, whole numbers only",
                         resampling=("nearest", "mode"), integral=True)
    else:
        raise LoadError(f"unknown layer {layer!r}: use one of {', '.join(LAYERS)}, "
                        "factor_<name>, threat_<name> or mask_<name> (lower case)")
    if valid_min is not None or valid_max is not None or units:
        lo, hi = spec.valid_range or (-np.inf, np.inf)
        spec = LayerSpec(spec.value_kind, spec.pixel_type,
                         (valid_min if valid_min is not None else lo,
                          valid_max if valid_max is not None else hi),
                         spec.store_scale, spec.nodata, units or spec.units, spec.hint,
                         spec.resampling, spec.integral)
    return spec


# ------------------------------------------------------------------------------------------------
# epochs
# ------------------------------------------------------------------------------------------------
_DATE_PATTERNS = (
    (re.compile(r"(?<!\d)(\d{4})[._-](\d{2})[._-](\d{2})(?!\d)"), "ymd"),
    (re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)"), "ymd"),
    (re.compile(r"(?<!\d)(\d{4})[._-](\d{3})(?!\d)"), "doy"),
    (re.compile(r"(?<!\d)(1[89]\d{2}|2[01]\d{2})(?!\d)"), "y"),
)


class EpochError(ValueError):
    """A text that holds a date which does not exist (2016-02-30, day 367)."""


def parse_epoch(text: str) -> tuple[str, date] | None:
    """(label, date) from '2016', '2016-07-01', 'X1982.01.01', 'MOD13A1_NDVI_2016_017' ...

    Strict: a date that does not exist ('2016-02-30', '2015_366') raises :class:`EpochError`
    naming it, rather than falling back to the year."""
    for pattern, kind in _DATE_PATTERNS:
        m = pattern.search(text)
        if not m:
            continue
        if kind == "ymd":
            try:
                d = date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                raise EpochError(f"{m[0]!r} is not a date (month {m[2]}, day {m[3]} of "
                                 f"{m[1]} does not exist)") from None
            return d.isoformat(), d
        if kind == "doy":
            doy, year = int(m[2]), int(m[1])
            days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
            if not 1 <= doy <= days:
                raise EpochError(f"{m[0]!r}: day {doy} of {year} does not exist (a year has "
                                 f"{days} days)")
            d = date(year, 1, 1) + timedelta(days=doy - 1)
            return d.isoformat(), d
        return m[1], date(int(m[1]), 7, 1)
    return None


#: --epoch: a year or a calendar date, nothing else
EPOCH_OPTION = re.compile(r"\d{4}|\d{4}-\d{2}-\d{2}")


def parse_epoch_option(text: str) -> tuple[str, date]:
    """--epoch YEAR|YYYY-MM-DD, strictly (raises :class:`EpochError` naming the value)."""
    t = text.strip()
    if not EPOCH_OPTION.fullmatch(t):
        raise EpochError(f"--epoch {text!r} is not a year (2016) or a date (2016-07-15)")
    parsed = parse_epoch(t)
    if parsed is None or not 1800 <= parsed[1].year <= 2200:
        raise EpochError(f"--epoch {text!r}: the year must lie between 1800 and 2200")
    return parsed


#: smallest |scale| accepted (a smaller factor is a typo: 1e-12 turns every value into 0)
MIN_ABS_SCALE = 1e-9


def check_options(path: Path, *, scale: float | None, offset: float | None,
                  nodata: float | None, valid_min: float | None,
                  valid_max: float | None) -> None:
    """Numeric options: finite, scale not 0, the valid range not empty (rule option.value);
    nodata is checked against the file's data type by :func:`inspect_source`."""
    for name, value in (("--scale", scale), ("--offset", offset), ("--nodata", nodata),
                        ("--valid-min", valid_min), ("--valid-max", valid_max)):
        if value is not None and not np.isfinite(value):
            raise fail(path, name, "option.value", option=name, value=value,
                       reason="must be a finite number")
    if scale is not None and abs(scale) < MIN_ABS_SCALE:
        raise fail(path, "--scale", "option.value", option="--scale", value=scale,
                   reason="would turn every stored value into 0 (physical = stored × scale "
                          "+ offset); MODIS NDVI integers take --scale 0.0001")
    if valid_min is not None and valid_max is not None and valid_min >= valid_max:
        raise fail(path, "--valid-min", "option.value", option="--valid-min", value=valid_min,
                   reason=f"must be below --valid-max {valid_max:g}")


def check_nodata(path: Path, nodata: float, dtype: str) -> None:
    """An explicit --nodata must be a value of the file's data type."""
    dt = np.dtype(dtype)
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        if not (info.min <= nodata <= info.max and float(nodata).is_integer()):
            raise fail(path, "--nodata", "option.value", option="--nodata", value=nodata,
                       reason=f"is not a value of the file's data type {dtype} "
                              f"(whole numbers {info.min} … {info.max})")
    elif np.issubdtype(dt, np.floating):
        info = np.finfo(dt)
        if not (-info.max <= nodata <= info.max):
            raise fail(path, "--nodata", "option.value", option="--nodata", value=nodata,
                       reason=f"is outside the range of the file's data type {dtype}")


# ------------------------------------------------------------------------------------------------
# the load
# ------------------------------------------------------------------------------------------------
@dataclass
class BandPlan:
    band: int
    epoch_label: str
    epoch_date: date


@dataclass
class RasterSource:
    path: Path
    crs: str
    res: tuple[float, float]
    dtype: str
    nodata: float | None
    scale: float
    offset: float
    bands: list[BandPlan]


def inspect_source(path: Path, layer: str, spec: LayerSpec, *, epoch: str | None,
                   scenario: bool,
                   epoch_from: str | None, band: int | None, scale: float | None,
                   offset: float | None, nodata: float | None) -> RasterSource:
    """File-level checks: readable, CRS present and known, bands, dtype, epochs."""
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise fail(path, "", "file.readable", what="raster",
                   detail=str(exc).split(": ", 1)[-1]) from exc
    with src:
        if src.crs is None or not src.crs.to_wkt():
            raise fail(path, "", "crs.present")
        require_earth_crs(src.crs.to_wkt(), path)
        dtype = src.dtypes[0]
        if spec.value_kind == "categorical" and not np.issubdtype(np.dtype(dtype), np.integer):
            raise fail(path, "band 1", "raster.categorical_integer", dtype=dtype, layer=layer)
        bands = [band] if band else list(range(1, src.count + 1)) if epoch_from == "band" else [1]
        for b in bands:
            if not 1 <= b <= src.count:
                raise fail(path, "", "raster.band", count=src.count, band=b)
        if epoch_from not in (None, "band", "filename"):
            raise LoadError(f"--epoch-from must be 'band' or 'filename', not {epoch_from!r}")
        if nodata is not None:
            check_nodata(path, nodata, dtype)
        plans = []
        for b in bands:
            try:
                if epoch:
                    parsed = parse_epoch_option(epoch)
                    source_text = f"--epoch {epoch}"
                elif epoch_from == "band":
                    source_text = src.descriptions[b - 1] or ""
                    parsed = parse_epoch(source_text)
                elif epoch_from == "filename":
                    source_text = path.name
                    parsed = parse_epoch(path.stem)
                else:
                    parsed = source_text = None
            except EpochError as exc:
                raise fail(path, f"band {b}", "raster.epoch", detail=str(exc)) from None
            if source_text is None:
                raise fail(path, "", "raster.epoch",
                           detail="no epoch: give --epoch YEAR|DATE or --epoch-from band|filename")
            if parsed is None:
                raise fail(path, f"band {b}", "raster.epoch",
                           detail=f"cannot read a year or date from {source_text!r}")
            if parsed[1] > date.today() and not scenario:
                raise fail(path, f"band {b}", "value.date_future", column="epoch",
                           value=parsed[0])
            plans.append(BandPlan(b, *parsed))
        labels = [p.epoch_label for p in plans]
        dupes = {x for x in labels if labels.count(x) > 1}
        if dupes:
            raise fail(path, "", "raster.epoch",
                       detail=f"several bands share the epoch(s) {sorted(dupes)}")
        src_scale = scale if scale is not None else (src.scales[0] or 1.0)
        src_offset = offset if offset is not None else (src.offsets[0] or 0.0)
        return RasterSource(
            path, src.crs.to_string(), src.res, dtype,
            nodata if nodata is not None else src.nodata, float(src_scale), float(src_offset),
            plans)


def choose_resampling(spec: LayerSpec, src_res: tuple[float, float], src_crs, region: Region,
                      given: str | None) -> Resampling:
    if given:
        try:
            return Resampling[given]
        except KeyError as exc:
            raise LoadError(f"unknown resampling {given!r}: use one of "
                            f"{', '.join(r.name for r in Resampling)}") from exc
    # source pixel size in grid units (approximate for geographic sources)
    res = max(abs(src_res[0]), abs(src_res[1]))
    if src_crs.is_geographic:
        res *= 111_320.0
    coarsening = region.pixel_size_m / res
    if spec.resampling is not None:
        return Resampling[spec.resampling[1] if coarsening >= 2 else spec.resampling[0]]
    if spec.value_kind == "categorical":
        return Resampling.mode if coarsening >= 2 else Resampling.nearest
    return Resampling.average if coarsening >= 2 else Resampling.bilinear


def _tile_range(src_bounds, src_crs, region: Region, dst_crs) -> tuple[int, int, int, int] | None:
    left, bottom, right, top = transform_bounds(src_crs, dst_crs, *src_bounds, densify_pts=21)
    t, px = region.tile_size_px, region.pixel_size_m
    c0 = max(0, int(np.floor((left - region.origin_x) / px)))
    c1 = min(region.width_px, int(np.ceil((right - region.origin_x) / px)))
    r0 = max(0, int(np.floor((region.origin_y - top) / px)))
    r1 = min(region.height_px, int(np.ceil((region.origin_y - bottom) / px)))
    if c0 >= c1 or r0 >= r1:
        return None
    return c0 // t, (c1 - 1) // t, r0 // t, (r1 - 1) // t


def code_lut(codes: np.ndarray) -> np.ndarray:
    """A boolean lookup table: ``lut[c]`` is True for legend codes 0..65535."""
    lut = np.zeros(65536, dtype=bool)
    inside = codes[(codes >= 0) & (codes < 65536)]
    lut[inside] = True
    return lut


def known_code(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """True where ``values`` are legend codes (values outside 0..65535 are never codes)."""
    if values.dtype in (np.uint8, np.uint16):
        return lut[values]
    inside = (values >= 0) & (values < 65536)
    out = np.zeros(values.shape, dtype=bool)
    out[inside] = lut[values[inside].astype(np.int64)]
    return out


class BoundaryMask:
    """Which pixels of the region grid lie inside the region boundary: those whose centre is
    inside the polygon (GDAL's rasterisation rule, the one ``raster.burn_tiles`` applies to
    zones through ``st_asraster``). The boundary is transformed to the grid CRS once per load
    (:func:`boundary_on_grid`) and rasterised block by block."""

    def __init__(self, boundary, region: Region) -> None:
        self.boundary = boundary
        shapely.prepare(boundary)
        self.region = region

    def window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray | bool:
        """Rows r0..r1 and columns c0..c1 (end exclusive) of the grid: True where inside; a
        plain True or False when the whole window is inside or outside."""
        px, ox, oy = self.region.pixel_size_m, self.region.origin_x, self.region.origin_y
        x0, x1, y0, y1 = ox + c0 * px, ox + c1 * px, oy - r1 * px, oy - r0 * px
        centres = shapely.box(x0 + px / 2, y0 + px / 2, x1 - px / 2, y1 - px / 2)
        if not self.boundary.intersects(centres):
            return False
        if self.boundary.contains_properly(centres):
            return True
        part = shapely.clip_by_rect(self.boundary, x0 - px, y0 - px, x1 + px, y1 + px)
        if part.is_empty:
            return False
        return geometry_mask([part], out_shape=(r1 - r0, c1 - c0), all_touched=False,
                             transform=self.region.transform @ Affine.translation(c0, r0),
                             invert=True)


def legend_codes(conn: psycopg.Connection, legend_id: int) -> np.ndarray:
    rows = conn.execute("select class_code from registry.legend_classes where legend_id = %s",
                        (legend_id,)).fetchall()
    return np.array(sorted(r[0] for r in rows), dtype=np.int64)


def load_raster(conn: psycopg.Connection, region_name: str, layer: str, path: str | Path, *,
                epoch: str | None = None, epoch_from: str | None = None, band: int | None = None,
                scale: float | None = None, offset: float | None = None,
                nodata: float | None = None, legend: str | None = None,
                resampling: str | None = None, valid_min: float | None = None,
                valid_max: float | None = None, units: str | None = None,
                scenario: bool = False, strict: bool = False,
                show_progress: bool = True,
                source: tuple[Path, str, dict] | None = None) -> list[int]:
    """Load one raster file (one or more bands = epochs) onto a region grid.

    ``source`` (path, SHA-256, options) names what the file was made from when it is an
    intermediate (a vector layer burnt onto the grid, :mod:`etl.burn`): the load log, the
    catalog and the messages name that source, and its SHA-256 makes a re-load a no-op.
    Returns the catalog ids written (empty when the same file was already loaded).
    """
    path = check_file(path, "raster")
    read_path = path
    check_options(path, scale=scale, offset=offset, nodata=nodata, valid_min=valid_min,
                  valid_max=valid_max)
    spec = layer_spec(layer, valid_min, valid_max, units)
    region = get_region(conn, region_name)
    src_info = inspect_source(path, layer, spec, epoch=epoch, epoch_from=epoch_from, band=band,
                              scale=scale, offset=offset, nodata=nodata, scenario=scenario)
    legend_id = None
    codes = None
    if spec.value_kind == "categorical":
        legend_id = _legend_id(conn, legend, region, path)
        codes = legend_codes(conn, legend_id)
        if codes.size and codes.min() >= 0 and codes.max() < 255:
            spec = LayerSpec("categorical", "8BUI", None, nodata=255, units=spec.units)
    if source is None:
        sha = sha256_file(path)
    else:
        path, sha = Path(source[0]), source[1]
        src_info.path = path
    epoch_span = src_info.bands[0].epoch_label if len(src_info.bands) == 1 else \
        f"{src_info.bands[0].epoch_label}..{src_info.bands[-1].epoch_label}"
    done = previous_load(conn, "raster", sha, region_id=region.region_id, layer=layer,
                         epoch_label=epoch_span)
    if done and _masked_load(conn, done):
        log.info("%s: already loaded as %s/%s (load %d): nothing to do", path, layer,
                 epoch_span, done)
        return []
    if done:
        log.info("%s: load %d of %s/%s predates masking to the region boundary: loading it "
                 "again", path, done, layer, epoch_span)
    dst_crs = grid_crs(conn, region.srid)
    inside = BoundaryMask(boundary_on_grid(conn, region), region)
    conn.rollback()
    options = {"epoch": epoch, "epoch_from": epoch_from, "band": band, "scenario": scenario,
               "scale": src_info.scale,
               "offset": src_info.offset, "nodata": src_info.nodata, "legend": legend,
               "resampling": resampling, "strict": strict, "mask": BOUNDARY_MASK}
    if source is not None:
        options.update(source[2])
    catalog_ids = []
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        _load_bands(conn, path, sha, region, layer, spec, src_info, epoch_span, options,
                    legend_id, codes, dst_crs, inside, resampling, strict, show_progress,
                    catalog_ids, read_path)
    drop_unused_tiles(conn, region.region_id)
    return catalog_ids


def _masked_load(conn: psycopg.Connection, load_id: int) -> bool:
    """Whether a raster load was masked to the region boundary (loads before were not)."""
    row = conn.execute("select options ->> 'mask' from etl.loads where load_id = %s",
                       (load_id,)).fetchone()
    conn.rollback()
    return bool(row and row[0])


def _load_bands(conn, path, sha, region, layer, spec, src_info, epoch_span, options, legend_id,
                codes, dst_crs, inside, resampling, strict, show_progress, catalog_ids,
                read_path) -> None:
    with recorded_load(conn, "raster", path, sha, region_id=region.region_id, layer=layer,
                       epoch_label=epoch_span, options=options, strict=strict) as ctx:
        with rasterio.open(read_path) as src:
            rs = choose_resampling(spec, src_info.res, src.crs, region, resampling)
            tiles = _tile_range(src.bounds, src.crs, region, dst_crs)
            if tiles is None:
                raise fail(path, "", "raster.overlap", region=region.name)
            legend = None
            if legend_id is not None:
                legend = conn.execute("select name from registry.legends where legend_id = %s",
                                      (legend_id,)).fetchone()[0]
            job = _Job(conn, ctx, src, src_info, region, dst_crs, inside, spec, layer,
                       legend_id, None if codes is None else code_lut(codes), legend, rs, tiles,
                       node_writer_for(conn))
            per_group = max(1, BLOCK_PIXELS // region.tile_size_px ** 2)
            plans = src_info.bands
            try:
                for g in range(0, len(plans), per_group):
                    group = plans[g:g + per_group]
                    try:
                        catalog_ids += _load_group(job, group, show_progress)
                    except (RasterioError, CPLE_BaseError) as exc:
                        cause = exc.__cause__ or exc.__context__ or exc
                        raise fail(path, f"band {group[0].band}", "file.readable", what="raster",
                                   detail=f"read failed while warping: {cause}") from exc
                if job.nodes is not None and catalog_ids:
                    job.nodes.commit()  # node tables first; the coordinator's commit publishes
            finally:
                if job.nodes is not None:
                    job.nodes.close()
        if not catalog_ids:
            raise fail(path, "", "raster.all_nodata", region=region.name)
        # attach right before committing: SHARE UPDATE EXCLUSIVE on raster.tiles (readers and
        # loads into other partitions go on) and, for the cloned foreign key, SHARE ROW
        # EXCLUSIVE on raster.catalog, both held only from here to the commit
        for cid in catalog_ids:
            conn.execute("select raster.attach_tile_table(%s)", (cid,))
        ctx.message = (f"{layer} {epoch_span}: {len(catalog_ids)} band(s) onto region "
                       f"{region.name} with {rs.name} resampling; kept the pixels with "
                       "their centre inside the region boundary")


def _legend_id(conn, legend: str | None, region: Region, path: Path) -> int:
    if legend is None:
        if region.legend_id is None:
            raise LoadError(f"{path}: land cover needs a legend: give --legend NAME (see "
                            "`ecorest load legend`)")
        return region.legend_id
    return ensure_legend(conn, legend)


def prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Produce ``items`` in a background thread (GDAL warps without the GIL) while the caller
    encodes and COPYs the previous ones; exceptions are re-raised in the caller."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=run, name="ecorest-warp", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _blocks(src, bands: list[int], info: RasterSource, tiles, region: Region, dst_crs,
            inside: BoundaryMask, resampling: Resampling, continuous: bool,
            ) -> Iterator[tuple[int, int, tuple[int, int], np.ndarray | None,
                                np.ndarray | None]]:
    """(first tile column, first tile row, (rows, columns), values, valid mask) block by block.

    Values and masks are (bands, rows, columns) for a square block of tiles holding at most
    BLOCK_PIXELS pixels over all bands. Square blocks keep the source window GDAL reads compact
    even when the grid is rotated against the source (full-width strips of a grid rotated by
    20° read four times the source rows they need), and memory is bounded whatever the file
    size. The bands of a pixel-interleaved file are decoded once per block. Pixels whose centre
    lies outside the region boundary are not valid; a block wholly outside is not warped at all
    (values and mask None).
    """
    tx0, tx1, ty0, ty1 = tiles
    t = region.tile_size_px
    per_side = max(1, min(MAX_BLOCK_TILES, int((BLOCK_PIXELS / (len(bands) * t * t)) ** 0.5)))
    if continuous:
        dtype, nodata = np.float32, np.nan
    elif info.nodata is not None and np.issubdtype(np.dtype(info.dtype), np.integer):
        dtype, nodata = np.dtype(info.dtype), info.nodata  # warp classes in their own type
    else:
        dtype, nodata = np.int32, -(2 ** 31)
    source = rasterio.band(src, bands)
    for by in range(ty0, ty1 + 1, per_side):
        for bx in range(tx0, tx1 + 1, per_side):
            r0, c0 = by * t, bx * t
            r1 = min(region.height_px, (min(ty1, by + per_side - 1) + 1) * t)
            c1 = min(region.width_px, (min(tx1, bx + per_side - 1) + 1) * t)
            mask = inside.window(r0, r1, c0, c1)
            if mask is False:
                yield bx, by, (r1 - r0, c1 - c0), None, None
                continue
            values = np.full((len(bands), r1 - r0, c1 - c0), nodata, dtype=dtype)
            reproject(source, values, src_nodata=info.nodata,
                      dst_transform=region.transform @ Affine.translation(c0, r0),
                      dst_crs=dst_crs, dst_nodata=nodata, resampling=resampling,
                      init_dest_nodata=True)
            valid = np.isfinite(values) if continuous else values != nodata
            if mask is not True:
                valid &= mask
            yield bx, by, (r1 - r0, c1 - c0), values, valid


@dataclass
class _Job:
    """What every band of one raster load shares."""

    conn: psycopg.Connection
    ctx: LoadContext
    src: object
    info: RasterSource
    region: Region
    dst_crs: object
    inside: BoundaryMask
    spec: LayerSpec
    layer: str
    legend_id: int | None
    lut: np.ndarray | None
    legend: str | None
    resampling: Resampling
    tiles: tuple[int, int, int, int]
    #: scale-out: the tile writes on data nodes (etl/nodes.py), None on one server
    nodes: object = None


@dataclass
class _Band:
    """One band (= one catalog entry) being loaded, with its running statistics."""

    plan: BandPlan
    catalog_id: int
    n: int = 0          # valid pixels stored
    m: int = 0          # valid pixels warped
    total: float = 0.0
    vmin: float = np.inf
    vmax: float = -np.inf
    bad: int = 0
    bad_min: float = np.inf     # the smallest and largest out-of-range value
    bad_max: float = -np.inf
    written: int = 0
    issues: list = None

    def __post_init__(self) -> None:
        self.issues = []


def _start_band(job: _Job, plan: BandPlan) -> _Band:
    _replace_current(job.conn, job.ctx, job.region, job.layer, plan)
    spec, info = job.spec, job.info
    cid = job.conn.execute(
        "insert into raster.catalog (region_id, layer, value_kind, epoch_label, epoch_date, "
        "legend_id, source_path, source_sha256, source_band, source_crs, source_res_x, "
        "source_res_y, resampling, pixel_type, nodata, scale_factor, add_offset, units, load_id) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "returning catalog_id",
        (job.region.region_id, job.layer, spec.value_kind, plan.epoch_label, plan.epoch_date,
         job.legend_id, str(info.path), job.ctx.sha256, plan.band, info.crs, info.res[0],
         info.res[1], job.resampling.name, spec.pixel_type, spec.nodata, spec.store_scale, 0.0,
         spec.units, job.ctx.load_id)).fetchone()[0]
    # a stand-alone table shaped like a partition, attached when the load ends: creating a
    # partition would lock raster.tiles (every region's tiles) until the load commits
    if job.nodes is not None:
        job.nodes.start(cid, spec.value_kind == "categorical")
    else:
        job.conn.execute("select raster.create_tile_table(%s, %s)",
                         (cid, spec.value_kind == "categorical"))
    return _Band(plan, cid)


def _load_group(job: _Job, plans: list[BandPlan], show_progress: bool) -> list[int]:
    """Warp, check, encode and COPY a group of bands in one pass over the file."""
    bands = [_start_band(job, plan) for plan in plans]
    region, spec = job.region, job.spec
    t = region.tile_size_px
    tx0, tx1, ty0, ty1 = job.tiles
    npx = (tx1 - tx0 + 1) * (ty1 - ty0 + 1) * t * t * len(bands)
    continuous = spec.value_kind == "continuous"
    label = plans[0].epoch_label if len(plans) == 1 else \
        f"{plans[0].epoch_label}..{plans[-1].epoch_label}"
    with progress_bar(f"{job.layer} {label}", npx, "px", show_progress) as bar:
        blocks = _blocks(job.src, [p.band for p in plans], job.info, job.tiles, region,
                         job.dst_crs, job.inside, job.resampling, continuous)
        for bx, by, (h, w), values, valid in prefetch(blocks):
            for j, band in enumerate(bands if values is not None else ()):
                band.m += int(valid[j].sum())
                lines = []
                for i in range(0, values.shape[1], t):
                    for k in range(0, values.shape[2], t):
                        line = _tile(job, band, bx + k // t, by + i // t,
                                     values[j, i:i + t, k:k + t], valid[j, i:i + t, k:k + t].copy())
                        if line:
                            lines.append(line)
                if lines and job.nodes is not None:  # straight to the data nodes
                    job.nodes.copy(band.catalog_id, lines)
                elif lines:  # into the band's own tile table (attached when the load ends)
                    with job.conn.cursor().copy(sql.SQL(
                            "copy raster.{} (catalog_id, tile_x, tile_y, rast) from stdin").format(
                            sql.Identifier(f"tiles_{band.catalog_id}"))) as copy:
                        for line in lines:
                            copy.write(line)
            bar.advance(-(-h // t) * -(-w // t) * t * t * len(bands))
    return [b.catalog_id for b in bands if _finish_band(job, b)]


def _tile(job: _Job, band: _Band, tx: int, ty: int, v: np.ndarray, ok: np.ndarray) -> str | None:
    """Check and encode one tile; returns its COPY line, or None for an all-nodata tile."""
    spec, region = job.spec, job.region
    if not ok.any():
        return None
    if spec.value_kind == "categorical":
        phys = v
        bad = ok & ~known_code(v, job.lut)
    else:
        phys = v * job.info.scale + job.info.offset
        ok &= np.isfinite(phys)
        lo, hi = spec.valid_range or (-np.inf, np.inf)
        bad = ok & ((phys < lo) | (phys > hi))
        if spec.integral:
            bad |= ok & (phys != np.round(phys))
    nbad = int(bad.sum())
    if nbad:
        band.bad += nbad
        if spec.value_kind != "categorical":
            band.bad_min = min(band.bad_min, float(phys[bad].min()))
            band.bad_max = max(band.bad_max, float(phys[bad].max()))
        found = _bad_tile_issue(job.info.path, band.plan, tx, ty, spec, job.layer, phys, bad,
                                nbad, job.legend)
        if job.ctx.strict:
            raise LoadError(found)
        band.issues.append(found)  # quarantined after the COPY has ended
        ok &= ~bad
        if not ok.any():
            return None
    good = phys[ok]
    band.n += good.size
    band.total += float(good.sum(dtype=np.float64))
    band.vmin = min(band.vmin, float(good.min()))
    band.vmax = max(band.vmax, float(good.max()))
    if spec.value_kind == "categorical":
        stored = phys if ok.all() else np.where(ok, phys, spec.nodata)
    else:
        scaled = np.round(phys / spec.store_scale) if spec.store_scale != 1 else phys
        stored = np.where(ok, scaled, spec.nodata)
    t = region.tile_size_px
    _, dtype = PIXEL_TYPES[spec.pixel_type]
    full = np.full((t, t), spec.nodata, dtype=dtype)
    full[:stored.shape[0], :stored.shape[1]] = stored
    wkb = raster_wkb(full, spec.pixel_type, spec.nodata,
                     region.origin_x + tx * t * region.pixel_size_m,
                     region.origin_y - ty * t * region.pixel_size_m,
                     region.pixel_size_m, region.srid)
    band.written += 1
    return f"{band.catalog_id}\t{tx}\t{ty}\t{wkb.hex()}\n"


def _finish_band(job: _Job, band: _Band) -> bool:
    """Whole-band checks, quarantine, raster constraints and statistics.

    Returns False for an empty band of a time stack (a cloudy or QA-masked date): it is left
    out with a warning. An empty single-band file is an error.
    """
    spec, path, plan = job.spec, job.info.path, band.plan
    if band.bad > MAX_BAD_SHARE * max(band.m, 1):
        rule = "raster.legend_codes" if spec.value_kind == "categorical" else "raster.value_range"
        share = 100 * band.bad / max(band.m, 1)
        what = ""
        if spec.value_kind != "categorical":
            lo, hi = spec.valid_range
            unit = f" {spec.units}" if spec.units and spec.units != "1" else ""
            what = (f" ({job.layer} lies in [{lo:g}, {hi:g}]{unit}; found {band.bad_min:g} … "
                    f"{band.bad_max:g})")
        raise LoadError(Issue(str(path), f"band {plan.band}", rule,
                              f"{band.bad} of {band.m} valid pixels ({share:.1f} %) break rule "
                              f"{rule}{what}: the file is rejected as a whole{spec.hint}"))
    job.ctx.reject(band.issues)
    if band.written == 0:
        if len(job.info.bands) == 1:
            raise fail(path, f"band {plan.band}", "raster.all_nodata", region=job.region.name)
        job.ctx.warn(issue(path, f"band {plan.band} ({plan.epoch_label})", "raster.all_nodata",
                           severity="warning", region=job.region.name))
        job.conn.execute("select raster.drop_tile_partition(%s)", (band.catalog_id,))
        job.conn.execute("delete from raster.catalog where catalog_id = %s", (band.catalog_id,))
        return False
    t0 = time.perf_counter()
    if job.nodes is not None:
        job.nodes.constrain(band.catalog_id)
    else:
        job.conn.execute("select raster.constrain_tile_partition(%s)", (band.catalog_id,))
    log.debug("raster constraints on tiles_%d in %.2f s", band.catalog_id,
              time.perf_counter() - t0)
    job.conn.execute(
        "update raster.catalog set valid_count = %s, value_min = %s, value_max = %s, "
        "value_mean = %s, tile_count = %s where catalog_id = %s",
        (band.n, band.vmin, band.vmax, band.total / band.n, band.written, band.catalog_id))
    job.ctx.rows_read += band.m
    job.ctx.rows_loaded += band.written
    log.info("%s band %d -> %s %s: %d tiles, %d valid px, range %.4g..%.4g", path.name,
             plan.band, job.layer, plan.epoch_label, band.written, band.n, band.vmin, band.vmax)
    return True


def _bad_tile_issue(path, plan, tx, ty, spec, layer, phys, bad, nbad, legend) -> Issue:
    item = f"band {plan.band}, tile ({tx}, {ty})"
    if spec.value_kind == "categorical":
        unknown = sorted({int(c) for c in np.unique(phys[bad])})
        return issue(path, item, "raster.legend_codes", count=nbad, codes=unknown[:20],
                     legend=legend, record={"codes": unknown[:100], "pixels": nbad})
    lo, hi = spec.valid_range
    return issue(path, item, "raster.value_range", count=nbad, lo=lo, hi=hi, layer=layer,
                 vmin=float(phys[bad].min()), vmax=float(phys[bad].max()), hint=spec.hint,
                 record={"pixels": nbad})


def _replace_current(conn, ctx: LoadContext, region: Region, layer: str, plan: BandPlan) -> None:
    """A corrected file for the same layer/epoch replaces the current one (same transaction).

    The replaced catalog entry stays, marked not current, and so do its tiles for now: tiles
    are dropped only after the load committed, and only when no recorded assessment run read
    them (:func:`drop_unused_tiles`), so a run keeps the inputs it recorded."""
    old = conn.execute(
        "select catalog_id, load_id from raster.catalog where region_id = %s and layer = %s "
        "and epoch_label = %s and is_current", (region.region_id, layer, plan.epoch_label),
    ).fetchall()
    for cid, load_id in old:
        conn.execute("update raster.catalog set is_current = false where catalog_id = %s",
                     (cid,))
        conn.execute("update etl.loads set status = 'superseded' where load_id = %s and "
                     "status = 'succeeded' and not exists (select 1 from raster.catalog where "
                     "load_id = %s and is_current)", (load_id, load_id))
        ctx.replaces_load_id = load_id
        log.info("replacing %s %s (catalog %d, load %d)", layer, plan.epoch_label, cid, load_id)


#: how long dropping replaced tiles may wait for raster.tiles (it is skipped, not waited for)
DROP_LOCK_TIMEOUT = "200ms"


def drop_unused_tiles(conn: psycopg.Connection, region_id: int) -> list[int]:
    """Drop the tile partitions of replaced (not current) catalog entries of a region that no
    assessment run read (``etl.assessment_runs.input_catalog_ids``); the catalog entries stay.

    Runs after a load committed, one short transaction per partition: dropping a partition
    locks raster.tiles, so it waits at most DROP_LOCK_TIMEOUT and otherwise leaves the tiles
    for the next load to drop. Returns the catalog ids whose tiles were dropped."""
    dropped: list[int] = []
    candidates = [r[0] for r in conn.execute(
        "select c.catalog_id from raster.catalog as c where c.region_id = %s and "
        "not c.is_current and to_regclass(format('raster.tiles_%%s', c.catalog_id)) is not null "
        "and not exists (select 1 from etl.assessment_runs as r "
        "                where c.catalog_id = any(r.input_catalog_ids)) order by 1",
        (region_id,))]
    conn.rollback()
    for cid in candidates:
        try:
            with conn.transaction():
                use_loader_role(conn)
                conn.execute(f"set local lock_timeout = '{DROP_LOCK_TIMEOUT}'")
                # a run being recorded right now may be about to read these tiles: wait for
                # the runs' inserts to commit, then look again
                conn.execute("lock table etl.assessment_runs in share mode")
                used = conn.execute("select exists (select 1 from etl.assessment_runs where "
                                    "%s = any(input_catalog_ids))", (cid,)).fetchone()[0]
                if not used:
                    conn.execute("select raster.drop_tile_partition(%s)", (cid,))
                    dropped.append(cid)
        except psycopg.errors.LockNotAvailable:
            log.info("replaced tiles of catalog %d kept for now: raster.tiles is busy", cid)
            break
        except psycopg.Error as exc:  # never fail a committed load over its clean-up
            log.warning("replaced tiles of catalog %d kept: %s", cid, str(exc).strip())
            break
    return dropped
