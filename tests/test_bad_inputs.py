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


def params(text: str, kind: str, name: str = "x", file: str = "k.csv"):
    return lambda t: (lambda conn: load_params(conn, _csv(t, file, text), name=name, kind=kind,
                                               source_text="test"))


def legend(text: str):
    return lambda t: (lambda conn: load_legend(conn, "mine", _csv(t, "l.csv", text)))


def plots(text: str, **kw):
    return lambda t: (lambda conn: load_plots(conn, "willamette", _csv(t, "p.csv", text),
                                              strict=True, **kw))


def projects(**props):
    return lambda t: (lambda conn: load_projects(
        conn, "willamette", _geojson(t, "p.geojson", [_project(**props)]), strict=True))


def projects_zh(**props):
    base = {"项目编号": "P1", "项目名称": "坡面造林", "项目类型": "人工造林",
            "开始日期": "2015-03-01"}
    feature = {"type": "Feature", "properties": {**base, **props}, "geometry": _square()}
    return lambda t: (lambda conn: load_projects(
        conn, "willamette", _geojson(t, "xm.geojson", [feature]), strict=True))


def _f32(tmp, name="f.tif", value=0.5):
    return _raster(tmp, name, np.full((64, 64), value, np.float32), origin=(X0, Y0))


def huge_csv(tmp: Path, name: str, header: str) -> Path:
    """A sparse file of 300 MB (no disk used) that starts like a table."""
    p = tmp / name
    with open(p, "wb") as fh:
        fh.write(header.encode() + b"\n")
        fh.truncate(300 * 2**20)
    return p


def region_with_pixel(tmp: Path, size: float):
    from ecorest.etl.regions import create_region

    boundary = _geojson(tmp, "b.geojson", [{"type": "Feature", "properties": {},
                                             "geometry": _square()}])
    return lambda conn: create_region(conn, "tiny_px", boundary, pixel_size=size)


PLOT_ROW = f"A,2015,{LON},{LAT},100\n"
POOLS = "parameter,class_code,pool,value,unit\n"
WEIGHTS = "parameter,stratum,value,unit\n"

# (case id, builder, rule, text, item the message names: 'row 2', 'band 1', '--scale' ...)
CASES_V2: list[tuple[str, Callable, str, str, str]] = [
    # dates: strict, naming the value
    ("plots-impossible-date", plots(f"plot_id,date,lon,lat,agb (t/ha)\nA,2016-02-30,{LON},"
                                    f"{LAT},100\n"),
     "value.type", "'2016-02-30' is not a valid date", "row 2"),
    ("plots-impossible-month", plots(f"plot_id,date,lon,lat,agb (t/ha)\nA,2016-13-01,{LON},"
                                     f"{LAT},100\n"),
     "value.type", "'2016-13-01' is not a valid date", "row 2"),
    ("plots-ancient-year", plots(f"plot_id,year,lon,lat,agb (t/ha)\nA,1066,{LON},{LAT},100\n"),
     "value.type", "'1066' is not a valid date", "row 2"),
    ("projects-impossible-start", projects(start_date="2015-02-29"),
     "value.type", "'2015-02-29' is not a valid date", "feature 1"),
    ("projects-impossible-end", projects(end_date="2019-04-31"),
     "value.type", "'2019-04-31' is not a valid date", "feature 1"),
    ("samples-impossible-date", lambda t: (lambda conn: load_samples(
        conn, "willamette", _csv(t, "s.csv", "sample_id,lon,lat,reference_class,date\n"
                                             f"S1,{LON},{LAT},54,2019-02-29\n"), strict=True)),
     "value.type", "'2019-02-29' is not a valid date", "row 2"),
    ("raster-epoch-impossible-date", lambda t: ndvi(_f32(t), epoch="2016-02-30"),
     "raster.epoch", "'2016-02-30' is not a date", "band 1"),
    ("raster-epoch-not-a-year", lambda t: ndvi(_f32(t), epoch="20161"),
     "raster.epoch", "--epoch '20161' is not a year", "band 1"),
    ("raster-epoch-ancient", lambda t: ndvi(_f32(t), epoch="1066"),
     "raster.epoch", "between 1800 and 2200", "band 1"),
    ("raster-epoch-day-366-of-2015", lambda t: (lambda conn: load_raster(
        conn, "willamette", "ndvi", _f32(t, "MOD13A1_NDVI_2015_366.tif"),
        epoch_from="filename", show_progress=False)),
     "raster.epoch", "day 366 of 2015 does not exist", "band 1"),
    ("raster-band-description-impossible-date", lambda t: (lambda conn: load_raster(
        conn, "willamette", "ndvi", write_raster(
            t / "stack.tif", np.full((2, 64, 64), 0.5, np.float32), origin=(X0, Y0),
            descriptions=["X2001.01.01", "X2001.02.30"]),
        epoch_from="band", show_progress=False)),
     "raster.epoch", "'2001.02.30' is not a date", "band 2"),
    # numeric options
    ("raster-scale-nan", lambda t: ndvi(_f32(t), scale=float("nan")),
     "option.value", "--scale nan must be a finite number", "--scale"),
    ("raster-scale-inf", lambda t: ndvi(_f32(t), scale=float("inf")),
     "option.value", "--scale inf must be a finite number", "--scale"),
    ("raster-scale-zero", lambda t: ndvi(_f32(t), scale=0.0),
     "option.value", "would turn every stored value into 0", "--scale"),
    ("raster-offset-nan", lambda t: ndvi(_f32(t), offset=float("nan")),
     "option.value", "--offset nan must be a finite number", "--offset"),
    ("raster-nodata-outside-uint8", lambda t: landcover(_lc(t), nodata=300),
     "option.value", "not a value of the file's data type uint8", "--nodata"),
    ("raster-nodata-negative-uint8", lambda t: landcover(_lc(t), nodata=-1),
     "option.value", "whole numbers 0 … 255", "--nodata"),
    ("raster-nodata-fraction-int16", lambda t: ndvi(_raster(
        t, "i.tif", np.full((64, 64), 5000, np.int16), origin=(X0, Y0)), scale=1e-4,
        nodata=1.5), "option.value", "int16", "--nodata"),
    ("raster-nodata-outside-float32", lambda t: ndvi(_f32(t), nodata=1e40),
     "option.value", "outside the range of the file's data type float32", "--nodata"),
    ("raster-nodata-nan-option", lambda t: ndvi(_f32(t), nodata=float("inf")),
     "option.value", "--nodata inf must be a finite number", "--nodata"),
    ("raster-valid-range-empty", lambda t: (lambda conn: load_raster(
        conn, "willamette", "factor_erosion", _f32(t), epoch="2020", valid_min=5.0,
        valid_max=1.0, show_progress=False)),
     "option.value", "must be below --valid-max 1", "--valid-min"),
    ("region-pixel-size-mm", lambda t: region_with_pixel(t, 0.001),
     "option.value", "--pixel-size 0.001 is not a sane grid pixel size", "--pixel-size"),
    ("region-pixel-size-nan", lambda t: region_with_pixel(t, float("nan")),
     "option.value", "--pixel-size nan is not a sane grid pixel size", "--pixel-size"),
    ("plots-carbon-fraction-nan", plots("plot_id,year,lon,lat,agb (t/ha)\n" + PLOT_ROW,
                                        carbon_fraction=float("nan")),
     "value.range", "carbon fraction = nan is outside the valid range", "--carbon-fraction"),
    ("plots-wood-density-kg-per-m3", plots("plot_id,year,lon,lat,tree_id,dbh\n"
                                           f"A,2015,{LON},{LAT},1,20\n", wood_density=570.0),
     "value.range", "wood density (g/cm³) = 570.0", "--wood-density"),
    ("plots-plot-area-zero", plots("plot_id,year,lon,lat,tree_id,dbh\n"
                                   f"A,2015,{LON},{LAT},1,20\n", plot_area_m2=0.0),
     "value.range", "plot area (m²) = 0.0", "--plot-area-m2"),
    # tables too large to read
    ("plots-csv-of-300-mb", lambda t: (lambda conn: load_plots(
        conn, "willamette", huge_csv(t, "big.csv", "plot_id,year,lon,lat,agb (t/ha)"))),
     "file.size", "is 300 MB, more than the 256 MB a table may have", "big.csv"),
    ("params-csv-of-300-mb", lambda t: (lambda conn: load_params(
        conn, huge_csv(t, "big.csv", "parameter,value,unit"), name="x", kind="other",
        source_text="test")), "file.size", "more than the 256 MB", "big.csv"),
    # Chinese headers
    ("plots-chinese-header-negative-agb", plots(
        f"样地号,调查日期,经度,纬度,地上生物量（t/ha）\nA,2015-06-01,{LON},{LAT},-5\n"),
     "value.range", "地上生物量（t/ha） = -5.0 is outside the valid range [0, )", "row 2"),
    ("plots-chinese-header-without-plot-id", lambda t: (lambda conn: load_plots(
        conn, "willamette", _csv(t, "p.csv", f"调查日期,经度,纬度,地上生物量 (t/ha)\n"
                                             f"2015-06-01,{LON},{LAT},5\n"))),
     "table.columns", "missing required column(s) ['plot_id']", "p.csv"),
    ("plots-chinese-tree-dbh-out-of-range", plots(
        f"样地号,调查日期,经度,纬度,树号,胸径\nA,2015-06-01,{LON},{LAT},1,900\n"),
     "value.range", "胸径 = 900.0 is outside the valid range [0.1, 500]", "row 2"),
    ("projects-chinese-unknown-type", projects_zh(项目类型="停车场"),
     "value.code", "'停车场' is not one of", "feature 1"),
    ("projects-chinese-future-start", projects_zh(开始日期="2091-01-01"),
     "value.date_future", "开始日期 = 2091-01-01 lies in the future", "feature 1"),
    ("zones-chinese-unknown-level", lambda t: (lambda conn: load_zones(
        conn, "willamette", _geojson(t, "z.geojson", [
            {"type": "Feature", "properties": {"行政区划代码": "610603", "名称": "安塞区",
                                               "级别": "村"}, "geometry": _square()}]),
        strict=True)), "value.code", "级别 = '村' is not one of", "feature 1"),
    # parameter sets against their kind's schema
    ("params-negative-density", params(POOLS + "carbon_density,1,agb,-50,t C/ha\n",
                                       "carbon_pools"),
     "value.range", "carbon_density = -50.0 is outside the valid range [0, 1500]", "row 2"),
    ("params-density-in-g-per-m2-as-t", params(POOLS + "carbon_density,1,soc,15000,t C/ha\n",
                                               "carbon_pools"),
     "value.range", "look like kg C/ha or g C/m²", "row 2"),
    ("params-misspelt-parameter", params(POOLS + "carbon_density,1,agb,80,t C/ha\n"
                                                 "carbon_densty,1,bgb,20,t C/ha\n",
                                         "carbon_pools"),
     "params.parameter", "did you mean 'carbon_density'?", "row 3"),
    ("params-unit-kg-per-m2", params(POOLS + "carbon_density,1,soc,8.5,kg C/m2\n",
                                     "carbon_pools"),
     "value.unit", "multiply by 10 (1 kg C/m² = 10 t C/ha)", "row 2"),
    ("params-kg-per-m2-values-as-t", params(POOLS + "carbon_density,1,soc,3.2,t C/ha\n"
                                                    "carbon_density,2,soc,1.1,t C/ha\n"
                                                    "carbon_density,1,agb,8,t C/ha\n",
                                            "carbon_pools"),
     "params.magnitude", "these look like kg C/m²", "column value"),
    ("params-dry-matter-density", params(POOLS + "carbon_density,1,agb,150,t/ha\n",
                                         "carbon_pools"),
     "value.unit", "is dry matter", "row 2"),
    ("params-density-without-pool", params("parameter,class_code,value,unit\n"
                                           "carbon_density,1,80,t C/ha\n", "carbon_pools"),
     "value.required", "pool (of carbon_density", "row 2"),
    ("params-density-total-pool", params(POOLS + "carbon_density,1,total,80,t C/ha\n",
                                         "carbon_pools"),
     "value.code", "pool = 'total' is not one of", "row 2"),
    ("params-density-without-class", params("parameter,pool,value,unit\n"
                                            "carbon_density,agb,80,t C/ha\n", "carbon_pools"),
     "value.required", "class_code (of carbon_density)", "row 2"),
    ("params-invest-negative", params("lucode,C_above,C_below,C_soil,C_dead\n1,-5,0,50,0\n",
                                      "carbon_pools"),
     "value.range", "carbon_density = -5.0", "row 2, column C_above"),
    ("params-invest-as-weights", params("lucode,C_above,C_below,C_soil,C_dead\n1,5,0,50,0\n",
                                        "weights"),
     "params.parameter", "not a parameter of kind weights", "row 2, column C_above"),
    ("params-infinite-value", params(POOLS + "carbon_density,1,agb,inf,t C/ha\n",
                                     "carbon_pools"),
     "value.type", "'inf' is not a valid number", "row 2"),
    ("params-weights-all-zero", params(WEIGHTS + "degradation_weight,ndvi_trend,0,1\n"
                                                 "degradation_weight,slope,0,1\n", "weights"),
     "params.weights", "every degradation_weight of the set is 0", "column value"),
    ("params-weight-in-the-wrong-group", params(WEIGHTS + "importance_weight,slope,1,1\n",
                                                "weights"),
     "params.weights", "a degradation factor: its weight is a degradation_weight", "row 2"),
    ("params-ahp-across-groups", params(WEIGHTS + "ahp_pairwise,ndvi_trend>carbon_density,3,1\n",
                                        "weights"),
     "params.ahp", "compare the factors of one group only", "row 2"),
    ("params-ahp-outside-saaty-scale", params(WEIGHTS + "ahp_pairwise,ndvi_trend>slope,20,1\n",
                                              "weights"),
     "value.range", "ahp_pairwise = 20.0 is outside the valid range [1/9, 9]", "row 2"),
    ("params-ahp-not-a-pair", params(WEIGHTS + "ahp_pairwise,ndvi_trend-slope,3,1\n",
                                     "weights"),
     "params.ahp", "'ndvi_trend-slope' is not a pair", "row 2"),
    ("params-ahp-unknown-factor", params(WEIGHTS + "ahp_pairwise,ndvi_trend>erosion,3,1\n",
                                         "weights"),
     "params.ahp", "'erosion' are neither built-in factors", "row 2"),
    ("params-ahp-not-reciprocal", params(WEIGHTS + "ahp_pairwise,ndvi_trend>slope,3,1\n"
                                                   "ahp_pairwise,slope>ndvi_trend,3,1\n",
                                         "weights"),
     "params.ahp", "slope>ndvi_trend = 3 contradicts ndvi_trend>slope = 3 (row 2)", "row 3"),
    ("params-ahp-self", params(WEIGHTS + "ahp_pairwise,slope>slope,3,1\n", "weights"),
     "params.ahp", "not judged against itself", "row 2"),
    ("params-growth-negative", params(POOLS + "growth_rate,2,agb,-2,t C/ha/yr\n",
                                      "growth_rates"),
     "value.range", "growth_rate = -2.0 is outside the valid range [0, 50]", "row 2"),
    ("params-growth-without-per-year", params(POOLS + "growth_rate,2,agb,2,t C/ha\n",
                                              "growth_rates"),
     "value.unit", "unit 't C/ha' is not one of t C/ha/yr", "row 2"),
    ("params-severity-above-one", params("parameter,class_code,stratum,value,unit\n"
                                         "severity,41,71,1.5,1\n", "transition_severity"),
     "value.range", "severity = 1.5 is outside the valid range [0, 1]", "row 2"),
    ("params-severity-stratum-not-a-code", params("parameter,class_code,stratum,value,unit\n"
                                                  "severity,41,grass,0.5,1\n",
                                                  "transition_severity"),
     "value.type", "stratum = 'grass' is not a valid class code", "row 2"),
    # --map FIELD=COLUMN
    ("plots-map-unknown-field", plots("plot_id,year,lon,lat,agb (t/ha)\n" + PLOT_ROW,
                                      mapping={"plotid": "plot_id"}),
     "option.value", "--map plotid=plot_id names no field of this input", "--map"),
    ("zones-map-missing-column", lambda t: (lambda conn: load_zones(
        conn, "willamette", _geojson(t, "z.geojson", [
            {"type": "Feature", "properties": {"code": "A"}, "geometry": _square()}]),
        zone_set="ws", mapping={"zone_code": "CODE"})),
     "table.columns", "missing required column(s) ['CODE']", "--map"),
    ("plots-mapped-pool-without-unit", plots(f"plot_id,year,lon,lat,biomass\nA,2015,{LON},"
                                             f"{LAT},100\n", mapping={"agb": "biomass"}),
     "value.unit", "give --units agb=t/ha", "column 'biomass'"),
    # legends
    ("legend-code-too-large", legend("class_code,name_en\n70000,Forest\n"),
     "value.range", "class_code = 70000 is outside the valid range [0, 65534]", "row 2"),
    ("legend-negative-code", legend("class_code,name_en\n-1,Forest\n"),
     "value.range", "class_code = -1", "row 2"),
    ("legend-duplicate-code", legend("class_code,name_en\n1,Forest\n1,Grass\n"),
     "id.unique", "class_code 1 occurs 2 times", "row 3"),
    ("legend-missing-name", legend("class_code,name_en\n1,Forest\n2,\n"),
     "value.required", "name_en is empty", "row 3"),
    ("legend-bad-colour", legend("class_code,name_en,color_hex\n1,Forest,green\n"),
     "value.type", "color_hex = 'green' is not a valid colour #RRGGBB", "row 2"),
    ("legend-cropland-kind-on-forest", legend(
        "class_code,name_en,ipcc_category,cropland_kind\n1,Orchard,forest_land,perennial\n"),
     "value.code", "only cropland classes have a cropland kind", "row 2"),
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


ALL_CASES = [(*c, None) for c in CASES] + CASES_V2


def test_corpus_is_big_enough() -> None:
    assert len(ALL_CASES) >= 80
    assert len({c[0] for c in ALL_CASES}) == len(ALL_CASES)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_bad_input_is_refused_and_nothing_changes(region_db: psycopg.Connection, tmp_path: Path,
                                                  case) -> None:
    name, build, rule, text, item = case
    load = build(tmp_path)
    before = snapshot(region_db)
    with pytest.raises(LoadError) as err:
        load(region_db)
    message = str(err.value)
    assert f"[rule {rule}]" in message or f"rule {rule}" in message, message
    assert text in message, message
    if name != "region-unknown":  # the one case without a file: it names the region
        assert str(tmp_path) in message, message  # the file
    if item is not None:  # the row, feature, band, tile, column or option
        assert f", {item}: " in message or f"{item}: " in message, message
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
