"""The PostGIS raster WKB codec: the one Python reader and writer of in-database rasters.

The loader writes its tiles with :func:`encode` (through :func:`raster_wkb`), the report and the
exports read tiles back with :func:`decode` / :func:`decode_band`. Pure numpy and ``struct``: no
database imports.

The format (PostGIS ``raster/doc/RFC2-WellKnownBinaryFormat``), as ``raster::bytea`` and
``ST_AsBinary`` give it and ``ST_RastFromWKB`` / ``raster_in`` (as hex) read it::

    header (61 bytes): endian (1 = little) u8, version u16 (0), band count u16,
                       scale x, scale y, upper-left x, upper-left y, skew x, skew y  (6 x f64),
                       SRID i32, width u16, height u16
    each band:         flags u8 (pixel type in the low 4 bits, 0x80 out-of-database,
                       0x40 has a nodata value, 0x20 every pixel is nodata),
                       the nodata value (in the pixel type), width x height pixels (row-major)

Only little-endian, in-database bands are read or written (what PostGIS produces on every
platform ecorest runs on). The PL/Python kernels of ``sql/030_kernels.sql`` carry their own copy
of the decoder (they run inside the server, where this package is not installed); it mirrors
this module and ``tests/test_wkb.py`` checks that both agree with PostGIS and with each other.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: PostGIS pixel types: name -> (WKB code, little-endian numpy dtype). Sub-byte types (1BB,
#: 2BUI, 4BUI) take one byte a pixel in WKB.
PIXEL_TYPES: dict[str, tuple[int, np.dtype]] = {
    "1BB": (0, np.dtype("u1")), "2BUI": (1, np.dtype("u1")), "4BUI": (2, np.dtype("u1")),
    "8BSI": (3, np.dtype("i1")), "8BUI": (4, np.dtype("u1")),
    "16BSI": (5, np.dtype("<i2")), "16BUI": (6, np.dtype("<u2")),
    "32BSI": (7, np.dtype("<i4")), "32BUI": (8, np.dtype("<u4")),
    "32BF": (10, np.dtype("<f4")), "64BF": (11, np.dtype("<f8")),
}
#: WKB code -> pixel type name
PIXEL_TYPE_NAMES = {code: name for name, (code, _) in PIXEL_TYPES.items()}

HEADER = struct.Struct("<BHHddddddiHH")  # 61 bytes
FLAG_OFFLINE = 0x80
FLAG_HAS_NODATA = 0x40
FLAG_IS_NODATA = 0x20


@dataclass(frozen=True)
class GeoTransform:
    """Where a raster lies: upper-left corner, pixel scale (``scale_y`` is negative for
    north-up rasters) and skew, in the units of its SRID."""

    ulx: float
    uly: float
    scale_x: float
    scale_y: float
    skew_x: float = 0.0
    skew_y: float = 0.0

    @classmethod
    def north_up(cls, ulx: float, uly: float, pixel_size: float) -> GeoTransform:
        """Square pixels, no skew."""
        return cls(ulx, uly, pixel_size, -pixel_size)


@dataclass(frozen=True)
class Header:
    """The raster-wide part of a WKB raster."""

    bands: int
    geo: GeoTransform
    srid: int
    width: int
    height: int


@dataclass(frozen=True)
class Band:
    """One decoded band: its pixels in their stored type (a read-only view of the WKB), which
    pixels hold data, its pixel type and nodata value (None when it has none), and the raster's
    header."""

    values: np.ndarray
    valid: np.ndarray
    pixel_type: str
    nodata: float | None
    header: Header

    def as_float(self) -> np.ndarray:
        """The pixels as float64 with NaN where there is no data."""
        out = self.values.astype(np.float64)
        out[~self.valid] = np.nan
        return out


# ------------------------------------------------------------------------------------------------
# encode
# ------------------------------------------------------------------------------------------------
def encode(bands: Sequence[np.ndarray], pixel_type: str | Sequence[str],
           nodata: float | None | Sequence[float | None], geo: GeoTransform,
           srid: int) -> bytes:
    """A raster in little-endian WKB from 2-D arrays of equal shape (one per band).

    ``pixel_type`` and ``nodata`` are one value for every band or one per band; ``nodata=None``
    writes a band without a nodata value. Pixels are cast to the pixel type as numpy casts
    (out-of-range values are the caller's to prevent).
    """
    if not bands:
        raise ValueError("a raster needs at least one band")
    n = len(bands)
    types = [pixel_type] * n if isinstance(pixel_type, str) else list(pixel_type)
    nodatas = list(nodata) if isinstance(nodata, Sequence) else [nodata] * n
    if len(types) != n or len(nodatas) != n:
        raise ValueError(f"{n} band(s) but {len(types)} pixel type(s) and {len(nodatas)} "
                         "nodata value(s)")
    shape = np.shape(bands[0])
    if len(shape) != 2 or not (0 <= shape[0] <= 0xFFFF and 0 <= shape[1] <= 0xFFFF):
        raise ValueError(f"band arrays must be 2-D and at most 65535 px a side, not {shape}")
    height, width = shape
    parts = [HEADER.pack(1, 0, n, geo.scale_x, geo.scale_y, geo.ulx, geo.uly, geo.skew_x,
                         geo.skew_y, srid, width, height)]
    for i, (data, name, nd) in enumerate(zip(bands, types, nodatas, strict=True)):
        if np.shape(data) != shape:
            raise ValueError(f"band {i + 1} has shape {np.shape(data)}, band 1 {shape}")
        if name not in PIXEL_TYPES:
            raise ValueError(f"unknown pixel type {name!r}: use one of {', '.join(PIXEL_TYPES)}")
        code, dtype = PIXEL_TYPES[name]
        flags = code | (FLAG_HAS_NODATA if nd is not None else 0)
        parts += [struct.pack("<B", flags),
                  np.array([0 if nd is None else nd], dtype=dtype).tobytes(),
                  np.ascontiguousarray(data, dtype=dtype).tobytes()]
    return b"".join(parts)


def raster_wkb(data: np.ndarray, pixel_type: str, nodata: float, ulx: float, uly: float,
               pixel_size: float, srid: int) -> bytes:
    """One-band north-up raster with square pixels and a nodata value (the loader's tiles)."""
    return encode([data], pixel_type, nodata, GeoTransform.north_up(ulx, uly, pixel_size), srid)


# ------------------------------------------------------------------------------------------------
# decode
# ------------------------------------------------------------------------------------------------
def read_header(wkb: bytes) -> Header:
    """The header of a WKB raster (ValueError when it is not one ecorest can read)."""
    if len(wkb) < HEADER.size:
        raise ValueError(f"raster WKB is {len(wkb)} bytes, shorter than its 61-byte header")
    (endian, version, nbands, sx, sy, ulx, uly, kx, ky, srid, width,
     height) = HEADER.unpack_from(wkb, 0)
    if endian != 1:
        raise ValueError("only little-endian raster WKB is supported")
    if version != 0:
        raise ValueError(f"unknown raster WKB version {version}")
    return Header(nbands, GeoTransform(ulx, uly, sx, sy, kx, ky), srid, width, height)


def decode(wkb: bytes | bytearray | memoryview, band: int = 1) -> Band:
    """Band ``band`` (1-based) of a WKB raster.

    A pixel is valid unless the band is flagged all-nodata, or it has a nodata value and the
    pixel equals it (or, for float bands, is NaN).
    """
    wkb = bytes(wkb)
    head = read_header(wkb)
    if not 1 <= band <= head.bands:
        raise ValueError(f"raster has {head.bands} band(s); band {band} does not exist")
    count = head.width * head.height
    off = HEADER.size
    for i in range(1, head.bands + 1):
        flags = wkb[off]
        if flags & FLAG_OFFLINE:
            raise ValueError("out-of-database raster bands are not supported")
        name = PIXEL_TYPE_NAMES.get(flags & 0x0F)
        if name is None:
            raise ValueError(f"unknown pixel type code {flags & 0x0F} in band {i}")
        dtype = PIXEL_TYPES[name][1]
        start = off + 1 + dtype.itemsize
        end = start + count * dtype.itemsize
        if end > len(wkb):
            raise ValueError(f"raster WKB is truncated in band {i}")
        if i == band:
            nodata = np.frombuffer(wkb, dtype=dtype, count=1, offset=off + 1)[0]
            values = np.frombuffer(wkb, dtype=dtype, count=count,
                                   offset=start).reshape(head.height, head.width)
            if flags & FLAG_IS_NODATA:
                valid = np.zeros(values.shape, bool)
            elif flags & FLAG_HAS_NODATA:
                valid = values != nodata
                if dtype.kind == "f":
                    valid &= ~np.isnan(values)
            else:
                valid = np.ones(values.shape, bool)
            return Band(values, valid, name,
                        nodata.item() if flags & FLAG_HAS_NODATA else None, head)
        off = end
    raise AssertionError("unreachable")


def decode_band(wkb: bytes | bytearray | memoryview,
                band: int = 1) -> tuple[np.ndarray, GeoTransform]:
    """Band ``band`` of a WKB raster as float64 with NaN for no data, and its geotransform."""
    b = decode(wkb, band)
    return b.as_float(), b.header.geo
