"""Zones, projects (with history), reference samples and parameter sets."""

from __future__ import annotations

import json

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
