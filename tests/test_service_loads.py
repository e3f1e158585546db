"""Inputs of the ecosystem-service models: InVEST's tables as one services parameter set, polygons
burnt onto the grid by pixel centre, and the value ranges of the service layer kinds.

The bundled InVEST tables are read here with the csv module, independently of the loader; the
burnt layer is checked pixel by pixel against a grid worked out by hand."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import psycopg
import pyogrio.raw
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from ecorest.errors import LoadError
from ecorest.etl.burn import load_vector_layer
from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import LAYERS, load_raster
from ecorest.etl.regions import create_region
from helpers import WILLAMETTE, footprint, snapshot, write_raster

ES = WILLAMETTE / "ecosystem_services"
SDR = ES / "sdr" / "biophysical_table_sdr.csv"
AWY = ES / "water_yield" / "biophysical_table_awy.csv"
SENSITIVITY = ES / "habitat_quality" / "sensitivity_willamette.csv"
THREATS = ES / "habitat_quality" / "threats_willamette_local.csv"
HYDROPOWER_2013 = ES / "water_yield" / "Biophysical_Models_hydropower_orig.csv"
THREATS_2013 = ES / "habitat_quality" / "threats_samp_legacy.csv"
#: the test grid: 10 x 10 px of 30 m, upper-left corner (450 000, 4 950 000), UTM 10N
X0, Y0 = 450_000.0, 4_950_000.0


def tiny_region(conn: psycopg.Connection, tmp: Path, name: str = "basin") -> Path:
    """A 10 x 10 px region on its land cover's own grid (classes 1 and 2)."""
    (tmp / "legend.csv").write_text("class_code,name_en\n1,forest\n2,crops\n")
    load_legend(conn, "two", tmp / "legend.csv")
    lc = write_raster(tmp / "lc.tif", np.where(np.arange(10)[None, :] < 5, 1, 2)
                      .repeat(10, axis=0).astype(np.uint8), nodata=255, origin=(X0, Y0))
    create_region(conn, name, footprint(tmp, lc), align_to=str(lc), allow_non_equal_area=True,
                  legend="two")
    load_raster(conn, name, "landcover", lc, epoch="2000", show_progress=False)
    return lc


def stored(conn: psycopg.Connection, set_id: int) -> dict[tuple, tuple[float, str]]:
    rows = conn.execute("select parameter, class_code, stratum, value, unit from "
                        "registry.parameter_values where parameter_set_id = %s",
                        (set_id,)).fetchall()
    conn.rollback()
    return {(p, c, s): (v, u) for p, c, s, v, u in rows}


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def services(conn, files, name: str, region: str = "basin") -> tuple[int, int]:
    return load_params(conn, files, region=region, name=name, kind="services",
                       source_text="InVEST sample data")


def test_invest_tables_make_one_services_set(conn: psycopg.Connection, tmp_path: Path) -> None:
    """SDR + water-yield tables, and sensitivity + threat tables, each pair one set: every value
    equals the CSV's; MAX_DIST stays metres (InVEST >= 3.15); the same files again, in either
    order, change nothing."""
    tiny_region(conn, tmp_path)
    set_id, version = services(conn, [SDR, AWY], "bio")
    got = stored(conn, set_id)
    expected = {}
    for r in read_csv(SDR):
        expected[("usle_c", int(r["lucode"]), None)] = (float(r["usle_c"]), "1")
        expected[("usle_p", int(r["lucode"]), None)] = (float(r["usle_p"]), "1")
    for r in read_csv(AWY):  # Kc and LULC_veg: InVEST's own spelling of the columns varies
        expected[("kc", int(r["lucode"]), None)] = (float(r["Kc"]), "1")
        expected[("root_depth", int(r["lucode"]), None)] = (float(r["root_depth"]), "mm")
        expected[("lulc_veg", int(r["lucode"]), None)] = (float(r["lulc_veg"]), "1")
    assert got == expected and len(got) == 5 * 66
    # etk and root_depth of the SDR table are not read (root_depth comes from the AWY table)
    message, options = conn.execute("select message, options from etl.loads where loader = "
                                    "'params' order by load_id desc limit 1").fetchone()
    conn.rollback()
    assert "etk" in options["columns_not_read"]["biophysical_table_sdr.csv"]
    assert "columns not read" in message

    hq_id, _ = services(conn, [SENSITIVITY, THREATS], "hq")
    got = stored(conn, hq_id)
    expected = {}
    threats = read_csv(THREATS)
    names = [t["THREAT"] for t in threats]
    for r in read_csv(SENSITIVITY):
        expected[("habitat", int(r["lucode"]), None)] = (float(r["habitat"]), "1")
        for t in names:
            expected[("threat_sensitivity", int(r["lucode"]), t)] = (float(r[t]), "1")
    for t in threats:
        expected[("threat_max_dist", None, t["THREAT"])] = (float(t["MAX_DIST"]), "m")
        expected[("threat_weight", None, t["THREAT"])] = (float(t["WEIGHT"]), "1")
        expected[("threat_decay", None, t["THREAT"])] = (
            {"linear": 0.0, "exponential": 1.0}[t["DECAY"]], "1")
    assert got == expected
    assert got[("threat_max_dist", None, "crops")] == (8000.0, "m")  # 8 km, not 8000 km
    assert got[("threat_decay", None, "roads3")] == (1.0, "1")       # exponential

    before = snapshot(conn)
    assert services(conn, [AWY, SDR], "bio") == (set_id, version)    # any order: a no-op
    assert services(conn, [SENSITIVITY, THREATS], "hq")[0] == hq_id
    assert snapshot(conn) == before


def _csv(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def test_max_dist_units(conn: psycopg.Connection, tmp_path: Path) -> None:
    """A MAX_DIST_KM column is kilometres (x 1000 m), MAX_DIST_M metres; a bare MAX_DIST whose
    values all look like kilometres, and a 2013 table without DECAY, are refused saying how to
    convert, storing nothing."""
    tiny_region(conn, tmp_path)
    sens = _csv(tmp_path, "sens.csv", "lucode,habitat,crops,roads\n1,1,0.5,0.25\n2,0,0,0\n")
    km = _csv(tmp_path, "km.csv", "THREAT,MAX_DIST_KM,WEIGHT,DECAY\ncrops,8,0.7,linear\n"
                                  "roads,0.5,1,Exponential\n")
    got = stored(conn, services(conn, [sens, km], "hq")[0])
    assert got[("threat_max_dist", None, "crops")] == (8000.0, "m")
    assert got[("threat_max_dist", None, "roads")] == (500.0, "m")
    assert got[("threat_decay", None, "roads")] == (1.0, "1")
    assert got[("threat_sensitivity", 1, "roads")] == (0.25, "1")
    before = snapshot(conn)
    looks_km = _csv(tmp_path, "t.csv", "THREAT,MAX_DIST,WEIGHT,DECAY\ncrops,8,0.7,linear\n"
                                       "roads,0.5,1,exponential\n")
    with pytest.raises(LoadError) as err:
        services(conn, [sens, looks_km], "hq2")
    text = str(err.value)
    assert "t.csv, column MAX_DIST" in text and "look like kilometres" in text
    assert "MAX_DIST_KM" in text and "[rule params.format]" in text
    assert snapshot(conn) == before
    # root_depth may be empty where InVEST does not read it (LULC_veg 0)
    awy = _csv(tmp_path, "awy.csv", "lucode,Kc,root_depth,LULC_veg\n1,0.9,2000,1\n2,0.7,,0\n")
    got = stored(conn, services(conn, awy, "awy")[0])
    assert got == {("kc", 1, None): (0.9, "1"), ("root_depth", 1, None): (2000.0, "mm"),
                   ("lulc_veg", 1, None): (1.0, "1"), ("kc", 2, None): (0.7, "1"),
                   ("lulc_veg", 2, None): (0.0, "1")}
    metres = _csv(tmp_path, "m.csv", "THREAT,MAX_DIST_M,WEIGHT,DECAY\ncrops,8,0.7,linear\n"
                                     "roads,0.5,1,exponential\n")
    got = stored(conn, services(conn, [sens, metres], "hq3")[0])
    assert got[("threat_max_dist", None, "crops")] == (8.0, "m")
    before = snapshot(conn)
    with pytest.raises(LoadError) as err:
        services(conn, THREATS_2013, "legacy")
    assert "threats_samp_legacy.csv" in str(err.value) and "DECAY" in str(err.value)
    assert snapshot(conn) == before


BAD_TABLES = [
    # (files: name -> text, what the message must hold)
    ({"sdr.csv": "lucode,usle_c,usle_p\n1,0.2,0.5\n2,1.5,0.5\n"},
     ["sdr.csv, row 3, column usle_c", "usle_c = 1.5", "[rule value.range]"]),
    ({"awy.csv": "lucode,Kc,root_depth,LULC_veg\n1,0.9,2000,1\n2,0.7,500,0.5\n"},
     ["awy.csv, row 3, column LULC_veg", "lulc_veg = 0.5", "[rule value.code]"]),
    ({"awy.csv": "lucode,Kc,root_depth\n1,0.9,2000\n"},
     ["awy.csv", "lulc_veg", "[rule table.columns]"]),
    ({"awy.csv": "lucode,Kc,root_depth,LULC_veg\n1,0.9,,1\n2,0.7,,0\n"},
     ["awy.csv, row 2: root_depth (of a class with LULC_veg 1) is empty",
      "[rule value.required]"]),
    ({"hydro.csv": "lucode,etk,root_depth\n1,900,2000\n"},
     ["hydro.csv, column etk", "Kc = etk / 1000", "LULC_veg", "[rule params.format]"]),
    ({"t.csv": "THREAT,MAX_DIST,WEIGHT,DECAY\ncrops,800,0.7,quadratic\n",
      "s.csv": "lucode,habitat,crops\n1,1,0.5\n"},
     ["t.csv, row 2", "quadratic", "[rule value.code]"]),
    ({"t.csv": "THREAT,MAX_DIST,WEIGHT,DECAY\ncrops,800,0.7,linear\nRoads 1!,800,0.5,linear\n",
      "s.csv": "lucode,habitat,crops\n1,1,0.5\n"},
     ["t.csv, row 3", "threat name", "[rule value.type]"]),
    ({"t.csv": "THREAT,MAX_DIST,WEIGHT,DECAY\ncrops,800,0.7,linear\nurban,900,1,linear\n",
      "s.csv": "lucode,habitat,crops\n1,1,0.5\n"},
     ["urban", "no sensitivity column", "[rule params.format]"]),
    ({"t.csv": "THREAT,MAX_DIST,WEIGHT,DECAY\ncrops,0,0.7,linear\nurban,900,1,linear\n",
      "s.csv": "lucode,habitat,crops,urban\n1,1,0.5,0.2\n"},
     ["t.csv, row 2, column MAX_DIST", "threat_max_dist = 0", "[rule value.range]"]),
    ({"a.csv": "lucode,Kc,root_depth,LULC_veg\n1,0.9,2000,1\n",
      "b.csv": "lucode,Kc,root_depth,LULC_veg\n1,0.8,2000,1\n"},
     ["b.csv, row 2, column Kc", "also in a.csv, row 2, column Kc", "[rule id.unique]"]),
    ({"s.csv": "lucode,habitat,crops\n1,1,0.5\n1,0,0.2\n"},
     ["s.csv, row 3", "occurs 2 times", "[rule id.unique]"]),
]


def test_bad_tables_are_named_and_store_nothing(conn: psycopg.Connection,
                                                tmp_path: Path) -> None:
    """Each bad InVEST table is refused naming file, row/column and rule; nothing is stored."""
    tiny_region(conn, tmp_path)
    before = snapshot(conn)
    for k, (files, wanted) in enumerate(BAD_TABLES):
        folder = tmp_path / f"case{k}"
        folder.mkdir()
        paths = [_csv(folder, n, t) for n, t in files.items()]
        with pytest.raises(LoadError) as err:
            services(conn, paths if len(paths) > 1 else paths[0], f"bad{k}")
        text = str(err.value)
        for w in wanted:
            assert w in text, (k, w, text)
    with pytest.raises(LoadError) as err:  # several files: services sets only
        load_params(conn, [SDR, AWY], region="basin", name="x", kind="carbon_pools",
                    source_text="t")
    assert "only for kind services" in str(err.value)
    assert snapshot(conn) == before


def write_polygons(path: Path, polygons: list[tuple[list, float | None]]) -> Path:
    """A shapefile (or GeoJSON) of rectangles (x0, y0, x1, y1 in metres from the grid's
    upper-left corner, y downwards) with a field ACCESS, in EPSG:26910."""
    geoms = [shapely.box(X0 + a, Y0 - d, X0 + c, Y0 - b) for (a, b, c, d), _ in polygons]
    values = np.array([v for _, v in polygons], dtype=float)
    pyogrio.raw.write(str(path), np.array(shapely.to_wkb(geoms), dtype=object),
                      field_data=[values], fields=["ACCESS"], crs="EPSG:26910",
                      driver="ESRI Shapefile" if path.suffix == ".shp" else "GeoJSON",
                      geometry_type="Polygon")
    return path


def grid_values(conn: psycopg.Connection, region: str, layer: str) -> np.ndarray:
    """The stored 10 x 10 px of a layer under the land-cover file (NaN = nodata), from the
    one tile (the region grid may start a pixel before the file: its origin says where)."""
    [(vals, ox, oy)] = conn.execute(
        "select st_dumpvalues(rast, 1), r.origin_x, r.origin_y from raster.tiles t join "
        "raster.catalog c using (catalog_id) join registry.regions r using (region_id) "
        "where r.name = %s and c.layer = %s and c.is_current", (region, layer)).fetchall()
    conn.rollback()
    r0, c0 = round((oy - Y0) / 30), round((X0 - ox) / 30)
    grid = np.array([[np.nan if v is None else v for v in row] for row in vals])
    return grid[r0:r0 + 10, c0:c0 + 10]


def test_polygons_burnt_by_pixel_centre(conn: psycopg.Connection, tmp_path: Path) -> None:
    """Three rectangles on a 10 x 10 grid of 30 m pixels (centres at 15, 45, 75 ... m):

    A (0..100 m east, 0..70 m south, ACCESS 0.3) holds the centres of columns 0-2 and rows 0-1
    (column 3's centre, 105 m, is outside although A covers a third of that pixel);
    B (140..230 m, 125..200 m, 0.8): columns 5-7, rows 4-6;
    C (50..100 m, 0..40 m, 0.5), later than A: column 2, row 0 — the later polygon wins.
    Every other pixel takes the fill, 1 (InVEST: fully accessible)."""
    tiny_region(conn, tmp_path)
    shp = write_polygons(tmp_path / "access.shp", [((0, 0, 100, 70), 0.3),
                                                   ((140, 125, 230, 200), 0.8),
                                                   ((50, 0, 100, 40), 0.5)])
    ids = load_vector_layer(conn, "basin", "access", shp, field="access", fill=1.0,
                            epoch="2000", show_progress=False)
    assert len(ids) == 1
    expected = np.ones((10, 10))
    expected[0:2, 0:3] = 0.3
    expected[4:7, 5:8] = 0.8
    expected[0, 2] = 0.5
    np.testing.assert_allclose(grid_values(conn, "basin", "access"), expected, rtol=1e-6)
    source, layer, sha = conn.execute(
        "select c.source_path, c.layer, l.source_sha256 from raster.catalog c join etl.loads l "
        "using (load_id) where c.catalog_id = %s", (ids[0],)).fetchone()
    conn.rollback()
    assert source == str(shp) and layer == "access" and len(sha) == 64
    before = snapshot(conn)
    assert load_vector_layer(conn, "basin", "access", shp, field="ACCESS", fill=1.0,
                             epoch="2000", show_progress=False) == []
    assert snapshot(conn) == before
    # a changed attribute (the .dbf only) is a new file: it replaces the epoch
    write_polygons(tmp_path / "access.shp", [((0, 0, 100, 70), 0.2)])
    assert load_vector_layer(conn, "basin", "access", shp, field="ACCESS", fill=1.0,
                             epoch="2000", show_progress=False)
    expected = np.ones((10, 10))
    expected[0:2, 0:3] = 0.2
    np.testing.assert_allclose(grid_values(conn, "basin", "access"), expected, rtol=1e-6)

    # a mask burns 1 inside the polygons and 0 elsewhere, without a field
    gj = write_polygons(tmp_path / "reserve.geojson", [((140, 125, 230, 200), None)])
    load_vector_layer(conn, "basin", "mask_reserve", gj, epoch="2000", show_progress=False)
    mask = np.zeros((10, 10))
    mask[4:7, 5:8] = 1
    np.testing.assert_array_equal(grid_values(conn, "basin", "mask_reserve"), mask)

    before = snapshot(conn)
    bad = write_polygons(tmp_path / "bad.geojson", [((0, 0, 100, 70), 0.3),
                                                    ((140, 125, 230, 200), 1.5)])
    with pytest.raises(LoadError) as err:
        load_vector_layer(conn, "basin", "access", bad, field="ACCESS", epoch="2001")
    assert "bad.geojson, feature 2" in str(err.value) and "[rule value.range]" in str(err.value)
    with pytest.raises(LoadError) as err:
        load_vector_layer(conn, "basin", "access", bad, field="KIND", epoch="2001")
    assert "missing required column(s) ['KIND']" in str(err.value)
    with pytest.raises(LoadError) as err:
        load_vector_layer(conn, "basin", "access", bad, epoch="2001")
    assert "--field" in str(err.value) and "[rule option.value]" in str(err.value)
    assert snapshot(conn) == before


def test_command_line(db_url: str, tmp_path: Path) -> None:
    """`load params REGION FILE FILE --kind services` and `load raster --field` as commands."""
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path)
    shp = write_polygons(tmp_path / "access.shp", [((0, 0, 100, 70), 0.3)])
    from ecorest.cli import cli

    base = ["-q", "--dsn", db_url, "--home", str(tmp_path / "home")]
    result = CliRunner().invoke(cli, [*base, "load", "params", "basin", str(SENSITIVITY),
                                      str(THREATS), "--name", "hq", "--kind", "services",
                                      "--source", "InVEST"], env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "parameter set hq (region basin) version 1" in \
        result.output, result.output
    result = CliRunner().invoke(cli, [*base, "load", "raster", "basin", "--layer", "access",
                                      "--field", "ACCESS", "--fill", "1", "--epoch", "2000",
                                      str(shp)], env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "1 epoch(s) loaded as access" in result.output, \
        result.output
    result = CliRunner().invoke(cli, [*base, "load", "raster", "basin", "--layer", "access",
                                      "--field", "ACCESS", "--scale", "2", "--epoch", "2000",
                                      str(shp)], env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "--scale is for rasters" in result.output, result.output


#: the service layer kinds and a value outside each one's range
OUT_OF_RANGE = {**{k: LAYERS[k].valid_range[1] * 2 + 1 for k in (
    "erosivity", "erodibility", "precip", "et0", "aet", "pawc", "soil_depth", "access",
    "wind_factor", "soil_sand", "soil_silt", "soil_clay", "soil_om", "soil_caco3",
    "snow_cover", "lithology")}, "threat_roads": 1.5, "mask_reserve": 0.5}


def test_service_layers_reject_out_of_range(conn: psycopg.Connection, tmp_path: Path) -> None:
    """Every service layer kind refuses a file of out-of-range values naming the layer, its
    range and unit hint (a negative value too); a single bad pixel of 100 is quarantined and
    stored as nodata; valid values load as they are."""
    tiny_region(conn, tmp_path)
    before = snapshot(conn)
    for layer, value in OUT_OF_RANGE.items():
        for v in (value, -1.0):
            path = write_raster(tmp_path / f"{layer}.tif", np.full((10, 10), v, np.float32),
                                origin=(X0, Y0), nodata=-9999.0)
            with pytest.raises(LoadError) as err:
                load_raster(conn, "basin", layer, path, epoch="2000", show_progress=False)
            text = str(err.value)
            lo, hi = LAYERS[layer].valid_range if layer in LAYERS else (0, 1)
            assert f"100 of 100 valid pixels (100.0 %) break rule raster.value_range " \
                   f"({layer} lies in [{lo:g}, {hi:g}]" in text, (layer, text)
            assert f"found {v:g} … {v:g}" in text, (layer, text)
    assert snapshot(conn) == before
    data = np.zeros((10, 10), np.float32)
    data[3, 4] = 1.0
    data[7, 7] = 0.5   # a mask holds whole numbers only: quarantined
    ids = load_raster(conn, "basin", "mask_reserve",
                      write_raster(tmp_path / "m.tif", data, origin=(X0, Y0), nodata=-9999.0),
                      epoch="2000", show_progress=False)
    got = grid_values(conn, "basin", "mask_reserve")
    want = np.zeros((10, 10))
    want[3, 4] = 1
    want[7, 7] = np.nan
    np.testing.assert_array_equal(got, want)
    rule, = conn.execute("select rule from etl.quarantine q join raster.catalog c on "
                         "c.load_id = q.load_id where c.catalog_id = %s", (ids[0],)).fetchone()
    conn.rollback()
    assert rule == "raster.value_range"
    threat = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    load_raster(conn, "basin", "threat_roads",
                write_raster(tmp_path / "t.tif", threat, origin=(X0, Y0), nodata=-9999.0),
                epoch="2000", show_progress=False)
    np.testing.assert_array_equal(grid_values(conn, "basin", "threat_roads"), threat)


def test_demo_service_regions(conn: psycopg.Connection, tmp_path: Path) -> None:
    """The demo's two service regions on the bundled InVEST inputs: every grid, read here with
    rasterio inside the watersheds (pixel centres, shapely/GDAL), has the same pixel count and
    sum as stored — erodibility lacks K on 6 342 pixels, as its SOURCE.md counts; the access
    layer equals GDAL's rasterisation of access_samp.shp (InVEST's rule: ACCESS by pixel
    centre, 1 where no polygon) on every pixel; a second pass loads nothing."""
    from rasterio.features import geometry_mask, rasterize

    from ecorest import demo
    from helpers import DERIVED

    load_legend(conn, "willamette", DERIVED / "willamette_legend.csv")

    def raster(region, layer, path, **kw):
        return lambda c: load_raster(c, region, layer, path, show_progress=False, **kw)

    steps = demo.services_steps(WILLAMETTE.parent, DERIVED, raster)
    for _, step in steps:
        step(conn)
        conn.rollback()
    meta, _, wkb, _ = pyogrio.raw.read(WILLAMETTE / "watersheds.shp")
    watersheds = shapely.union_all(shapely.from_wkb(wkb))
    for layer, path, count in (
            ("erodibility", ES / "sdr" / "derived_erodibility_demgrid.tif", 154_991),
            ("precip", ES / "water_yield" / "derived_precip_demgrid.tif", 161_333),
            ("dem", WILLAMETTE / "dem_30m.tif", 161_333)):
        with rasterio.open(path) as src:
            a, nodata, transform = src.read(1).astype(np.float64), src.nodata, src.transform
        inside = geometry_mask([watersheds], out_shape=a.shape, transform=transform, invert=True)
        ok = inside & (a != nodata) if nodata is not None else inside
        n, total = conn.execute(
            "select sum((st_summarystats(rast)).count), sum((st_summarystats(rast)).sum) "
            "from raster.tiles join raster.catalog c using (catalog_id) join registry.regions r "
            "using (region_id) where r.name = 'willamette_services' and c.layer = %s and "
            "c.is_current", (layer,)).fetchone()
        conn.rollback()
        assert int(n) == ok.sum() == count, layer
        assert float(total) == pytest.approx(a[ok].sum(), rel=1e-9), layer
    assert 161_333 - 154_991 == 6_342
    # access: InVEST's rasterisation of the ACCESS field on the habitat grid, pixel by pixel
    meta, _, wkb, fields = pyogrio.raw.read(ES / "habitat_quality" / "access_samp.shp")
    access = fields[list(meta["fields"]).index("ACCESS")]
    with rasterio.open(WILLAMETTE / "hq_epochs_subarea" / "lc_samp_cur_b.tif") as src:
        shape, transform = src.shape, src.transform
    expected = rasterize(list(zip(shapely.from_wkb(wkb), access, strict=True)), out_shape=shape,
                         transform=transform, fill=1.0, dtype="float32")
    rows = conn.execute(
        "select tile_x, tile_y, st_dumpvalues(rast, 1), r.origin_x, r.origin_y "
        "from raster.tiles join raster.catalog c using (catalog_id) join registry.regions r "
        "using (region_id) where r.name = 'willamette_habitat' and c.layer = 'access'").fetchall()
    conn.rollback()
    grid = np.full((8 * 256, 8 * 256), np.nan)
    for tx, ty, vals, _, _ in rows:
        grid[ty * 256:(ty + 1) * 256, tx * 256:(tx + 1) * 256] = np.array(vals, dtype=float)
    ox, oy = rows[0][3:]
    r0, c0 = round((oy - transform.f) / 30), round((transform.c - ox) / 30)
    got = grid[r0:r0 + shape[0], c0:c0 + shape[1]]
    assert np.array_equal(got, expected.astype(np.float64))
    counts = dict(conn.execute(
        "select ps.name, count(*) from registry.parameter_sets ps join "
        "registry.parameter_values using (parameter_set_id) where ps.kind = 'services' "
        "group by 1").fetchall())
    threats = conn.execute("select count(distinct layer) from raster.catalog where layer like "
                           "'threat%' and epoch_label in ('1990', '2050')").fetchone()[0]
    conn.rollback()
    assert counts == {"invest_willamette_services": 5 * 66,
                      "invest_willamette_habitat": 61 + 61 * 7 + 3 * 7} and threats == 7
    before = snapshot(conn)
    for _, step in steps:
        step(conn)
        conn.rollback()
    assert snapshot(conn) == before
