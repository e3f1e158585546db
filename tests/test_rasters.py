"""Raster loading onto the region grid, checked against the source files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio

from ecorest.etl.rasters import load_raster, parse_epoch, raster_wkb
from ecorest.etl.regions import create_region
from helpers import SAMPLE, WILLAMETTE, snapshot, value_counts, willamette_region, write_raster


@pytest.fixture
def willamette(conn: psycopg.Connection) -> psycopg.Connection:
    willamette_region(conn)
    conn.rollback()
    return conn


def source_counts(path) -> dict[int, int]:
    with rasterio.open(path) as src:
        a = src.read(1)
        v, c = np.unique(a[a != src.nodata], return_counts=True)
    return dict(zip(v.tolist(), c.tolist(), strict=True))


@pytest.mark.parametrize("name", ["lulc_samp_cur.tif", "lulc_samp_fut.tif"])
def test_landcover_class_areas_match_source(willamette: psycopg.Connection, name: str) -> None:
    [cid] = load_raster(willamette, "willamette", "landcover", WILLAMETTE / name, epoch="1990",
                        legend="willamette", show_progress=False)
    got = value_counts(willamette, cid)
    want = source_counts(WILLAMETTE / name)
    # both grids have 30 m pixels (0.09 ha); nearest-neighbour resampling from UTM 10N to
    # Conus Albers moves class edges by at most a pixel, and UTM's scale factor (~0.9996)
    # shifts areas by < 0.1 %
    assert set(got) == set(want)
    assert sum(got.values()) == pytest.approx(sum(want.values()), rel=2e-3)
    for code, n in want.items():
        if n > 20_000:
            assert got[code] == pytest.approx(n, rel=5e-3), code
    stats = willamette.execute("select valid_count, value_min, value_max, tile_count, "
                               "pixel_type from raster.catalog where catalog_id = %s",
                               (cid,)).fetchone()
    assert stats[0] == sum(got.values())
    assert (stats[1], stats[2]) == (min(want), max(want))
    assert stats[4] == "8BUI"


def test_dem_statistics_match_source(willamette: psycopg.Connection) -> None:
    [cid] = load_raster(willamette, "willamette", "dem", WILLAMETTE / "dem_30m.tif",
                        epoch="2000", show_progress=False)
    with rasterio.open(WILLAMETTE / "dem_30m.tif") as src:
        a = src.read(1, masked=True)
    mean, vmin, vmax, n = willamette.execute(
        "select value_mean, value_min, value_max, valid_count from raster.catalog "
        "where catalog_id = %s", (cid,)).fetchone()
    assert mean == pytest.approx(float(a.mean()), abs=0.5)   # bilinear keeps the mean
    assert vmin >= float(a.min()) - 1e-6 and vmax <= float(a.max()) + 1e-6
    assert n == pytest.approx(a.count(), rel=5e-3)
    # the database sees the same numbers in the tiles themselves
    db_mean = willamette.execute(
        "select sum((s).sum) / sum((s).count) from (select st_summarystats(rast) s "
        "from raster.tiles where catalog_id = %s) x", (cid,)).fetchone()[0]
    assert db_mean == pytest.approx(mean, rel=1e-6)


def test_tiles_are_registered_with_raster_constraints(willamette: psycopg.Connection) -> None:
    [cid] = load_raster(willamette, "willamette", "landcover", WILLAMETTE / "lulc_samp_cur.tif",
                        epoch="1990", legend="willamette", show_progress=False)
    row = willamette.execute(
        "select srid, scale_x, scale_y, blocksize_x, blocksize_y, same_alignment, pixel_types, "
        "nodata_values from raster_columns where r_table_name = %s",
        (f"tiles_{cid}",)).fetchone()
    assert row == (5070, 30.0, -30.0, 256, 256, True, ["8BUI"], [255.0])
    # tiles sit on the region grid: upper-left corners are origin + k * 256 * 30
    r = willamette.execute("select origin_x, origin_y from registry.regions").fetchone()
    offsets = willamette.execute(
        "select distinct ((st_upperleftx(rast) - %s) / 7680)::numeric %% 1, "
        "((%s - st_upperlefty(rast)) / 7680)::numeric %% 1 from raster.tiles", r).fetchall()
    assert offsets == [(0, 0)]


def test_same_file_twice_is_a_noop(willamette: psycopg.Connection) -> None:
    load_raster(willamette, "willamette", "dem", WILLAMETTE / "dem_30m.tif", epoch="2000",
                show_progress=False)
    before = snapshot(willamette)
    loads = willamette.execute("select count(*) from etl.loads").fetchone()
    assert load_raster(willamette, "willamette", "dem", WILLAMETTE / "dem_30m.tif",
                       epoch="2000", show_progress=False) == []
    assert snapshot(willamette) == before
    assert willamette.execute("select count(*) from etl.loads").fetchone() == loads


def test_corrected_file_replaces_epoch_and_log_keeps_both(willamette, tmp_path) -> None:
    first = write_raster(tmp_path / "a.tif", np.full((300, 300), 54, np.uint8), nodata=255)
    second = write_raster(tmp_path / "b.tif", np.full((300, 300), 58, np.uint8), nodata=255)
    [c1] = load_raster(willamette, "willamette", "landcover", first, epoch="2000",
                       legend="willamette", show_progress=False)
    [c2] = load_raster(willamette, "willamette", "landcover", second, epoch="2000",
                       legend="willamette", show_progress=False)
    rows = willamette.execute("select catalog_id, is_current from raster.catalog order by 1"
                              ).fetchall()
    assert rows == [(c1, False), (c2, True)]
    assert willamette.execute("select to_regclass(%s)", (f"raster.tiles_{c1}",)).fetchone() \
        == (None,)
    counts = value_counts(willamette, c2)
    assert set(counts) == {58}  # only the corrected file's class remains
    assert counts[58] == pytest.approx(300 * 300, rel=5e-3)  # rotated UTM -> Albers
    log = willamette.execute("select status, replaces_load_id is not null from etl.loads "
                             "where loader = 'raster' order by load_id").fetchall()
    assert log == [("superseded", False), ("succeeded", True)]


def test_modis_sinusoidal_ndvi_with_scale(conn: psycopg.Connection, tmp_path) -> None:
    boundary = tmp_path / "lecco.geojson"
    boundary.write_text('{"type": "Polygon", "coordinates": [[[9.27, 45.68], [9.5, 45.68], '
                        '[9.5, 46.1], [9.27, 46.1], [9.27, 45.68]]]}')
    create_region(conn, "lecco", boundary, pixel_size=500)
    files = sorted((SAMPLE / "modis_ndvi_mod13a1_italy").glob("MOD13A1_NDVI_2016_*.tif"))[:3]
    ids = []
    for f in files:
        ids += load_raster(conn, "lecco", "ndvi", f, epoch_from="filename", scale=0.0001,
                           show_progress=False)
    epochs = conn.execute("select epoch_label, epoch_date::text, scale_factor, pixel_type "
                          "from raster.catalog order by 1").fetchall()
    assert epochs == [("2016-01-01", "2016-01-01", 1e-4, "16BSI"),
                      ("2016-01-17", "2016-01-17", 1e-4, "16BSI"),
                      ("2016-02-02", "2016-02-02", 1e-4, "16BSI")]
    with rasterio.open(files[0]) as src:
        a = src.read(1, masked=True) * 1e-4
    mean = conn.execute("select value_mean from raster.catalog where catalog_id = %s",
                        (ids[0],)).fetchone()[0]
    assert -1 <= mean <= 1
    assert mean == pytest.approx(float(a.mean()), abs=0.03)


def test_band_stack_epochs_from_descriptions(conn: psycopg.Connection, tmp_path) -> None:
    boundary = tmp_path / "alaska.geojson"
    boundary.write_text('{"type": "Polygon", "coordinates": [[[-152.9, 66.35], [-151.0, 66.35], '
                        '[-151.0, 68.7], [-152.9, 68.7], [-152.9, 66.35]]]}')
    create_region(conn, "alaska", boundary, crs="EPSG:3338", pixel_size=5000)
    stack = SAMPLE / "gimms_ndvi3g_monthly_alaska_1982_2011" / \
        "ndvimap_gimms3g_monthly_1982_2011.tif"
    ids = load_raster(conn, "alaska", "ndvi", stack, epoch_from="band", show_progress=False)
    assert _all_nan_bands(stack) == 0
    assert len(ids) == 360
    first, last = conn.execute("select min(epoch_date)::text, max(epoch_date)::text "
                               "from raster.catalog").fetchone()
    assert (first, last) == ("1982-01-01", "2011-12-01")


def _all_nan_bands(path) -> int:
    with rasterio.open(path) as src:
        return sum(1 for b in range(1, src.count + 1) if np.isnan(src.read(b)).all())


def test_raster_wkb_round_trip(conn: psycopg.Connection) -> None:
    data = np.arange(12, dtype=np.int16).reshape(3, 4) - 5
    wkb = raster_wkb(data, "16BSI", -32768, 100.0, 200.0, 30.0, 5070)
    row = conn.execute("select st_width(r), st_height(r), st_srid(r), st_upperleftx(r), "
                       "st_upperlefty(r), st_pixelwidth(r), st_bandpixeltype(r), "
                       "st_dumpvalues(r, 1) from (select %s::raster r) s",
                       (wkb.hex(),)).fetchone()
    assert row[:7] == (4, 3, 5070, 100.0, 200.0, 30.0, "16BSI")
    assert np.array(row[7]).tolist() == data.tolist()


@pytest.mark.parametrize("text,label,iso", [
    ("2016", "2016", "2016-07-01"),
    ("MOD13A1_NDVI_2016_017", "2016-01-17", "2016-01-17"),
    ("X1982.02.01", "1982-02-01", "1982-02-01"),
    ("VHP_SMN_annual_ndvi_1999", "1999", "1999-07-01"),
    ("NDVI_Mean_2023", "2023", "2023-07-01"),
    ("20200315", "2020-03-15", "2020-03-15"),
])
def test_parse_epoch(text: str, label: str, iso: str) -> None:
    got = parse_epoch(text)
    assert got is not None and (got[0], got[1].isoformat()) == (label, iso)


def test_aligned_grid_loads_without_resampling(conn: psycopg.Connection) -> None:
    from ecorest.etl.legends import load_legend
    from helpers import DERIVED

    lulc = WILLAMETTE / "lulc_samp_cur.tif"
    r = create_region(conn, "w_utm", DERIVED / "willamette_region.geojson", align_to=str(lulc),
                      allow_non_equal_area=True)
    assert r.srid == 26910
    with rasterio.open(lulc) as src:
        # the grid origin lies on the raster's grid
        assert ((r.origin_x - src.transform.c) / 30) % 1 == pytest.approx(0, abs=1e-9)
    load_legend(conn, "willamette", DERIVED / "willamette_legend.csv")
    [cid] = load_raster(conn, "w_utm", "landcover", lulc, epoch="1990", legend="willamette",
                        show_progress=False)
    assert value_counts(conn, cid) == source_counts(lulc)  # exact: no resampling happened


def test_non_equal_area_needs_explicit_consent(conn: psycopg.Connection) -> None:
    from ecorest.errors import LoadError
    from helpers import DERIVED

    with pytest.raises(LoadError, match="not an equal-area projection"):
        create_region(conn, "w_utm", DERIVED / "willamette_region.geojson",
                      align_to=str(WILLAMETTE / "lulc_samp_cur.tif"))


def _bbox_region(conn, tmp_path, name, lon0, lat0, lon1, lat1, **kw):
    f = tmp_path / f"{name}.geojson"
    f.write_text(f'{{"type": "Polygon", "coordinates": [[[{lon0}, {lat0}], [{lon1}, {lat0}], '
                 f'[{lon1}, {lat1}], [{lon0}, {lat1}], [{lon0}, {lat0}]]]}}')
    return create_region(conn, name, f, **kw)


@pytest.mark.parametrize("folder,name,scale,bbox,pixel", [
    ("modis_mod13c1_ndvi_somalia_2000_2012", "modisraster.tif", 1e-4,
     (41.85, -0.2, 42.2, 0.15), 1000),
    ("modis_ndvi_8day_chile_2000_2021", "MegaDrought_ndvi_2000_2021.tif", 1e-4,
     (-71.02, -32.935, -70.97, -32.895), 250),
    ("gimms_ndvi3g_monthly_alaska_1982_2011", "ndvimap_gimms3g_monthly_1982_2011.tif", None,
     (-153.0, 66.3, -150.9, 68.75), 5000),
])
def test_bundled_ndvi_stacks_load_every_band(conn, tmp_path, folder, name, scale, bbox, pixel):
    """Each band with data becomes one epoch (empty dates are left out with a warning);
    per-band means follow the source (bilinear)."""
    r = _bbox_region(conn, tmp_path, "stack", *bbox, pixel_size=pixel)
    path = SAMPLE / folder / name
    ids = load_raster(conn, "stack", "ndvi", path, epoch_from="band", scale=scale,
                      show_progress=False)
    with rasterio.open(path) as src:
        empty = {b for b in range(1, src.count + 1) if np.isnan(src.read(b)).all()}
        warned = conn.execute("select warnings from etl.loads where loader = 'raster'"
                              ).fetchone()[0]
        skipped = {int(w["item"].split(" ")[1]) for w in warned}
        # every band is either an epoch or reported as empty; empty source bands always are
        # (a band whose few valid pixels vanish in resampling is reported too)
        assert len(ids) + len(skipped) == src.count
        assert empty <= skipped and len(skipped - empty) <= 2
        first = src.read(1, masked=True) * (scale or 1)
        means = conn.execute("select value_mean, value_min, value_max from raster.catalog "
                             "where catalog_id = %s", (ids[0],)).fetchone()
    assert means[0] == pytest.approx(float(first.mean()), abs=0.05)
    assert float(first.min()) - 1e-6 <= means[1] and means[2] <= float(first.max()) + 1e-6
    assert r.srid >= 990100  # outside China, the US and Europe: a registered LAEA


def test_vhp_eckert_iv_onto_china_albers(conn: psycopg.Connection) -> None:
    create_region(conn, "ansai", SAMPLE / "china_admin_loess_plateau" / "ansai_610603.geojson",
                  pixel_size=1000)
    files = sorted((SAMPLE / "vhp_ndvi_annual_global_1982_2023").glob("*.tif"))
    assert len(files) == 42
    for f in files:
        load_raster(conn, "ansai", "ndvi", f, epoch_from="filename", show_progress=False)
    rows = conn.execute("select epoch_label, value_min, value_max, source_crs from "
                        "raster.catalog order by epoch_label").fetchall()
    assert [r[0] for r in rows] == [str(y) for y in range(1982, 2024)]
    assert all(0 < r[1] <= r[2] < 1 for r in rows)
    assert rows[0][3] == "ESRI:54012"


def test_three_epoch_subarea_with_offset_grid(conn: psycopg.Connection, tmp_path) -> None:
    from ecorest.etl.legends import load_legend
    from helpers import DERIVED

    sub = WILLAMETTE / "hq_epochs_subarea"
    r = _bbox_region(conn, tmp_path, "sub", -123.0, 44.52, -122.57, 44.81)
    assert r.srid == 5070
    load_legend(conn, "willamette", DERIVED / "willamette_legend.csv")
    for name, epoch in (("lc_samp_bse_b.tif", "1850"), ("lc_samp_cur_b.tif", "2000"),
                        ("lc_samp_fut_b.tif", "2050")):
        [cid] = load_raster(conn, "sub", "landcover", sub / name, epoch=epoch, scenario=True,
                            legend="willamette", show_progress=False)
        got, want = value_counts(conn, cid), source_counts(sub / name)
        assert set(got) <= set(want)
        assert sum(got.values()) == pytest.approx(sum(want.values()), rel=2e-3)
        for code, n in want.items():
            if n > 20_000:  # nearest-neighbour edges of a ~19° rotation: within 1 %
                assert got[code] == pytest.approx(n, rel=1e-2), (name, code)


@pytest.mark.parametrize("crs,res", [
    ("EPSG:4490", 0.0003),  # CGCS2000 geographic
    ("EPSG:4545", 30.0),    # CGCS2000 / 3-degree Gauss-Kruger CM 108E
])
def test_chinese_crs_sources(conn: psycopg.Connection, tmp_path: Path, crs, res) -> None:
    """CGCS2000 lon/lat and Gauss-Kruger sources land on the Albers grid of Ansai."""
    from pyproj import Transformer

    create_region(conn, "ansai", SAMPLE / "china_admin_loess_plateau" / "ansai_610603.geojson",
                  pixel_size=30)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(109.2, 36.95)
    path = write_raster(tmp_path / "src.tif", np.full((100, 100), 0.6, np.float32), crs=crs,
                        origin=(x, y), res=res)
    [cid] = load_raster(conn, "ansai", "ndvi", path, epoch="2020", show_progress=False)
    mean, n = conn.execute("select value_mean, valid_count from raster.catalog "
                           "where catalog_id = %s", (cid,)).fetchone()
    assert mean == pytest.approx(0.6, abs=1e-4)  # stored as int16 x 1e-4
    if crs == "EPSG:4545":  # 100 x 100 pixels of 30 m (GK scale ~1.0002 near the CM)
        assert n == pytest.approx(100 * 100, rel=0.03)
    else:  # 0.0003 deg: 33.3 m north-south, 26.6 m east-west at 36.95 N -> ~0.98 of 30 m px
        assert n == pytest.approx(100 * 100 * 33.3 * 26.6 / 900, rel=0.05)


def test_file_inside_the_grid_box_but_outside_the_boundary(conn: psycopg.Connection,
                                                           tmp_path: Path) -> None:
    """Only pixels whose centre lies inside the region boundary are loaded: a file in the
    corner of a triangular region's grid box, outside the triangle, has no pixel in the region
    and is rejected; the database is unchanged."""
    import json

    from ecorest.errors import LoadError

    # right triangle (450 000, 4 947 000), (453 000, 4 947 000), (450 000, 4 950 000) in UTM 10N:
    # its grid is the 3 km square, the north-east half of which lies outside it
    tri = tmp_path / "tri.geojson"
    tri.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": {
            "type": "Polygon", "coordinates": [[[450_000, 4_947_000], [453_000, 4_947_000],
                                                [450_000, 4_950_000], [450_000, 4_947_000]]]}}]}))
    r = create_region(conn, "tri", tri, crs="EPSG:26910", allow_non_equal_area=True)
    assert 100 <= min(r.width_px, r.height_px) <= max(r.width_px, r.height_px) <= 102
    # 20 x 20 px from (452 400, 4 949 900): x + y - 4 947 000 >= 452 400 + 2 300 > 453 000
    corner = write_raster(tmp_path / "corner.tif", np.full((20, 20), 0.5, np.float32),
                          origin=(452_400.0, 4_949_900.0), nodata=-9999)
    before = snapshot(conn)
    with pytest.raises(LoadError, match="has no valid pixel inside region 'tri'"):
        load_raster(conn, "tri", "ndvi", corner, epoch="2020", show_progress=False)
    assert snapshot(conn) == before
    # the same pixels moved across the hypotenuse are loaded, all of them
    inner = write_raster(tmp_path / "inner.tif", np.full((20, 20), 0.5, np.float32),
                         origin=(450_300.0, 4_947_900.0), nodata=-9999)
    [cid] = load_raster(conn, "tri", "ndvi", inner, epoch="2020", show_progress=False)
    assert conn.execute("select valid_count from raster.catalog where catalog_id = %s",
                        (cid,)).fetchone() == (400,)


def _record_run(conn: psycopg.Connection, catalog_ids: list[int]) -> int:
    """An assessment run that read these catalog entries (as `ecorest run` records it)."""
    conn.rollback()  # its own committed transaction, not a savepoint of an open one
    with conn.transaction():
        run_id = conn.execute(
            "insert into etl.assessment_runs (region_id, status, code_version, "
            "input_catalog_ids) select region_id, 'succeeded', 'test', %s from "
            "registry.regions where name = 'willamette' returning run_id",
            (catalog_ids,)).fetchone()[0]
    return run_id


def test_replaced_tiles_that_a_run_read_stay(willamette, tmp_path) -> None:
    """Replacing an epoch keeps the tiles a recorded run read (marked not current); tiles no
    run read are dropped once the replacing load committed."""
    first = write_raster(tmp_path / "a.tif", np.full((300, 300), 54, np.uint8), nodata=255)
    second = write_raster(tmp_path / "b.tif", np.full((300, 300), 58, np.uint8), nodata=255)
    third = write_raster(tmp_path / "c.tif", np.full((300, 300), 61, np.uint8), nodata=255)
    load = lambda f: load_raster(willamette, "willamette", "landcover", f,  # noqa: E731
                                 epoch="2000", legend="willamette", show_progress=False)
    [c1] = load(first)
    before = value_counts(willamette, c1)
    _record_run(willamette, [c1])
    [c2] = load(second)
    [c3] = load(third)
    rows = willamette.execute("select catalog_id, is_current from raster.catalog order by 1"
                              ).fetchall()
    assert rows == [(c1, False), (c2, False), (c3, True)]
    # c1 was read by a run: its tiles stay, unchanged, still a partition of raster.tiles
    assert value_counts(willamette, c1) == before and set(before) == {54}
    assert willamette.execute("select count(*) from pg_inherits where inhrelid = "
                              "to_regclass(%s)", (f"raster.tiles_{c1}",)).fetchone() == (1,)
    # c2 was replaced before any run read it: its tiles are gone, its catalog entry stays
    assert willamette.execute("select to_regclass(%s)", (f"raster.tiles_{c2}",)).fetchone() \
        == (None,)
    assert set(value_counts(willamette, c3)) == {61}
    log = willamette.execute("select status from etl.loads where loader = 'raster' "
                             "order by load_id").fetchall()
    assert log == [("superseded",), ("superseded",), ("succeeded",)]


def test_a_load_does_not_lock_the_tiles_others_read(willamette, tmp_path, db_url,
                                                    monkeypatch) -> None:
    """While a raster load runs (before it commits), another session reads the tiles of
    another catalog entry through raster.tiles without waiting (lock_timeout 2 s): the load
    holds no ACCESS EXCLUSIVE lock on raster.tiles."""
    import ecorest.etl.rasters as rasters

    other = write_raster(tmp_path / "o.tif", np.full((64, 64), 54, np.uint8), nodata=255)
    [cid] = load_raster(willamette, "willamette", "landcover", other, epoch="1990",
                        legend="willamette", show_progress=False)
    pid = willamette.info.backend_pid
    seen = {}
    real = rasters._finish_band

    def finish_then_look(job, band):
        ok = real(job, band)
        with psycopg.connect(db_url, autocommit=True) as reader:
            reader.execute("set lock_timeout = '2s'")
            seen["modes"] = {r[0] for r in reader.execute(
                "select mode from pg_locks where pid = %s and relation = "
                "'raster.tiles'::regclass", (pid,))}
            seen["tiles"] = reader.execute("select count(*) from raster.tiles where "
                                           "catalog_id = %s", (cid,)).fetchone()[0]
        return ok

    monkeypatch.setattr(rasters, "_finish_band", finish_then_look)
    path = write_raster(tmp_path / "n.tif", np.full((64, 64), 58, np.uint8), nodata=255)
    [new] = load_raster(willamette, "willamette", "landcover", path, epoch="2000",
                        legend="willamette", show_progress=False)
    assert seen["tiles"] > 0  # read while the load was open, without waiting
    assert "AccessExclusiveLock" not in seen["modes"], seen
    assert set(value_counts(willamette, new)) == {58}
    # the new tiles are a partition of raster.tiles with its raster constraints
    assert willamette.execute("select count(*) from raster_columns where r_table_schema = "
                              "'raster' and r_table_name = %s and srid > 0",
                              (f"tiles_{new}",)).fetchone() == (1,)


@pytest.mark.parametrize("text,expected", [
    ("2016-02-30", "'2016-02-30' is not a date"),
    ("MOD13A1_2015_366", "day 366 of 2015 does not exist"),
    ("X1982.13.01", "'1982.13.01' is not a date"),
])
def test_impossible_epochs_are_refused_not_read_as_a_year(text: str, expected: str) -> None:
    from ecorest.etl.rasters import EpochError

    with pytest.raises(EpochError, match=expected):
        parse_epoch(text)
    assert parse_epoch("MOD13A1_2016_366") == ("2016-12-31", __import__("datetime").date(
        2016, 12, 31))
