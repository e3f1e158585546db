"""The land-cover trajectory kernels (raster.trajectories, raster.zone_trajectories) against a
plain Python count of the same pixels: every pixel's class at every epoch (None where invalid),
per zone of each zone set, pixels invalid at every epoch left out."""

from __future__ import annotations

from collections import Counter

import numpy as np
import psycopg
import pytest

from ecorest.wkb import GeoTransform, encode

T = 64
PX = 30.0
GEO = GeoTransform.north_up(500_000.0, 4_000_000.0, PX)


def tile(values: np.ndarray, pixel_type: str, nodata, geo: GeoTransform = GEO) -> bytes:
    return encode([values], pixel_type, nodata, geo, 0)


def epochs(rng: np.random.Generator, codes: list[int], n: int, pixel_type: str, nodata):
    out, arrays = [], []
    for _ in range(n):
        a = rng.choice(codes, size=(T, T)).astype(np.int64)
        a[rng.random((T, T)) < 0.1] = nodata          # invalid pixels
        a[:8, :8] = nodata                              # invalid at every epoch
        arrays.append(a)
        out.append(tile(a, pixel_type, nodata))
    return out, arrays


def expected(arrays: list[np.ndarray | None], nodata, zones: np.ndarray) -> Counter:
    c: Counter = Counter()
    for r in range(T):
        for k in range(T):
            cls = tuple(None if a is None or a[r, k] == nodata else int(a[r, k])
                        for a in arrays)
            if all(x is None for x in cls):
                continue
            c[(int(zones[r, k]), cls)] += 1
    return c


def zone_raster(ids: np.ndarray, rows: slice, cols: slice,
                pixel_type: str = "16BUI") -> tuple[bytes, np.ndarray]:
    """A zone raster covering part of the tile (rows, cols), 0 = no zone; and its placement on
    the whole tile."""
    part = ids[rows, cols]
    geo = GeoTransform.north_up(GEO.ulx + cols.start * PX, GEO.uly - rows.start * PX, PX)
    full = np.zeros((T, T), np.int64)
    full[rows, cols] = part
    return tile(part, pixel_type, 0, geo), full


@pytest.mark.parametrize("codes,pixel_type,nodata,n", [
    ([11, 21, 41, 42, 52, 81, 90], "8BUI", 255, 3),        # a legend's codes, three epochs
    ([0, 1, 65000, 30000, 12], "16BUI", 65535, 5),           # wide codes: the sorted fallback
])
def test_trajectories_equal_a_plain_count(conn: psycopg.Connection, codes, pixel_type, nodata,
                                          n) -> None:
    rng = np.random.default_rng(7)
    tiles, arrays = epochs(rng, codes, n, pixel_type, nodata)
    # an epoch without a tile at this position
    tiles[1] = None
    arrays[1] = None
    ids_a = rng.choice([0, 3, 8], size=(T, T))
    ids_b = rng.choice([0, 200, 300, 301], size=(T, T))
    za, full_a = zone_raster(ids_a, slice(0, 40), slice(10, 64))
    zb, full_b = zone_raster(ids_b, slice(5, 64), slice(0, 64))

    # one zone raster, and none (the whole tile as zone 0)
    got = Counter({(z, tuple(c)): p for z, c, p in conn.execute(
        "select zone_id, classes, pixels from raster.trajectories(%s, %s)",
        (za, tiles)).fetchall()})
    assert got == expected(arrays, nodata, full_a)
    got0 = Counter({(z, tuple(c)): p for z, c, p in conn.execute(
        "select zone_id, classes, pixels from raster.trajectories(null, %s)",
        (tiles,)).fetchall()})
    assert got0 == expected(arrays, nodata, np.zeros((T, T), np.int64))

    # two zone sets at once (a set without a zone raster on this tile gives no rows)
    rows = conn.execute(
        "select zone_no, zone_id, classes, pixels from raster.zone_trajectories(%s, %s)",
        ([za, None, zb], tiles)).fetchall()
    by_no: dict[int, Counter] = {}
    for no, z, c, p in rows:
        by_no.setdefault(no, Counter())[(z, tuple(c))] = p
    assert set(by_no) == {0, 1, 3}
    assert by_no[0] == got0
    for no, full in ((1, full_a), (3, full_b)):
        want = Counter({k: v for k, v in expected(arrays, nodata, full).items() if k[0] != 0})
        assert by_no[no] == want


def test_no_valid_pixel_gives_no_rows(conn: psycopg.Connection) -> None:
    empty = tile(np.full((T, T), 255), "8BUI", 255)
    assert conn.execute("select count(*) from raster.zone_trajectories(null, %s)",
                        ([empty, None, empty],)).fetchone()[0] == 0
    assert conn.execute("select count(*) from raster.trajectories(null, %s)",
                        ([None, empty],)).fetchone()[0] == 0


def test_zone_sets_with_large_ids(conn: psycopg.Connection) -> None:
    # zone ids over a range whose product for three sets passes 2^40: the joint zones are
    # numbered on the way (kernels' joint_zones), each set's counts stay its own
    rng = np.random.default_rng(3)
    tiles, arrays = epochs(rng, [1, 2, 3], 2, "8BUI", 255)
    sets = [rng.choice([0, 5, 2_000_000_000, 1_999_999_000], size=(T, T)),
            rng.choice([0, 7, 1_500_000_000], size=(T, T)),
            rng.choice([9, 1_000_000_000, 999_999_999], size=(T, T))]
    rasters = [zone_raster(ids, slice(0, T), slice(0, T), "32BSI") for ids in sets]
    rows = conn.execute(
        "select zone_no, zone_id, classes, pixels from raster.zone_trajectories(%s, %s)",
        ([r for r, _ in rasters], tiles)).fetchall()
    by_no: dict[int, Counter] = {}
    for no, z, c, p in rows:
        by_no.setdefault(no, Counter())[(z, tuple(c))] = p
    for no, (_, full) in enumerate(rasters, start=1):
        want = Counter({k: v for k, v in expected(arrays, 255, full).items() if k[0] != 0})
        assert by_no[no] == want
