"""raster.np_value_counts: the valid pixels per value of band 1 of a tile (sql/030_kernels.sql),
through which int_landcover_classes finds the land-cover classes present.

On the real land-cover tiles of the demo's Willamette sample its counts equal PostGIS's
ST_ValueCount and numpy's own count of the same tile decoded by ecorest.wkb; nodata is not
counted, an all-nodata tile gives no rows, and it runs in PostgreSQL's parallel workers with
the serial results."""

from __future__ import annotations

from collections import Counter

import numpy as np
import psycopg
import pytest
import rasterio

from ecorest.etl.legends import load_legend
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.wkb import GeoTransform, decode, encode, raster_wkb
from helpers import DERIVED, WILLAMETTE

#: the sample's two land-cover epochs
EPOCHS = (("lulc_samp_cur.tif", "2020"), ("lulc_samp_fut.tif", "2050"))


@pytest.fixture
def landcover(conn: psycopg.Connection) -> list[int]:
    """The Willamette sample's land cover ~1990 and its 2050 scenario, loaded as the demo loads
    them; returns their catalog ids."""
    create_region(conn, "willamette", DERIVED / "willamette_region.geojson",
                  align_to=str(WILLAMETTE / "lulc_samp_cur.tif"), allow_non_equal_area=True)
    load_legend(conn, "willamette", DERIVED / "willamette_legend.csv")
    for name, epoch in EPOCHS:
        load_raster(conn, "willamette", "landcover", WILLAMETTE / name, epoch=epoch,
                    scenario=True, legend="willamette", show_progress=False)
    ids = [r[0] for r in conn.execute("select catalog_id from raster.catalog "
                                      "where layer = 'landcover' order by epoch_label")]
    assert len(ids) == 2
    return ids


def numpy_counts(raw: bytes) -> Counter:
    """Valid pixels per value of band 1, counted by numpy on ecorest.wkb's decoding."""
    band = decode(raw)
    values, counts = np.unique(band.values[band.valid], return_counts=True)
    return Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))


def kernel_counts(conn: psycopg.Connection, raw: bytes | None) -> list[tuple[int, int]]:
    return conn.execute("select value, pixels from raster.np_value_counts(%s::bytea)",
                        (raw,)).fetchall()


def test_counts_of_real_tiles_equal_postgis_and_numpy(conn: psycopg.Connection,
                                                      landcover: list[int]) -> None:
    rows = conn.execute(
        "select t.catalog_id, t.tile_x, t.tile_y, t.rast::bytea, "
        "       (select coalesce(array_agg(array[(vc).value::bigint, (vc).count] "
        "                                  order by (vc).value), '{}') "
        "          from st_valuecount(t.rast, 1, true) as vc) "
        "from raster.tiles as t where t.catalog_id = any(%s) "
        "order by 1, 2, 3", (landcover,)).fetchall()
    assert {r[0] for r in rows} == set(landcover)
    nodata_tiles = 0
    totals = {cid: Counter() for cid in landcover}
    for cid, x, y, raw, postgis in rows:
        where = f"catalog entry {cid}, tile ({x}, {y})"
        band = decode(raw)
        assert band.pixel_type == "8BUI" and band.nodata == 255, where    # the file's own
        got = kernel_counts(conn, raw)
        # one row per value, in increasing order, no zero counts
        assert [v for v, _ in got] == sorted({v for v, _ in got}), where
        assert all(n > 0 for _, n in got), where
        assert Counter(dict(got)) == numpy_counts(raw), where
        assert [(int(v), int(n)) for v, n in postgis] == got, where
        # nodata is not a class: never counted, and the counts add up to the valid pixels
        assert 255 not in dict(got), where
        assert sum(n for _, n in got) == int(band.valid.sum()), where
        nodata_tiles += int(not band.valid.all())
        totals[cid].update(dict(got))
    # the tiles at the region's edges hold nodata: the exclusion was exercised
    assert nodata_tiles >= 4
    # summed over the tiles, the counts of each epoch are numpy's of the source file (the
    # region covers it, on its own grid): 56 classes ~1990, 52 in the 2050 scenario
    for cid, (name, _) in zip(landcover, EPOCHS, strict=True):
        with rasterio.open(WILLAMETTE / name) as src:
            a = src.read(1)
            values, counts = np.unique(a[a != src.nodata], return_counts=True)
        assert totals[cid] == Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))
    assert [len(totals[cid]) for cid in landcover] == [56, 52]


def test_all_nodata_and_null_tiles_give_no_rows(conn: psycopg.Connection) -> None:
    nodata = np.full((5, 7), 65535, np.uint16)
    # nodata by the nodata value of every pixel (ecorest.wkb), by PostGIS's all-nodata band
    # flag (ST_SetBandIsNoData), and a missing tile
    ours = raster_wkb(nodata, "16BUI", 65535, 500_000.0, 4_200_000.0, 30.0, 32610)
    theirs = conn.execute(
        "select st_setbandisnodata(st_addband(st_makeemptyraster(7, 5, 500000, 4200000, 30, "
        "-30, 0, 0, 32610), '16BUI'::text, 7, 65535), 1)::bytea").fetchone()[0]
    assert theirs[61] & 0x20                    # flagged all nodata, though its pixels are 7
    assert not decode(ours).valid.any() and not decode(theirs).valid.any()
    for raw in (ours, theirs, None):
        assert kernel_counts(conn, raw) == []
    # one valid pixel among nodata: counted alone
    one = nodata.copy()
    one[4, 6] = 0
    raw = raster_wkb(one, "16BUI", 65535, 500_000.0, 4_200_000.0, 30.0, 32610)
    assert kernel_counts(conn, raw) == [(0, 1)]


def test_values_beyond_a_bincount_and_bands_without_nodata(conn: psycopg.Connection) -> None:
    """Negative and large values take np.unique; a band without nodata counts every pixel;
    a float band is refused (a class is an integer)."""
    rng = np.random.default_rng(21)
    geo = GeoTransform.north_up(500_000.0, 4_200_000.0, 30.0)
    a = rng.choice([-70_000, -1, 0, 3, 1 << 20, 2_000_000_000, -2**31], size=(9, 11)).astype(
        np.int32)
    raw = encode([a], "32BSI", -2**31, geo, 32610)
    want = Counter(a[a != -2**31].tolist())
    assert -2**31 in a and len(want) == 6
    assert kernel_counts(conn, raw) == sorted(want.items())
    b = rng.integers(0, 4, size=(9, 11)).astype(np.uint8)
    raw = encode([b], "8BUI", None, geo, 32610)
    assert kernel_counts(conn, raw) == sorted(Counter(b.ravel().tolist()).items())
    assert sum(n for _, n in kernel_counts(conn, raw)) == b.size
    f = encode([rng.normal(size=(9, 11)).astype(np.float32)], "32BF", -9999.0, geo, 32610)
    with pytest.raises(psycopg.Error, match="counts integer bands; band 1 is float32"):
        kernel_counts(conn, f)


def test_runs_in_parallel_workers_with_the_serial_counts(conn: psycopg.Connection,
                                                         landcover: list[int]) -> None:
    """The query of int_landcover_classes, the kernel in the select list over the tiles: in
    PostgreSQL's parallel workers (which start with an empty GD and refuse SPI) it gives the
    serial counts, which are ST_ValueCount's summed over both epochs."""
    query = ("select (c.vc).value, sum((c.vc).pixels)::bigint from ("
             "  select raster.np_value_counts(t.rast::bytea) as vc from raster.tiles as t"
             "  where t.catalog_id = any((select %s::bigint[])::bigint[])) as c "
             "group by 1 order by 1")
    for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0",
                    "min_parallel_table_scan_size = 0", "max_parallel_workers_per_gather = 2",
                    "parallel_leader_participation = off"):
        conn.execute("set " + setting)
    plan = "\n".join(r[0] for r in conn.execute("explain (analyze, verbose, costs off) " + query,
                                                (landcover,)))
    assert "Gather" in plan and "Workers Launched: 0" not in plan, plan
    assert "Workers Launched" in plan, plan
    # the kernel is called below the Gather: by the workers (the leader only gathers)
    assert plan.index("Gather") < plan.index("raster.np_value_counts"), plan
    par = conn.execute(query, (landcover,)).fetchall()
    conn.execute("set max_parallel_workers_per_gather = 0")
    assert "Gather" not in "\n".join(
        r[0] for r in conn.execute("explain " + query, (landcover,)))
    assert conn.execute(query, (landcover,)).fetchall() == par
    postgis = conn.execute(
        "select (vc).value::int, sum((vc).count)::bigint from (select st_valuecount(rast, 1, "
        "true) as vc from raster.tiles where catalog_id = any(%s)) s group by 1 order by 1",
        (landcover,)).fetchall()
    assert par == postgis and len(par) >= 10
