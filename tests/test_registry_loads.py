"""Zones, projects (with history), reference samples and parameter sets."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import psycopg
import pytest

from ecorest.etl.params import load_params
from ecorest.etl.vector_loads import admin_level_of, load_projects, load_samples, load_zones
from helpers import SAMPLE, WILLAMETTE, snapshot, willamette_region

LON, LAT = -123.5, 44.5


@pytest.fixture
def region_db(conn: psycopg.Connection) -> psycopg.Connection:
    willamette_region(conn)
    conn.rollback()
    return conn


def test_watersheds_load_with_areas(region_db: psycopg.Connection) -> None:
    assert load_zones(region_db, "willamette", WILLAMETTE / "watersheds.shp",
                      zone_set="watershed", mapping={"zone_code": "ws_id"}) == 3
    assert load_zones(region_db, "willamette", WILLAMETTE / "subwatersheds.shp",
                      zone_set="subwatershed", mapping={"zone_code": "subws_id"}) == 9
    # areas on the equal-area grid equal the areas in the shapefile's own UTM metres
    # (UTM scale factor near the central meridian: < 0.1 %)
    import pyogrio
    import shapely

    _, _, geoms, fields = pyogrio.raw.read(WILLAMETTE / "watersheds.shp")
    utm = {str(int(c)): shapely.from_wkb(g).area / 1e4 for c, g in zip(fields[0], geoms,
                                                                     strict=True)}
    got = dict(region_db.execute("select zone_code, area_ha from registry.zones where "
                                 "zone_set = 'watershed'").fetchall())
    assert set(got) == set(utm)
    for code, area in utm.items():
        assert got[code] == pytest.approx(area, rel=1e-3)
    # subwatersheds tile the watersheds
    total = region_db.execute("select zone_set, sum(area_ha) from registry.zones group by 1 "
                              "order by 1").fetchall()
    assert total[0][1] == pytest.approx(total[1][1], rel=1e-3)


def test_admin_unit_with_gbt2260_code(conn: psycopg.Connection) -> None:
    from ecorest.etl.regions import create_region

    ansai = SAMPLE / "china_admin_loess_plateau" / "ansai_610603.geojson"
    create_region(conn, "ansai", ansai)
    load_zones(conn, "ansai", ansai, code="610603", name="安塞区")
    row = conn.execute("select zone_set, zone_code, name, admin_level from registry.zones"
                       ).fetchone()
    assert row == ("admin", "610603", "安塞区", "county")


@pytest.mark.parametrize("code,level", [("610000", "province"), ("610600", "city"),
                                        ("610603", "county")])
def test_admin_level_from_code(code: str, level: str) -> None:
    assert admin_level_of(code) == level


def _projects(tmp_path, *features, name="p.geojson"):
    p = tmp_path / name
    p.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return p


def _feature(pid="P1", d=0.01, **props):
    base = {"project_id": pid, "name": "Hillside planting", "project_type": "afforestation",
            "start_date": "2015-03-01", "investment_cny": 1.2e6,
            "measures": "planting:35.5; enclosure:12"}
    ring = [[LON, LAT], [LON + d, LAT], [LON + d, LAT + d], [LON, LAT + d], [LON, LAT]]
    return {"type": "Feature", "properties": {**base, **props},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_project_history_versions(region_db: psycopg.Connection, tmp_path) -> None:
    v1 = _projects(tmp_path, _feature("P1"), _feature("P2", name="Gully plugging",
                                                       project_type="soil_erosion_control"))
    assert load_projects(region_db, "willamette", v1) == {"new": 2, "changed": 0,
                                                          "unchanged": 0}
    # P1 grows, P2 unchanged, and P2 is not in a later file at all: nothing is deleted
    v2 = _projects(tmp_path, _feature("P1", d=0.02), _feature("P2", name="Gully plugging",
                   project_type="soil_erosion_control"), name="p2.geojson")
    assert load_projects(region_db, "willamette", v2) == {"new": 0, "changed": 1,
                                                          "unchanged": 1}
    v3 = _projects(tmp_path, _feature("P1", d=0.02, end_date="2020-12-31"), name="p3.geojson")
    assert load_projects(region_db, "willamette", v3)["changed"] == 1
    rows = region_db.execute(
        "select project_id, version, valid_to is null, round(area_ha::numeric, 1) "
        "from registry.projects order by 1, 2").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("P1", 1, False), ("P1", 2, False),
                                                  ("P1", 3, True), ("P2", 1, True)]
    # 0.02° x 0.02° at 44.5° N ~ 2.22 km x 1.59 km; four times the 0.01° square
    assert float(rows[1][3]) == pytest.approx(4 * float(rows[0][3]), rel=0.01)
    measures = region_db.execute(
        "select m.measure_type, m.area_ha from registry.project_measures m join registry.projects "
        "p using (project_version_id) where p.project_id = 'P1' and p.version = 1 "
        "order by measure_no").fetchall()
    assert measures == [("planting", 35.5), ("enclosure", 12.0)]
    # loading the same file again is a no-op
    before = snapshot(region_db)
    load_projects(region_db, "willamette", v3)
    assert snapshot(region_db) == before


def test_example_projects_are_labelled(region_db, tmp_path) -> None:
    load_projects(region_db, "willamette", _projects(tmp_path, _feature()), examples=True)
    assert region_db.execute("select is_example from registry.projects").fetchone() == (True,)


def test_reference_samples(region_db, tmp_path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("sample_id,lon,lat,reference_class,date\n"
                 f"S1,{LON},{LAT},54,2019-06-01\nS2,{LON + 0.01},{LAT},999,2019-06-01\n")
    assert load_samples(region_db, "willamette", p, legend="willamette") == 1
    q = region_db.execute("select item, rule from etl.quarantine").fetchall()
    assert q == [("row 3", "value.code")]


def test_invest_pool_table_loads_as_it_is(conn: psycopg.Connection) -> None:
    path = WILLAMETTE / "carbon_pools_willamette.csv"
    set_id, version = load_params(conn, path, name="willamette_pools", kind="carbon_pools",
                                  source_text="InVEST sample data")
    assert version == 1
    n, pools = conn.execute("select count(*), array_agg(distinct pool order by pool) from "
                            "registry.parameter_values where parameter_set_id = %s",
                            (set_id,)).fetchone()
    assert (n, pools) == (66 * 4, ["agb", "bgb", "dead_wood", "soc"])
    v = conn.execute("select value, unit from registry.parameter_values where class_code = 61 "
                     "and pool = 'agb'").fetchone()
    assert v == (375.0, "t C/ha")  # 'Forest closed conifer older than 200 yrs', C_above
    # the same file: no new version
    assert load_params(conn, path, name="willamette_pools", kind="carbon_pools",
                       source_text="InVEST sample data") == (set_id, 1)


def test_changed_parameters_become_next_active_version(conn, tmp_path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("parameter,class_code,pool,value,unit,uncertainty_pct,source\n"
                 "root_shoot_ratio,2,,0.29,1,30,IPCC 2006 T4.4\n")
    b = tmp_path / "b.csv"
    b.write_text("parameter,class_code,pool,value,unit,uncertainty_pct,source\n"
                 "root_shoot_ratio,2,,0.24,1,30,IPCC 2019 T4.4\n")
    load_params(conn, a, name="rs", kind="ipcc_defaults", source_text="IPCC",
                ipcc_edition="2006")
    load_params(conn, b, name="rs", kind="ipcc_defaults", source_text="IPCC",
                ipcc_edition="2019")
    rows = conn.execute("select version, is_active, ipcc_edition, v.value from "
                        "registry.parameter_sets s join registry.parameter_values v "
                        "using (parameter_set_id) order by 1").fetchall()
    assert rows == [(1, False, "2006", 0.29), (2, True, "2019", 0.24)]


def test_zones_from_geopackage(region_db: psycopg.Connection, tmp_path) -> None:
    import numpy as np
    import pyogrio
    import shapely

    square = shapely.box(LON, LAT, LON + 0.02, LAT + 0.02)
    path = tmp_path / "zones.gpkg"
    pyogrio.raw.write(path, np.array([shapely.to_wkb(square)], dtype=object), [np.array(["Z1"])],
                      fields=["zone_code"], geometry_type="Polygon", crs="EPSG:4326",
                      driver="GPKG")
    assert load_zones(region_db, "willamette", path, zone_set="plan") == 1
    area = region_db.execute("select area_ha from registry.zones").fetchone()[0]
    # 0.02 deg x 0.02 deg at 44.5 N: 1.59 km x 2.22 km
    assert area == pytest.approx(353, rel=0.01)


# ------------------------------------------------------------------------------------------------
# Chinese column names
# ------------------------------------------------------------------------------------------------
PLOTS_ZH = ("样地号,调查日期,经度,纬度,样地面积(m2),地上生物量 (t/ha),土壤有机碳 (t C/ha)\n"
            f"YD01,2015-06-01,{LON},{LAT},600,100,80\n"
            f"YD02,2015年6月2日,{LON + 0.01},{LAT},400,50.5,\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_chinese_header_plots_load_with_their_values(region_db, tmp_path, encoding) -> None:
    """Every all-Chinese header once reduced to an empty name, so each Chinese alias matched
    the last Chinese column (plot_id = '2015-06-01'). UTF-8 with or without a byte-order mark
    and GB 18030 (Excel on a Chinese Windows) read the same."""
    from ecorest.etl.plots import load_plots

    path = tmp_path / "样地.csv"
    path.write_bytes(PLOTS_ZH.encode(encoding))
    counts = load_plots(region_db, "willamette", path, strict=True)
    assert counts["plots"] == 2 and counts["measurements"] == 3
    plots = region_db.execute("select plot_id, plot_area_m2, round(st_x(geom)::numeric, 2) "
                              "from registry.survey_plots order by 1").fetchall()
    assert plots == [("YD01", 600.0, round(Decimal(LON), 2)),
                     ("YD02", 400.0, round(Decimal(LON + 0.01), 2))]
    m = region_db.execute(
        "select s.plot_id, m.measured_date::text, m.pool, m.value_original, m.unit_original, "
        "m.carbon_fraction, round(m.carbon_t_per_ha::numeric, 4) from "
        "registry.plot_measurements m join registry.survey_plots s using (plot_uid) "
        "order by 1, 3").fetchall()
    assert m == [("YD01", "2015-06-01", "agb", 100.0, "t/ha", 0.47, Decimal("47.0000")),
                 ("YD01", "2015-06-01", "soc", 80.0, "t C/ha", None, Decimal("80.0000")),
                 ("YD02", "2015-06-02", "agb", 50.5, "t/ha", 0.47, Decimal("23.7350"))]


def test_chinese_header_tree_list(region_db, tmp_path) -> None:
    from ecorest.etl.plots import load_plots

    path = tmp_path / "每木检尺.csv"
    path.write_text("样地号,调查日期,经度,纬度,样地面积(m2),树号,树种,胸径,树高\n"
                    f"YD01,2016-07-01,{LON},{LAT},400,1,油松,20,12\n"
                    f"YD01,2016-07-01,{LON},{LAT},400,2,油松,30,15\n")
    counts = load_plots(region_db, "willamette", path, strict=True)
    assert counts == {"plots": 1, "measurements": 1, "trees": 2, "soil_layers": 0}
    trees = region_db.execute("select tree_no, species, dbh_cm, height_m, allometry from "
                              "registry.plot_trees order by 1").fetchall()
    assert trees == [("1", "油松", 20.0, 12.0, "chave2014"), ("2", "油松", 30.0, 15.0,
                                                             "chave2014")]


def test_chinese_projects_file_loads_with_its_values(region_db, tmp_path) -> None:
    """项目编号/项目名称/项目类型/开始日期 … once made the file refused; Chinese project types
    (人工造林, 退耕还林 …) read as their codes."""
    def feature(pid, name, kind, start, end, money, d=0.01):
        ring = [[LON, LAT], [LON + d, LAT], [LON + d, LAT + d], [LON, LAT + d], [LON, LAT]]
        return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"项目编号": pid, "项目名称": name, "项目类型": kind,
                               "开始日期": start, "结束日期": end, "投资": money,
                               "实施单位": "安塞区林业局", "措施": "planting:35.5; enclosure:12"}}
    path = _projects(tmp_path, feature("XM-001", "坡面人工造林", "人工造林", "2015-03-01",
                                       "2018-12-31", 1.2e6),
                     feature("XM-002", "退耕还林一期", "退耕还林", "2016-04-01", None, None),
                     feature("XM-003", "湿地", "wetland_restoration", "2017-05-01", None, 3e5),
                     name="项目.geojson")
    assert load_projects(region_db, "willamette", path, strict=True) == {
        "new": 3, "changed": 0, "unchanged": 0}
    rows = region_db.execute(
        "select project_id, name, project_type, start_date::text, end_date::text, "
        "investment_cny, agency from registry.projects order by 1").fetchall()
    assert rows == [
        ("XM-001", "坡面人工造林", "afforestation", "2015-03-01", "2018-12-31", 1.2e6,
         "安塞区林业局"),
        ("XM-002", "退耕还林一期", "cropland_to_forest", "2016-04-01", None, None,
         "安塞区林业局"),
        ("XM-003", "湿地", "wetland_restoration", "2017-05-01", None, 3e5, "安塞区林业局")]
    measures = region_db.execute("select m.measure_type, m.area_ha from "
                                 "registry.project_measures m join registry.projects p using "
                                 "(project_version_id) where p.project_id = 'XM-001' "
                                 "order by m.measure_no").fetchall()
    assert measures == [("planting", 35.5), ("enclosure", 12.0)]


def test_chinese_zone_attributes(region_db, tmp_path) -> None:
    ring = [[LON, LAT], [LON + 0.01, LAT], [LON + 0.01, LAT + 0.01], [LON, LAT + 0.01],
            [LON, LAT]]
    path = tmp_path / "区划.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"行政区划代码": "610603", "名称": "安塞区", "级别": "县",
                        "上级代码": "610600"}}]}, ensure_ascii=False))
    assert load_zones(region_db, "willamette", path, strict=True) == 1
    assert region_db.execute("select zone_code, name, admin_level, parent_code from "
                             "registry.zones").fetchone() == ("610603", "安塞区", "county",
                                                              "610600")


# ------------------------------------------------------------------------------------------------
# going back to an earlier version of a parameter set
# ------------------------------------------------------------------------------------------------
def _pools(tmp_path, name: str, agb: float):
    p = tmp_path / name
    p.write_text(f"parameter,class_code,pool,value,unit\ncarbon_density,1,agb,{agb},t C/ha\n")
    return p


def _active(conn, name: str) -> list[tuple]:
    rows = conn.execute("select coalesce(r.name, 'global'), s.version, s.is_active from "
                        "registry.parameter_sets s left join registry.regions r using "
                        "(region_id) where s.name = %s order by 1, 2", (name,)).fetchall()
    conn.rollback()
    return rows


def test_params_activate_goes_back_to_an_earlier_version(region_db, tmp_path, caplog) -> None:
    from ecorest.etl.params import activate_params
    from ecorest.run import select_parameter_sets

    v1, v2 = _pools(tmp_path, "v1.csv", 10), _pools(tmp_path, "v2.csv", 20)
    id1, _ = load_params(region_db, v1, region="willamette", name="pools", kind="carbon_pools",
                         source_text="survey 2010")
    id2, _ = load_params(region_db, v2, region="willamette", name="pools", kind="carbon_pools",
                         source_text="survey 2020")
    # a global set of the same name: the region's own set is the one activated
    load_params(region_db, v2, name="pools", kind="carbon_pools", source_text="national")
    assert _active(region_db, "pools") == [("global", 1, True), ("willamette", 1, False),
                                           ("willamette", 2, True)]
    # loading the earlier file again does not go back, and says how to
    before = snapshot(region_db)
    assert load_params(region_db, v1, region="willamette", name="pools", kind="carbon_pools",
                       source_text="survey 2010") == (id1, 1)
    assert snapshot(region_db) == before
    assert "ecorest params activate willamette pools@1" in caplog.text
    result = activate_params(region_db, "pools@1", region="willamette")
    assert (result["version"], result["previous"], result["owner"], result["changed"]) == \
        (1, 2, "region willamette", True)
    assert _active(region_db, "pools") == [("global", 1, True), ("willamette", 1, True),
                                           ("willamette", 2, False)]
    rid = region_db.execute("select region_id from registry.regions where name = 'willamette'"
                            ).fetchone()[0]
    assert select_parameter_sets(region_db, rid, {}) == [id1]  # a run now takes version 1
    log = region_db.execute("select loader, layer, status, options ->> 'action', message "
                            "from etl.loads order by load_id desc limit 1").fetchone()
    assert log == ("params", "pools", "succeeded", "activate",
                   "parameter set pools (region willamette): version 1 active (was 2)")
    region_db.rollback()
    # again: nothing changes; forward to the newest (no @VERSION)
    before = snapshot(region_db)
    assert activate_params(region_db, "pools@1", region="willamette")["changed"] is False
    assert snapshot(region_db) == before
    assert activate_params(region_db, "pools", region="willamette")["version"] == 2
    assert select_parameter_sets(region_db, rid, {}) == [id2]


@pytest.mark.parametrize("spec,region,message", [
    ("pools@7", "willamette", "params activate 'pools@7': parameter set 'pools' (region "
                              "'willamette') has no version 7; its versions are 1"),
    ("nothing@1", "willamette", "no parameter set named 'nothing'"),
    ("pools@x", "willamette", "the version after @ must be a whole number"),
    ("pools@1", "atlantis", "region 'atlantis' does not exist"),
])
def test_params_activate_refuses_unknown_sets(region_db, tmp_path, spec, region,
                                              message) -> None:
    from ecorest.errors import LoadError
    from ecorest.etl.params import activate_params

    load_params(region_db, _pools(tmp_path, "v1.csv", 10), region="willamette", name="pools",
                kind="carbon_pools", source_text="s")
    before = snapshot(region_db)
    with pytest.raises(LoadError, match=re.escape(message)):
        activate_params(region_db, spec, region=region)
    assert snapshot(region_db) == before


def test_a_name_keeps_its_kind(region_db, tmp_path) -> None:
    from ecorest.errors import LoadError

    load_params(region_db, _pools(tmp_path, "v1.csv", 10), name="p", kind="carbon_pools",
                source_text="s")
    other = tmp_path / "o.csv"
    other.write_text("parameter,value,unit\nroot_shoot_ratio,0.2,1\n")
    before = snapshot(region_db)
    with pytest.raises(LoadError,
                       match=r"holds kind carbon_pools, not other; .* \[rule params.kind\]"):
        load_params(region_db, other, name="p", kind="other", source_text="s")
    assert snapshot(region_db) == before


def test_parameter_units_are_stored_in_the_spelling_the_models_read(region_db, tmp_path) -> None:
    p = tmp_path / "g.csv"
    p.write_text("parameter,class_code,pool,value,unit\n"
                 "growth_rate,1,agb,2.5,Mg C ha-1 yr-1\ngrowth_rate,1,bgb,0.5,tC/ha/yr\n"
                 "biomass_after_conversion,1,agb,0,Mg C/ha\n")
    load_params(region_db, p, name="g", kind="growth_rates", source_text="s")
    units = region_db.execute("select parameter, pool, unit from registry.parameter_values "
                              "order by 1, 2").fetchall()
    assert units == [("biomass_after_conversion", "agb", "t C/ha"),
                     ("growth_rate", "agb", "t C/ha/yr"), ("growth_rate", "bgb", "t C/ha/yr")]


def test_a_pool_column_named_by_map(region_db, tmp_path) -> None:
    """`--map agb=COLUMN --units agb=t/ha` (as the error for a missing pool column advises)."""
    from ecorest.etl.plots import load_plots

    path = tmp_path / "p.csv"
    path.write_text(f"编号,年份,经度,纬度,生物量\nA1,2015,{LON},{LAT},80\n")
    counts = load_plots(region_db, "willamette", path, mapping={"plot_id": "编号",
                                                                 "agb": "生物量"},
                        units={"agb": "t/ha"}, strict=True)
    assert counts["plots"] == 1
    row = region_db.execute("select s.plot_id, m.pool, m.value_original, m.unit_original, "
                            "m.carbon_t_per_ha from registry.plot_measurements m join "
                            "registry.survey_plots s using (plot_uid)").fetchone()
    assert row == ("A1", "agb", 80.0, "t/ha", pytest.approx(80 * 0.47))


def test_a_valid_weights_set_loads(region_db, tmp_path) -> None:
    """Weights of built-in and loaded-layer factors, a zero weight beside a positive one, and
    AHP judgements within a group (a reciprocal pair given twice is consistent)."""
    p = tmp_path / "w.csv"
    p.write_text("parameter,stratum,value,unit\n"
                 "degradation_weight,ndvi_trend,0.5,1\ndegradation_weight,slope,0,1\n"
                 "degradation_weight,factor_erosion,-0.3,1\n"
                 "ahp_pairwise,ndvi_trend>factor_erosion,3,1\n"
                 "ahp_pairwise,factor_erosion>ndvi_trend,0.333333333,1\n"
                 "ahp_pairwise,carbon_density>fvc,2,1\n")
    load_params(region_db, p, name="w", kind="weights", source_text="s")
    assert region_db.execute("select count(*) from registry.parameter_values").fetchone() == (6,)
