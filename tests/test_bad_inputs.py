"""A corpus of bad inputs: each fails with a message naming the file, the item and the rule,
and leaves every data table exactly as it was."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ecorest.errors import LoadError
from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.plots import load_plots
from ecorest.etl.rasters import load_raster
from ecorest.etl.vector_loads import load_projects, load_samples, load_zones
from helpers import WILLAMETTE, snapshot, willamette_region, write_raster

X0, Y0 = 450_000.0, 4_950_000.0  # inside the Willamette region (EPSG:26910)
LON, LAT = -123.5, 44.5           # inside the Willamette region


def _raster(tmp: Path, name: str, data, **kw) -> Path:
    return write_raster(tmp / name, data, **kw)


def _csv(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def _geojson(tmp: Path, name: str, features: list[dict]) -> Path:
    p = tmp / name
    p.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return p


def _square(lon=LON, lat=LAT, d=0.01):
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d],
                                                 [lon, lat + d], [lon, lat]]]}


BOWTIE = {"type": "Polygon", "coordinates": [[[LON, LAT], [LON + 0.01, LAT + 0.01],
                                              [LON + 0.01, LAT], [LON, LAT + 0.01], [LON, LAT]]]}


def _project(**props):
    base = {"project_id": "P1", "name": "Hillside planting", "project_type": "afforestation",
            "start_date": "2015-03-01"}
    return {"type": "Feature", "properties": {**base, **props}, "geometry": _square()}


def _lc(tmp, name="lc.tif", value=54, **kw):
    return _raster(tmp, name, np.full((64, 64), value, np.uint8), nodata=255,
                   origin=(X0, Y0), **kw)


def landcover(path, **kw):
    return lambda conn: load_raster(conn, "willamette", "landcover", path, epoch="2000",
                                    legend="willamette", show_progress=False, **kw)


def ndvi(path, **kw):
    return lambda conn: load_raster(conn, "willamette", "ndvi", path, show_progress=False,
                                    **({"epoch": "2016"} | kw))


def unknown_epsg(tmp: Path) -> Path:
    good = _lc(tmp, "ok.tif")
    data = good.read_bytes()
    key = struct.pack("<HHHH", 3072, 0, 1, 26910)  # ProjectedCSTypeGeoKey = 26910
    assert key in data
    bad = tmp / "epsg9999.tif"
    bad.write_bytes(data.replace(key, struct.pack("<HHHH", 3072, 0, 1, 9999)))
    return bad


def truncated(tmp: Path) -> Path:
    data = (WILLAMETTE / "dem_30m.tif").read_bytes()
    p = tmp / "truncated.tif"
    p.write_bytes(data[: len(data) // 3])
    return p


def plots_csv(tmp: Path, body: str, header="plot_id,year,lon,lat,agb (t/ha)") -> Path:
    return _csv(tmp, "plots.csv", header + "\n" + body)


# (case id, builder: tmp -> loader(conn), rule, text the message must contain)
CASES: list[tuple[str, Callable[[Path], Callable], str, str]] = [
    ("raster-no-crs", lambda t: landcover(_lc(t, crs=None)), "crs.present",
     "no coordinate reference system"),
    ("raster-unknown-epsg", lambda t: landcover(unknown_epsg(t)), "crs.known",
     "EPSG code in the file is probably unknown"),
    ("raster-corrupt", lambda t: landcover(_csv(t, "corrupt.tif", "II*\x00garbage" * 50)),
     "file.readable", "not a readable raster"),
    ("raster-truncated", lambda t: (lambda conn: load_raster(
        conn, "willamette", "dem", truncated(t), epoch="2000", show_progress=False)),
     "file.readable", "not a readable raster"),
    ("raster-empty-file", lambda t: landcover(_csv(t, "empty.tif", "")), "file.not_empty",
     "file is empty"),
    ("raster-missing-file", lambda t: landcover(t / "nope.tif"), "file.exists", "not found"),
    ("raster-float-landcover", lambda t: landcover(_raster(
        t, "f.tif", np.full((64, 64), 54.0, np.float32), origin=(X0, Y0))),
     "raster.categorical_integer", "class codes must be integers"),
    ("raster-ndvi-unscaled", lambda t: ndvi(_raster(
        t, "ndvi.tif", np.random.default_rng(1).integers(2000, 9000, (64, 64), dtype=np.int16),
        origin=(X0, Y0), nodata=-3000)),
     "raster.value_range", "--scale 0.0001"),
    ("raster-unknown-codes", lambda t: landcover(_lc(t, value=200)), "raster.legend_codes",
     "rejected as a whole"),
    ("raster-unknown-codes-strict", lambda t: landcover(_raster(
        t, "few.tif", np.where(np.arange(4096).reshape(64, 64) == 7, 200, 54).astype(np.uint8),
        origin=(X0, Y0), nodata=255), strict=True),
     "raster.legend_codes", "class code(s) [200] not in legend 'willamette'"),
    ("raster-all-nodata", lambda t: landcover(_lc(t, value=255)), "raster.all_nodata",
     "no valid pixel"),
    ("raster-no-overlap", lambda t: landcover(_raster(
        t, "far.tif", np.full((64, 64), 54, np.uint8), origin=(200_000.0, 3_000_000.0),
        nodata=255)), "raster.overlap", "does not overlap region"),
    ("raster-future-epoch", lambda t: ndvi(_raster(
        t, "n.tif", np.full((64, 64), 0.5, np.float32), origin=(X0, Y0)), epoch="2090"),
     "value.date_future", "lies in the future"),
    ("raster-no-epoch", lambda t: (lambda conn: load_raster(
        conn, "willamette", "dem", _raster(t, "d.tif", np.full((64, 64), 100.0, np.float32),
                                           origin=(X0, Y0)), show_progress=False)),
     "raster.epoch", "no epoch"),
    ("raster-missing-band", lambda t: ndvi(_raster(
        t, "n.tif", np.full((64, 64), 0.5, np.float32), origin=(X0, Y0)), band=3),
     "raster.band", "band 3 does not exist"),
    ("raster-dem-in-centimetres", lambda t: (lambda conn: load_raster(
        conn, "willamette", "dem", _raster(t, "cm.tif", np.full((64, 64), 25_000.0, np.float32),
                                           origin=(X0, Y0)), epoch="2000", show_progress=False)),
     "raster.value_range", "elevations must be metres"),
    ("region-unknown", lambda t: (lambda conn: load_raster(
        conn, "atlantis", "dem", _lc(t), epoch="2000", show_progress=False)),
     "region.exists", "region 'atlantis' does not exist"),
    ("zones-self-intersecting", lambda t: (lambda conn: load_zones(
        conn, "willamette", _geojson(t, "z.geojson", [
            {"type": "Feature", "properties": {"code": "A"}, "geometry": BOWTIE}]),
        zone_set="watershed", repair=False, strict=True)),
     "geometry.valid", "Self-intersection"),
    ("zones-bad-gbt2260-code", lambda t: (lambda conn: load_zones(
        conn, "willamette", _geojson(t, "z.geojson", [
            {"type": "Feature", "properties": {"code": "61060"}, "geometry": _square()}]),
        strict=True)),
     "value.type", "6-digit GB/T 2260 code"),
    ("zones-no-crs", lambda t: (lambda conn: load_zones(
        conn, "willamette", _shapefile_without_prj(t), zone_set="ws")),
     "crs.present", "no coordinate reference system"),
    ("projects-unknown-type", lambda t: (lambda conn: load_projects(
        conn, "willamette", _geojson(t, "p.geojson", [_project(project_type="parking")]),
        strict=True)), "value.code", "'parking' is not one of"),
    ("projects-end-before-start", lambda t: (lambda conn: load_projects(
        conn, "willamette", _geojson(t, "p.geojson", [_project(end_date="2014-01-01")]),
        strict=True)), "value.range", "on or after start_date"),
    ("projects-future-start", lambda t: (lambda conn: load_projects(
        conn, "willamette", _geojson(t, "p.geojson", [_project(start_date="2091-01-01")]),
        strict=True)), "value.date_future", "lies in the future"),
    ("projects-duplicate-ids", lambda t: (lambda conn: load_projects(
        conn, "willamette", _geojson(t, "p.geojson", [_project(), _project()]), strict=True)),
     "id.unique", "occurs 2 times"),
    ("samples-outside-region", lambda t: (lambda conn: load_samples(
        conn, "willamette", _csv(t, "s.csv", "sample_id,lon,lat,reference_class\n"
                                             "S1,116.4,39.9,54\n"), strict=True)),
     "geometry.inside_region", "lies outside region 'willamette'"),
    ("plots-duplicate-ids", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, f"A,2015,{LON},{LAT},100\nA,2015,{LON},{LAT},120\n"),
        strict=True)), "id.unique", "occurs 2 times"),
    ("plots-outside-region", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, "A,2015,116.4,39.9,100\n"), strict=True)),
     "geometry.inside_region", "lies outside region"),
    ("plots-negative-biomass", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, f"A,2015,{LON},{LAT},-5\n"), strict=True)),
     "value.range", "cannot be negative"),
    ("plots-missing-units", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, f"A,2015,{LON},{LAT},100\n",
                                      header="plot_id,year,lon,lat,agb"))),
     "value.unit", "--units agb=t/ha"),
    ("plots-unknown-unit", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, f"A,2015,{LON},{LAT},100\n",
                                      header="plot_id,year,lon,lat,agb (t/acre)"))),
     "value.unit", "unit 't/acre' is not one of"),
    ("plots-wrong-column-type", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, f"A,2015,{LON},{LAT},lots\n"), strict=True)),
     "value.type", "'lots' is not a valid number"),
    ("plots-future-date", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, f"A,2093,{LON},{LAT},100\n"), strict=True)),
     "value.date_future", "lies in the future"),
    ("plots-mixed-crs", lambda t: (lambda conn: load_plots(
        conn, "willamette", plots_csv(t, f"A,2015,{LON},{LAT},100\nB,2015,455000,4950000,90\n"),
        strict=True)), "value.range", "longitude ±180, latitude ±90"),
    ("plots-missing-column", lambda t: (lambda conn: load_plots(
        conn, "willamette", _csv(t, "p.csv", f"year,lon,lat,agb (t/ha)\n2015,{LON},{LAT},1\n"))),
     "table.columns", "missing required column(s) ['plot_id']"),
    ("plots-header-only", lambda t: (lambda conn: load_plots(
        conn, "willamette", _csv(t, "p.csv", "plot_id,year,lon,lat,agb (t/ha)\n"))),
     "table.empty", "has no rows"),
    ("params-no-source", lambda t: (lambda conn: load_params(
        conn, _csv(t, "k.csv", "parameter,value,unit\nroot_shoot,0.29,1\n"), name="x",
        kind="other", source_text=" ")), "value.required", "source"),
    ("params-duplicate-keys", lambda t: (lambda conn: load_params(
        conn, _csv(t, "k.csv", "parameter,class_code,value,unit\nr,1,0.29,1\nr,1,0.3,1\n"),
        name="x", kind="other", source_text="IPCC 2006")), "id.unique", "occurs 2 times"),
    ("params-text-value", lambda t: (lambda conn: load_params(
        conn, _csv(t, "k.csv", "parameter,value,unit\nr,high,1\n"), name="x", kind="other",
        source_text="IPCC 2006")), "value.type", "'high' is not a valid number"),
    ("legend-unknown-ipcc-category", lambda t: (lambda conn: load_legend(
        conn, "mine", _csv(t, "l.csv", "class_code,name_en,ipcc_category\n1,Forest,woods\n"))),
     "value.code", "'woods' is not one of"),
]


def _shapefile_without_prj(tmp: Path) -> Path:
    import shutil

    for ext in ("shp", "shx", "dbf"):
        shutil.copy(WILLAMETTE / f"watersheds.{ext}", tmp / f"ws.{ext}")
    return tmp / "ws.shp"


@pytest.fixture
def region_db(conn: psycopg.Connection) -> psycopg.Connection:
    willamette_region(conn)
    conn.rollback()
    return conn


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 20
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_nothing_changes(region_db: psycopg.Connection, tmp_path: Path,
                                                  case) -> None:
    _, build, rule, text = case
    load = build(tmp_path)
    before = snapshot(region_db)
    with pytest.raises(LoadError) as err:
        load(region_db)
    message = str(err.value)
    assert f"[rule {rule}]" in message or f"rule {rule}" in message, message
    assert text in message, message
    assert snapshot(region_db) == before
    # the failure is in the load log when the load got as far as starting a transaction
    failed = region_db.execute("select message from etl.loads where status = 'failed'"
                               ).fetchall()
    for (msg,) in failed:
        assert rule in msg
    region_db.rollback()


def test_bad_pixels_below_threshold_quarantine_their_tile(region_db, tmp_path) -> None:
    data = np.full((64, 64), 54, np.uint8)
    data[3:6, 5:8] = 200  # a 3 x 3 patch of an unknown class code
    path = write_raster(tmp_path / "one_bad.tif", data, origin=(X0, Y0), nodata=255)
    [cid] = load_raster(region_db, "willamette", "landcover", path, epoch="2000",
                        legend="willamette", show_progress=False)
    q = region_db.execute("select item, rule, message, record from etl.quarantine").fetchall()
    assert len(q) == 1
    item, rule, message, record = q[0]
    assert rule == "raster.legend_codes" and item.startswith("band 1, tile (")
    # nearest-neighbour warping onto the rotated grid keeps the patch at about 9 pixels
    assert 6 <= record["pixels"] <= 12
    assert f"{record['pixels']} pixel(s) with class code(s) [200]" in message
    # the bad pixel became nodata; the other pixels are stored
    counts = dict(region_db.execute(
        "select (vc).value::int, sum((vc).count) from (select st_valuecount(rast) vc from "
        "raster.tiles where catalog_id = %s) s group by 1", (cid,)).fetchall())
    assert set(counts) == {54}


def test_bad_rows_are_quarantined_and_good_rows_loaded(region_db, tmp_path) -> None:
    path = plots_csv(tmp_path, f"A,2015,{LON},{LAT},100\nB,2015,{LON},{LAT},-3\n"
                               f"C,2015,116.4,39.9,80\nD,2015,{LON + 0.01},{LAT},90\n")
    counts = load_plots(region_db, "willamette", path)
    assert counts["plots"] == 2
    q = region_db.execute("select item, rule from etl.quarantine order by item").fetchall()
    assert q == [("row 3", "value.range"), ("row 4", "geometry.inside_region")]
    log = region_db.execute("select status, rows_read, rows_quarantined from etl.loads "
                            "where loader = 'plots'").fetchone()
    assert log == ("succeeded", 4, 2)


def test_self_intersection_is_repaired_with_a_warning(region_db, tmp_path) -> None:
    path = _geojson(tmp_path, "z.geojson", [
        {"type": "Feature", "properties": {"code": "A"}, "geometry": BOWTIE}])
    assert load_zones(region_db, "willamette", path, zone_set="watershed") == 1
    warnings = region_db.execute("select warnings from etl.loads where loader = 'zones'"
                                 ).fetchone()[0]
    assert [w["rule"] for w in warnings] == ["geometry.repaired"]
    valid = region_db.execute("select st_isvalid(geom), st_geometrytype(geom) from "
                              "registry.zones").fetchone()
    assert valid == (True, "ST_MultiPolygon")


def test_database_failure_mid_load_rolls_back(region_db, tmp_path, monkeypatch) -> None:
    """A failure after some tiles were written leaves nothing behind."""
    import ecorest.etl.rasters as rasters

    calls = {"n": 0}
    real = rasters.raster_wkb

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(rasters, "raster_wkb", flaky)
    before = snapshot(region_db)
    with pytest.raises(OSError, match="disk on fire"):
        load_raster(region_db, "willamette", "landcover", WILLAMETTE / "lulc_samp_cur.tif",
                    epoch="1990", legend="willamette", show_progress=False)
    assert calls["n"] == 5
    assert snapshot(region_db) == before
    status = region_db.execute("select status, message from etl.loads where loader = 'raster'"
                               ).fetchone()
    assert status == ("failed", "disk on fire")
    # the tile partition created inside the transaction is gone too (DDL is transactional)
    parts = region_db.execute("select count(*) from pg_tables where schemaname = 'raster' "
                              "and tablename like 'tiles\\_%%'").fetchone()[0]
    assert parts == 0
