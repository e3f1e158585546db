"""The raster WKB codec (ecorest.wkb) against itself, against PostGIS, and the in-server
PL/Python copy of the decoder (sql/030_kernels.sql) against both."""

from __future__ import annotations

import struct
from collections import Counter

import numpy as np
import psycopg
import pytest

from ecorest import wkb
from ecorest.wkb import GeoTransform, decode, decode_band, encode, raster_wkb

#: every pixel type with a value range and a nodata value (None: no nodata)
TYPES = {
    "1BB": (0, 1, None), "2BUI": (0, 3, 3), "4BUI": (0, 15, 0), "8BSI": (-128, 127, -128),
    "8BUI": (0, 255, 255), "16BSI": (-32768, 32767, -32768), "16BUI": (0, 65535, 65535),
    "32BSI": (-2**31, 2**31 - 1, -2**31), "32BUI": (0, 2**32 - 1, 2**32 - 1),
    "32BF": (None, None, -9999.0), "64BF": (None, None, -1e300),
}
SHAPE = (5, 7)  # height, width: not square, so rows and columns cannot be swapped unnoticed
GEO = GeoTransform(ulx=500_000.5, uly=4_200_000.25, scale_x=30.0, scale_y=-25.0, skew_x=0.5,
                   skew_y=-0.25)
SRID = 32650


def sample(pixel_type: str, rng: np.random.Generator, shape=SHAPE) -> np.ndarray:
    """Random pixels of a type (float types: float32 / float64), about a fifth set to nodata."""
    lo, hi, nodata = TYPES[pixel_type]
    dtype = wkb.PIXEL_TYPES[pixel_type][1]
    if lo is None:
        a = (rng.normal(size=shape) * 1000).astype(dtype)
    else:
        a = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64).astype(dtype)
    if nodata is not None:
        a[rng.random(shape) < 0.2] = nodata
        a[0, 0] = nodata
        a[-1, -1] = dtype.type(lo if lo is not None and lo != nodata else 1)
    return a


def expected_valid(a: np.ndarray, nodata) -> np.ndarray:
    return np.ones(a.shape, bool) if nodata is None else a != nodata


# ------------------------------------------------------------------------------------------------
# round trips
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pixel_type", list(TYPES))
def test_round_trip_every_pixel_type(pixel_type: str) -> None:
    rng = np.random.default_rng(sum(map(ord, pixel_type)))
    a = sample(pixel_type, rng)
    nodata = TYPES[pixel_type][2]
    raw = encode([a], pixel_type, nodata, GEO, SRID)
    itemsize = wkb.PIXEL_TYPES[pixel_type][1].itemsize
    assert len(raw) == 61 + 1 + itemsize + a.size * itemsize
    b = decode(raw)
    assert b.pixel_type == pixel_type
    assert b.nodata == nodata
    assert b.values.dtype == wkb.PIXEL_TYPES[pixel_type][1]
    assert b.values.shape == SHAPE
    np.testing.assert_array_equal(b.values, a)
    np.testing.assert_array_equal(b.valid, expected_valid(a, nodata))
    f = b.as_float()
    assert np.isnan(f[~b.valid]).all()
    np.testing.assert_array_equal(f[b.valid], a[b.valid].astype(np.float64))
    assert b.header == wkb.Header(1, GEO, SRID, SHAPE[1], SHAPE[0])


def test_nodata_flag() -> None:
    a = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    # without a nodata value every pixel is data, whatever its value
    b = decode(encode([a], "8BUI", None, GEO, SRID))
    assert b.nodata is None and b.valid.all()
    raw = bytearray(encode([a], "8BUI", 2, GEO, SRID))
    assert raw[61] == 4 | 0x40  # pixel type 8BUI, has a nodata value
    b = decode(raw)
    assert b.nodata == 2
    assert b.valid.tolist() == [[True, True, False], [False, True, True]]
    raw[61] |= 0x20  # the band is flagged "all nodata"
    assert not decode(raw).valid.any()
    # float bands: NaN pixels count as no data too (nodata flag set)
    f = np.array([[1.5, np.nan], [-9999.0, 0.0]], np.float32)
    b = decode(encode([f], "32BF", -9999, GEO, SRID))
    assert b.valid.tolist() == [[True, False], [False, True]]
    assert np.isnan(b.as_float()).tolist() == [[False, True], [True, False]]


def test_multi_band_decode_band_n() -> None:
    rng = np.random.default_rng(7)
    types = list(TYPES)
    arrays = [sample(t, rng) for t in types]
    nodatas = [TYPES[t][2] for t in types]
    raw = encode(arrays, types, nodatas, GEO, SRID)
    assert wkb.read_header(raw).bands == len(types)
    for n in (len(types), 3, 1, 6):  # any order: every band is found by walking the others
        b = decode(raw, n)
        assert b.pixel_type == types[n - 1] and b.nodata == nodatas[n - 1]
        np.testing.assert_array_equal(b.values, arrays[n - 1])
        np.testing.assert_array_equal(b.valid, expected_valid(arrays[n - 1], nodatas[n - 1]))
    values, geo = decode_band(raw, 5)
    assert geo == GEO and values.dtype == np.float64
    with pytest.raises(ValueError, match="band 12 does not exist"):
        decode(raw, len(types) + 1)
    with pytest.raises(ValueError, match="band 0 does not exist"):
        decode(raw, 0)


def test_geotransform_and_header_bytes() -> None:
    raw = encode([np.zeros((3, 2), np.int16)], "16BSI", -1, GEO, SRID)
    # the fields in the order of the PostGIS WKB specification, at their offsets
    assert struct.unpack_from("<BHH", raw, 0) == (1, 0, 1)
    assert struct.unpack_from("<dddddd", raw, 5) == (30.0, -25.0, 500_000.5, 4_200_000.25, 0.5,
                                                     -0.25)
    assert struct.unpack_from("<iHH", raw, 53) == (SRID, 2, 3)
    assert decode(raw).header.geo == GEO
    loader = raster_wkb(np.zeros((3, 2), np.int16), "16BSI", -1, 100.0, 200.0, 30.0, 5070)
    assert decode(loader).header == wkb.Header(1, GeoTransform(100.0, 200.0, 30.0, -30.0), 5070,
                                               2, 3)


def test_loader_uses_this_encoder() -> None:
    from ecorest.etl import rasters

    assert rasters.raster_wkb is raster_wkb


def test_rejects_what_it_cannot_read() -> None:
    raw = encode([np.zeros((2, 2), np.uint8)], "8BUI", 0, GEO, SRID)
    with pytest.raises(ValueError, match="little-endian"):
        decode(b"\x00" + raw[1:])
    with pytest.raises(ValueError, match="out-of-database"):
        decode(raw[:61] + bytes([raw[61] | 0x80]) + raw[62:])
    with pytest.raises(ValueError, match="truncated"):
        decode(raw[:-1])
    with pytest.raises(ValueError, match="header"):
        decode(raw[:40])
    with pytest.raises(ValueError, match="unknown pixel type"):
        encode([np.zeros((2, 2))], "16BF", None, GEO, SRID)
    with pytest.raises(ValueError, match="shape"):
        encode([np.zeros((2, 2)), np.zeros((2, 3))], "8BUI", None, GEO, SRID)


# ------------------------------------------------------------------------------------------------
# against PostGIS
# ------------------------------------------------------------------------------------------------
def postgis_raster(conn: psycopg.Connection, bands: list[tuple[str, object, np.ndarray]],
                   geo: GeoTransform = GEO, srid: int = SRID) -> bytes:
    """A raster made by PostGIS (ST_MakeEmptyRaster, ST_AddBand, ST_SetValues), as its WKB."""
    h, w = bands[0][2].shape
    expr = "st_makeemptyraster(%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    params: list = [w, h, geo.ulx, geo.uly, geo.scale_x, geo.scale_y, geo.skew_x, geo.skew_y,
                    srid]
    for n, (pixel_type, nodata, values) in enumerate(bands, 1):
        expr = (f"st_setvalues(st_addband({expr}, %s::text, 0::float8, %s::float8), {n}, 1, 1, "
                "%s::float8[])")
        params += [pixel_type, nodata, values.astype(np.float64).tolist()]
    return conn.execute(f"select ({expr})::bytea", params).fetchone()[0]


def postgis_view(conn: psycopg.Connection, raw: bytes, band: int) -> tuple:
    """What PostGIS reads from a WKB: header, the band's type and nodata value, its values
    (None for no data) and two pixels through ST_Value."""
    return conn.execute(
        "select st_upperleftx(r), st_upperlefty(r), st_scalex(r), st_scaley(r), st_skewx(r), "
        "st_skewy(r), st_srid(r), st_width(r), st_height(r), st_numbands(r), "
        "st_bandpixeltype(r, %s), st_bandnodatavalue(r, %s), st_dumpvalues(r, %s), "
        "st_value(r, %s, 2, 1), st_value(r, %s, st_width(r), st_height(r)) "
        "from (select st_rastfromwkb(%s) r) s", (band, band, band, band, band, raw)).fetchone()


def assert_matches_postgis(conn, raw: bytes, bands: list[tuple[str, object, np.ndarray]]) -> None:
    for n, (pixel_type, nodata, values) in enumerate(bands, 1):
        view = postgis_view(conn, raw, n)
        geo = decode(raw, n).header.geo
        b = decode(raw, n)
        assert view[:10] == (geo.ulx, geo.uly, geo.scale_x, geo.scale_y, geo.skew_x, geo.skew_y,
                             b.header.srid, b.header.width, b.header.height, b.header.bands)
        assert (view[10], view[11]) == (pixel_type, nodata) == (b.pixel_type, b.nodata)
        dumped = np.array([[np.nan if v is None else v for v in row] for row in view[12]])
        # PostGIS: None = nodata; ecorest.wkb: valid = False
        np.testing.assert_array_equal(~np.isnan(dumped), b.valid, err_msg=f"band {n}")
        np.testing.assert_array_equal(dumped[b.valid], b.values[b.valid].astype(np.float64),
                                      err_msg=f"band {n}")
        np.testing.assert_array_equal(b.values, values.astype(b.values.dtype))
        f = b.as_float()
        for got, (r, c) in zip(view[13:], [(0, 1), (-1, -1)], strict=True):
            assert (got is None and np.isnan(f[r, c])) or got == f[r, c]


def test_decoder_reads_what_postgis_writes(conn: psycopg.Connection) -> None:
    """A raster with one band of every pixel type, built by PostGIS: every band decoded by
    ecorest.wkb equals ST_DumpValues / ST_Value, and the header ST_Metadata's fields."""
    rng = np.random.default_rng(11)
    bands = [(t, TYPES[t][2], sample(t, rng)) for t in TYPES]
    raw = postgis_raster(conn, bands)
    assert_matches_postgis(conn, raw, bands)


def test_decoder_flags_postgis_sets(conn: psycopg.Connection) -> None:
    # ST_SetBandIsNoData flags the band "all nodata": PostGIS then reads no value at all
    raw = conn.execute("select st_setbandisnodata(st_addband(st_makeemptyraster(3, 2, 0, 0, 1, "
                       "-1, 0, 0, 0), '8BUI'::text, 5::float8, 9::float8), 1)::bytea").fetchone()[0]
    assert raw[61] & 0x20
    dumped = conn.execute("select st_dumpvalues(st_rastfromwkb(%s), 1)", (raw,)).fetchone()[0]
    assert dumped == [[None] * 3] * 2
    b = decode(raw)
    assert not b.valid.any() and b.values.tolist() == [[5] * 3] * 2
    # NaN pixels of a float band with a nodata value: PostGIS reads them as NaN values, the
    # codecs as no data (documented); both give NaN in float output
    f = np.array([[np.nan, 1.5, -9999.0]], np.float32)
    raw = postgis_raster(conn, [("32BF", -9999.0, f)])
    dumped = conn.execute("select st_dumpvalues(st_rastfromwkb(%s), 1)", (raw,)).fetchone()[0]
    assert np.isnan(dumped[0][0]) and dumped[0][1:] == [1.5, None]
    assert decode(raw).valid.tolist() == [[False, True, False]]


def test_postgis_reads_what_encoder_writes(conn: psycopg.Connection) -> None:
    rng = np.random.default_rng(12)
    bands = [(t, TYPES[t][2], sample(t, rng)) for t in reversed(TYPES)]
    raw = encode([a for _, _, a in bands], [t for t, _, _ in bands],
                 [nd for _, nd, _ in bands], GEO, SRID)
    assert_matches_postgis(conn, raw, bands)
    # PostGIS writes exactly the bytes it read: the encoding is canonical
    assert conn.execute("select st_rastfromwkb(%s)::bytea", (raw,)).fetchone()[0] == raw
    # and the loader's form, as hex text through raster_in (how the tiles are COPYed)
    tile = sample("16BSI", rng, (4, 3))
    hexed = raster_wkb(tile, "16BSI", -32768, 100.0, 200.0, 30.0, 5070).hex()
    row = conn.execute("select (st_metadata(r)).*, st_bandpixeltype(r, 1), st_dumpvalues(r, 1) "
                       "from (select %s::raster r) s", (hexed,)).fetchone()
    assert row[:11] == (100.0, 200.0, 3, 4, 30.0, -30.0, 0.0, 0.0, 5070, 1, "16BSI")
    assert row[11] == [[None if v == -32768 else float(v) for v in r] for r in tile.tolist()]


# ------------------------------------------------------------------------------------------------
# the in-server copy (sql/030_kernels.sql)
# ------------------------------------------------------------------------------------------------
SERVER_DECODE = """
create function pg_temp.server_decode(wkb bytea, band integer)
returns table (ulx double precision, uly double precision, scale_x double precision,
               scale_y double precision, vals double precision[])
language plpython3u as $$
if 'ecorest_decode' not in GD:
    plpy.execute('select raster.np_kernels_loaded()')
v, m, g = GD['ecorest_decode'](wkb, band, with_geo=True)
return [(g[2], g[3], g[0], g[1],
         [float(x) if ok else None for x, ok in zip(v.ravel().tolist(), m.ravel().tolist())])]
$$"""


def test_in_server_decoder_agrees(conn: psycopg.Connection) -> None:
    """The kernels' decode() (through a test-only wrapper) gives the values and validity of
    ecorest.wkb for every band of a PostGIS-made and of an ecorest-encoded raster."""
    conn.execute(SERVER_DECODE)
    rng = np.random.default_rng(13)
    bands = [(t, TYPES[t][2], sample(t, rng)) for t in TYPES]
    made = {"postgis": postgis_raster(conn, bands),
            "ecorest.wkb": encode([a for *_, a in bands], list(TYPES),
                                  [nd for _, nd, _ in bands], GEO, SRID)}
    for source, raw in made.items():
        for n in range(1, len(bands) + 1):
            ulx, uly, sx, sy, vals = conn.execute("select * from pg_temp.server_decode(%s, %s)",
                                                  (raw, n)).fetchone()
            b = decode(raw, n)
            assert (ulx, uly, sx, sy) == (GEO.ulx, GEO.uly, GEO.scale_x, GEO.scale_y)
            server = np.array([np.nan if v is None else v for v in vals]).reshape(SHAPE)
            np.testing.assert_array_equal(~np.isnan(server), b.valid, err_msg=f"{source} {n}")
            np.testing.assert_array_equal(server[b.valid], b.values[b.valid].astype(np.float64),
                                          err_msg=f"{source} {n}")


def test_crosstab_kernel_agrees(conn: psycopg.Connection) -> None:
    """raster.crosstab decodes a, b and a zone raster (placed onto the tile) in the server; its
    counts equal those of the arrays the rasters were made from, whether PostGIS or
    ecorest.wkb wrote them, and ST_ValueCount's."""
    rng = np.random.default_rng(14)
    h, w = SHAPE
    a = rng.integers(0, 6, SHAPE).astype(np.uint16) * 1000
    a[rng.random(SHAPE) < 0.2] = 65535
    b = rng.integers(0, 4, SHAPE).astype(np.uint8)
    b[rng.random(SHAPE) < 0.2] = 255
    # the zone raster starts a row above the tile and 3 columns in, and runs past its right edge
    z = rng.integers(1, 4, (3, w)).astype(np.int32)
    z[0, 4] = 0
    zgeo = GeoTransform(GEO.ulx + 3 * GEO.scale_x, GEO.uly - GEO.scale_y, GEO.scale_x,
                        GEO.scale_y)
    placed = np.zeros(SHAPE, np.int64)
    for r in range(h):
        for c in range(w):
            zr, zc = r + 1, c - 3
            if 0 <= zr < z.shape[0] and 0 <= zc < z.shape[1] and z[zr, zc] != 0:
                placed[r, c] = z[zr, zc]
    ok = (a != 65535) & (b != 255)
    expected = Counter(zip(placed[ok].tolist(), a[ok].tolist(), b[ok].tolist(), strict=True))
    north_up = GeoTransform(GEO.ulx, GEO.uly, GEO.scale_x, GEO.scale_y)
    made = {
        "postgis": [postgis_raster(conn, [("32BSI", 0, z)], zgeo),
                    postgis_raster(conn, [("16BUI", 65535, a)], north_up),
                    postgis_raster(conn, [("8BUI", 255, b)], north_up)],
        "ecorest.wkb": [encode([z], "32BSI", 0, zgeo, SRID),
                        encode([a], "16BUI", 65535, north_up, SRID),
                        encode([b], "8BUI", 255, north_up, SRID)],
    }
    for source, (zr_, ar, br) in made.items():
        got = conn.execute("select zone_id, v1, v2, pixels from raster.crosstab(%s, %s, %s)",
                           (zr_, ar, br)).fetchall()
        assert Counter({(zn, v1, v2): n for zn, v1, v2, n in got}) == expected, source
        single = dict(conn.execute("select v1, pixels from raster.crosstab(null, %s, null)",
                                   (ar,)).fetchall())
        postgis = dict(conn.execute("select (vc).value::int, (vc).count from (select "
                                    "st_valuecount(st_rastfromwkb(%s), 1) vc) s",
                                    (ar,)).fetchall())
        assert single == postgis == dict(Counter(a[a != 65535].tolist())), source


def test_lookup_kernel_agrees(conn: psycopg.Connection) -> None:
    """raster.np_lookup decodes a tile in the server and writes a 32BF tile on its grid: read
    back by ecorest.wkb and by PostGIS it holds the looked-up values of the source array."""
    rng = np.random.default_rng(15)
    codes = rng.integers(1, 9, SHAPE).astype(np.uint8)
    codes[rng.random(SHAPE) < 0.2] = 255
    table = {1: 10.5, 2: 20.25, 3: 0.0, 5: -4.0, 8: 80.0}  # 4, 6, 7 have no value
    expected = np.array([[table.get(int(c), np.nan) if c != 255 else np.nan for c in row]
                         for row in codes])
    north_up = GeoTransform(GEO.ulx, GEO.uly, GEO.scale_x, GEO.scale_y)
    for raw in (encode([codes], "8BUI", 255, north_up, SRID),
                postgis_raster(conn, [("8BUI", 255.0, codes)], north_up)):
        out = conn.execute("select raster.np_lookup(%s, %s::integer[], %s::float8[], -9999)",
                           (raw, list(table), list(table.values()))).fetchone()[0]
        b = decode(out)
        assert b.pixel_type == "32BF" and b.nodata == -9999.0
        assert b.header == wkb.Header(1, north_up, SRID, SHAPE[1], SHAPE[0])
        np.testing.assert_array_equal(b.as_float(), expected)
        dumped = conn.execute("select st_dumpvalues(st_rastfromwkb(%s), 1)", (out,)).fetchone()[0]
        np.testing.assert_array_equal(
            np.array([[np.nan if v is None else v for v in row] for row in dumped]), expected)
