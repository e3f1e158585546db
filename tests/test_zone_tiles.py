"""Zone sets rasterised onto the region grid by the zone loader (registry.zone_tiles).

The loader's tiles (rasterio, in the client) are checked pixel by pixel against PostGIS's own
rasterisation of the same zones on the same tiles (st_asraster, as raster.burn_tiles does in
the server), and the coverage against the zones' areas.
"""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from ecorest.etl.vector_loads import load_zones
from ecorest.wkb import decode
from helpers import WILLAMETTE, willamette_region


@pytest.fixture
def zoned(conn: psycopg.Connection) -> psycopg.Connection:
    willamette_region(conn)
    load_zones(conn, "willamette", WILLAMETTE / "subwatersheds.shp", zone_set="subwatershed",
               mapping={"zone_code": "subws_id"}, show_progress=False)
    return conn


def _postgis_burn(conn: psycopg.Connection, zone_set: str) -> dict[tuple[int, int], np.ndarray]:
    """PostGIS's burn of the set onto each stored tile's extent (pixel centres, MAX where
    zones overlap), placed on the whole tile: zone id per pixel, 0 outside."""
    rows = conn.execute(
        "select t.tile_x, t.tile_y, t.rast::bytea, "
        "  st_union(st_asraster(st_clipbybox2d(st_transform(z.geom, r.srid), "
        "                                      st_envelope(t.rast)), "
        "           t.rast, '32BSI', z.zone_id::double precision, 0, false), 'MAX')::bytea "
        "from registry.zone_tiles t join registry.regions r on r.region_id = t.region_id "
        "join registry.zones z on z.region_id = t.region_id and z.zone_set = t.zone_set "
        " and st_intersects(st_transform(z.geom, r.srid), st_envelope(t.rast)) "
        "where t.zone_set = %s group by 1, 2, 3", (zone_set,)).fetchall()
    out = {}
    for tx, ty, tile, burnt in rows:
        ref, got = decode(bytes(tile)), decode(bytes(burnt))
        G, g = ref.header.geo, got.header.geo
        full = np.zeros(ref.values.shape, np.int64)
        v = np.where(got.valid, got.values, 0)
        c0, r0 = round((g.ulx - G.ulx) / G.scale_x), round((g.uly - G.uly) / G.scale_y)
        rd, cd, rs, cs = max(0, r0), max(0, c0), max(0, -r0), max(0, -c0)
        nh = min(full.shape[0] - rd, v.shape[0] - rs)
        nw = min(full.shape[1] - cd, v.shape[1] - cs)
        full[rd:rd + nh, cd:cd + nw] = v[rs:rs + nh, cs:cs + nw]
        out[(tx, ty)] = full
    return out


def test_loaded_zone_tiles_equal_postgis_burn(zoned: psycopg.Connection) -> None:
    conn = zoned
    stored = {(tx, ty): decode(bytes(r)) for tx, ty, r in conn.execute(
        "select tile_x, tile_y, rast::bytea from registry.zone_tiles "
        "where zone_set = 'subwatershed'").fetchall()}
    assert len(stored) > 10
    postgis = _postgis_burn(conn, "subwatershed")
    assert set(postgis) == set(stored)          # a tile wherever a zone touches the grid
    t = conn.execute("select tile_size_px from registry.regions").fetchone()[0]
    differ = 0
    for key, band in stored.items():
        assert band.values.shape == (t, t)      # whole tiles, as the raster tiles
        ours = np.where(band.valid, band.values, 0).astype(np.int64)
        differ += int((ours != postgis[key]).sum())
    assert differ == 0
    # every zone is there, with about its area (pixel centres: within a few edge pixels)
    px_ha = conn.execute("select pixel_size_m ^ 2 / 1e4 from registry.regions").fetchone()[0]
    counts: dict[int, int] = {}
    for band in stored.values():
        ids, n = np.unique(band.values[band.valid], return_counts=True)
        for i, k in zip(ids.tolist(), n.tolist(), strict=True):
            counts[i] = counts.get(i, 0) + k
    areas = dict(conn.execute("select zone_id, area_ha from registry.zones").fetchall())
    assert set(counts) == set(areas)
    for zid, area in areas.items():
        assert counts[zid] * px_ha == pytest.approx(area, rel=0.01)


def test_zone_tiles_follow_their_load(zoned: psycopg.Connection) -> None:
    conn = zoned
    before = conn.execute("select count(*), min(load_id), max(load_id) from registry.zone_tiles"
                          ).fetchone()
    # the same file again: nothing changes
    assert load_zones(conn, "willamette", WILLAMETTE / "subwatersheds.shp",
                      zone_set="subwatershed", mapping={"zone_code": "subws_id"},
                      show_progress=False) == 0
    assert conn.execute("select count(*), min(load_id), max(load_id) from registry.zone_tiles"
                        ).fetchone() == before
    # another file for the set replaces its tiles, with the new zone ids; other sets stay
    load_zones(conn, "willamette", WILLAMETTE / "watersheds.shp", zone_set="watershed",
               mapping={"zone_code": "ws_id"}, show_progress=False)
    load_zones(conn, "willamette", WILLAMETTE / "watersheds.shp", zone_set="subwatershed",
               mapping={"zone_code": "ws_id"}, show_progress=False)
    rows = conn.execute(
        "select zone_set, count(*), count(distinct load_id) from registry.zone_tiles "
        "group by 1 order by 1").fetchall()
    assert [r[0] for r in rows] == ["subwatershed", "watershed"]
    assert all(r[2] == 1 for r in rows)
    ids = {s: set(v) for s, v in conn.execute(
        "select zone_set, array_agg(zone_id) from registry.zones group by 1").fetchall()}
    for zone_set in ("subwatershed", "watershed"):
        seen: set[int] = set()
        for (r,) in conn.execute("select rast::bytea from registry.zone_tiles "
                                 "where zone_set = %s", (zone_set,)).fetchall():
            band = decode(bytes(r))
            seen |= set(np.unique(band.values[band.valid]).tolist())
        assert seen == ids[zone_set]
    assert conn.execute("select count(*) from registry.zone_tiles where zone_set = "
                        "'subwatershed'").fetchone()[0] == rows[1][1]
