"""Reading vector inputs (GeoPackage, Shapefile, GeoJSON, CSV with coordinates) into one shape.

A :class:`FeatureTable` is the attribute columns as plain Python values, the geometries as
shapely objects in EPSG:4326, and where every row came from (``row 5`` for CSV, ``feature 5``
otherwise), so that messages can name the row.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from ecorest.errors import LoadError

from .validation import Issue, fail, issue

log = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)
LON_NAMES = ("lon", "long", "longitude", "x", "xcoordinate", "lng", "经度", "东经")
LAT_NAMES = ("lat", "latitude", "y", "ycoordinate", "纬度", "北纬")
#: coordinate column names that mean longitude/latitude (EPSG:4326) rather than projected x/y
GEOGRAPHIC_NAMES = ("lon", "long", "longitude", "lng", "xcoordinate", "lat", "latitude",
                    "ycoordinate", "经度", "东经", "纬度", "北纬")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
#: largest CSV read into memory (a table is read whole; 2 GB would exhaust the memory)
MAX_CSV_BYTES = 256 * 2**20


@dataclass
class FeatureTable:
    path: Path
    columns: dict[str, list]
    geoms: list  # shapely geometries in EPSG:4326 (None where missing)
    items: list[str]
    source_crs: CRS | None
    issues: list[Issue] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def row(self, i: int) -> dict:
        return {k: v[i] for k, v in self.columns.items()}

    def column(self, name: str) -> list:
        return self.columns[name]


def require_earth_crs(text: str, path: str | Path) -> CRS:
    """A geographic or projected CRS known to PROJ (rule crs.known)."""
    try:
        crs = CRS.from_user_input(text)
    except CRSError as exc:
        raise fail(path, "", "crs.known", crs=text[:80], detail=str(exc)) from exc
    if not (crs.is_geographic or crs.is_projected):
        raise fail(path, "", "crs.known", crs=crs.name,
                   detail="a local/engineering CRS: the EPSG code in the file is probably "
                          "unknown or the CRS definition incomplete")
    return crs


def _clean(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def read_features(path: str | Path, *, crs: str | None = None, x: str | None = None,
                  y: str | None = None, layer: str | None = None,
                  require_geometry: bool = True) -> FeatureTable:
    """Read a vector file or a CSV with coordinate columns; geometries end up in EPSG:4326."""
    p = Path(path)
    if p.suffix.lower() in CSV_SUFFIXES:
        return _read_csv(p, crs=crs, x=x, y=y, require_geometry=require_geometry)
    return _read_ogr(p, crs=crs, layer=layer)


def _read_ogr(p: Path, crs: str | None, layer: str | None) -> FeatureTable:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    # GeoJSON dates as the text in the file: they are parsed (strictly) with the other
    # values, and an impossible date (2015-02-29) is a rejected feature, not a crash
    options = {"DATE_AS_STRING": "YES"} if p.suffix.lower() in (".geojson", ".json") else {}
    try:
        meta, _fids, geometry, field_data = pyogrio.raw.read(p, layer=layer, **options)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise fail(p, "", "file.readable", what="vector", detail=str(exc).strip()) from exc
    except ValueError as exc:  # e.g. a date field holding a date that does not exist
        raise fail(p, "", "file.readable", what="vector",
                   detail=f"a field value cannot be read: {exc}") from exc
    src_crs = require_earth_crs(crs, p) if crs else None
    if src_crs is None:
        if not meta.get("crs"):
            raise fail(p, "", "crs.present")
        src_crs = require_earth_crs(meta["crs"], p)
    names = list(meta["fields"])
    columns = {name: [_clean(v) for v in values]
               for name, values in zip(names, field_data, strict=True)}
    geoms = list(shapely.from_wkb(geometry)) if geometry is not None else [None] * len(names)
    items = [f"feature {i + 1}" for i in range(len(geoms))]
    return FeatureTable(p, columns, _to_wgs84(geoms, src_crs), items, src_crs)


def _find(columns: list[str], wanted: str | None, candidates: tuple[str, ...]) -> str | None:
    if wanted:
        return wanted
    lowered = {unicodedata.normalize("NFKC", c).strip().casefold(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    return None


def _text_encoding(p: Path) -> str:
    """UTF-8 (with or without a byte-order mark), else GB 18030 (a superset of GBK/GB 2312,
    what Excel writes for Chinese CSV files on a Chinese Windows)."""
    with open(p, "rb") as fh:
        head = fh.read(1 << 20)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the block
            try:
                head.decode("gb18030")
                return "gb18030"
            except UnicodeDecodeError:
                pass
    return "utf-8-sig"


def _read_csv(p: Path, crs: str | None, x: str | None, y: str | None,
              require_geometry: bool) -> FeatureTable:
    size = p.stat().st_size
    if size > MAX_CSV_BYTES:
        raise fail(p, "", "file.size", size=f"{size / 2**20:,.0f} MB",
                   limit=f"{MAX_CSV_BYTES / 2**20:,.0f} MB",
                   advice="a table this large is not a plot, project, zone or parameter "
                          "table; split it or load it as a raster")
    encoding = _text_encoding(p)
    try:
        df = pd.read_csv(p, sep=None, engine="python", dtype=str, keep_default_na=False,
                         na_values=["", "NA", "NaN", "nan", "null", "NULL"],
                         encoding=encoding, encoding_errors="replace")
    except pd.errors.EmptyDataError as exc:
        raise fail(p, "", "file.not_empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise fail(p, "", "file.readable", what="CSV", detail=str(exc).strip()) from exc
    df.columns = [c.strip() for c in df.columns]
    columns = {c: [_clean(v) for v in df[c].tolist()] for c in df.columns}
    items = [f"row {i + 2}" for i in range(len(df))]  # line numbers: header is row 1
    xcol = _find(list(df.columns), x, LON_NAMES)
    ycol = _find(list(df.columns), y, LAT_NAMES)
    if xcol is None or ycol is None or xcol not in df.columns or ycol not in df.columns:
        if require_geometry:
            raise fail(p, "", "table.columns", missing=[c for c in (x or "x/lon", y or "y/lat")
                                                        if c not in df.columns],
                       found=list(df.columns))
        return FeatureTable(p, columns, [None] * len(df), items, None)
    if crs:
        src_crs = require_earth_crs(crs, p)
    elif _geo_name(xcol) or _geo_name(ycol):
        src_crs = WGS84
        log.info("%s: coordinates %s/%s read as longitude/latitude (EPSG:4326); use --crs if "
                 "they are not", p.name, xcol, ycol)
    else:
        raise fail(p, "", "crs.present")
    issues: list[Issue] = []
    geoms = []
    for i, (xs, ys) in enumerate(zip(columns[xcol], columns[ycol], strict=False)):
        try:
            gx, gy = float(xs), float(ys)
            if not (math.isfinite(gx) and math.isfinite(gy)):
                raise ValueError
            geoms.append(shapely.Point(gx, gy))
        except (TypeError, ValueError):
            geoms.append(None)
            bad, col = (xs, xcol) if not _is_number(xs) else (ys, ycol)
            rule = "value.required" if bad is None else "value.type"
            issues.append(issue(p, items[i], rule, column=col, value=bad, type="coordinate",
                                record={xcol: xs, ycol: ys}))
    if src_crs.is_geographic:
        for i, g in enumerate(geoms):
            if g is not None and not (-180 <= g.x <= 180 and -90 <= g.y <= 90):
                issues.append(issue(p, items[i], "value.range", column=f"{xcol}/{ycol}",
                                    value=f"({g.x}, {g.y})", range="longitude ±180, latitude ±90"))
                geoms[i] = None
    table = FeatureTable(p, columns, _to_wgs84(geoms, src_crs), items, src_crs, issues)
    return table


def _geo_name(column: str) -> bool:
    return unicodedata.normalize("NFKC", column).strip().casefold() in GEOGRAPHIC_NAMES


def _is_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _to_wgs84(geoms: list, src: CRS) -> list:
    if src == WGS84 or src.equals(WGS84, ignore_axis_order=True):
        return geoms
    t = Transformer.from_crs(src, WGS84, always_xy=True)
    out = []
    for g in geoms:
        if g is None:
            out.append(None)
            continue
        out.append(shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0],
                                                                               xy[:, 1]))))
    return out


def require_columns(table: FeatureTable, required: list[str]) -> None:
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise LoadError(issue(table.path, "", "table.columns", missing=missing,
                              found=list(table.columns)))


def check_geometry(table: FeatureTable, i: int, allowed: tuple[str, ...], repair: bool,
                   ) -> tuple[object | None, list[Issue]]:
    """Validate (and optionally repair) geometry ``i``; returns (geometry or None, issues)."""
    g = table.geoms[i]
    item = table.items[i]
    if g is None or g.is_empty:
        return None, [issue(table.path, item, "geometry.present")]
    if g.geom_type not in allowed:
        return None, [issue(table.path, item, "geometry.type", gtype=g.geom_type,
                            expected=" or ".join(allowed))]
    if not g.is_valid:
        reason = shapely.is_valid_reason(g)
        if not repair:
            return None, [issue(table.path, item, "geometry.valid", reason=reason,
                                record={"wkt": g.wkt[:2000]})]
        fixed = shapely.make_valid(g)
        if fixed.geom_type == "GeometryCollection":
            fixed = shapely.union_all([p for p in fixed.geoms
                                       if p.geom_type in ("Polygon", "MultiPolygon")])
        if fixed.is_empty or fixed.geom_type not in allowed:
            return None, [issue(table.path, item, "geometry.valid", reason=reason,
                                record={"wkt": g.wkt[:2000]})]
        return fixed, [issue(table.path, item, "geometry.repaired", severity="warning",
                             reason=reason)]
    return g, []
