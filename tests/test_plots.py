"""Survey plots: the bundled real plot data load, units are converted, allometries applied."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import psycopg
import pytest

from ecorest.etl.plots import (
    chave2005_moist,
    chave2014,
    load_plots,
    parse_unit,
    soc_0_30cm,
    soc_layer_t_per_ha,
)
from ecorest.etl.regions import create_region
from helpers import SAMPLE

PLOTS = SAMPLE / "forest_plots_biomass"


def bbox_region(conn, tmp_path, name, lon0, lat0, lon1, lat1, crs=None):
    f = tmp_path / f"{name}.geojson"
    f.write_text(json.dumps({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0],
                                                                  [lon1, lat1], [lon0, lat1],
                                                                  [lon0, lat0]]]}))
    create_region(conn, name, f, crs=crs)


@pytest.mark.parametrize("unit,factor,carbon", [
    ("t/ha", 1.0, False), ("ton_ha", 1.0, False), ("Mg/ha", 1.0, False),
    ("Mg C/ha", 1.0, True), ("t C ha-1", 1.0, True), ("kg/m2", 10.0, False),
    ("kg C/m²", 10.0, True), ("g/m2", 0.01, False), ("g C m-2", 0.01, True),
    ("kg/ha", 0.001, False),
])
def test_units(unit: str, factor: float, carbon: bool) -> None:
    got = parse_unit(unit)
    assert got is not None and got[0] == pytest.approx(factor) and got[1] is carbon


@pytest.mark.parametrize("unit", ["", "t", "m3/ha", "ha", "t/acre", "kg"])
def test_unknown_units(unit: str) -> None:
    assert parse_unit(unit) is None


def test_allometries_by_hand() -> None:
    # Chave 2005 moist, D = 10 cm, rho = 0.6: ln D = 2.302585
    # -1.499 + 2.148*2.302585 + 0.207*2.302585^2 - 0.0281*2.302585^3 = 4.2013989
    assert chave2005_moist(np.array([10.0]), np.array([0.6]))[0] == \
        pytest.approx(0.6 * np.exp(4.2013989), rel=1e-6)
    assert 0.6 * np.exp(4.2013989) == pytest.approx(40.07, abs=0.01)
    # Chave 2014, D = 30 cm, H = 20 m, rho = 0.6: 0.0673 * (0.6 * 900 * 20)^0.976
    assert chave2014(np.array([30.0]), np.array([20.0]), np.array([0.6]))[0] == \
        pytest.approx(0.0673 * 10800 ** 0.976, rel=1e-9)
    # ln 10800 = 9.287301; x 0.976 = 9.064406; e^9.064406 = 8642.1; x 0.0673 = 581.6
    assert 0.0673 * 10800 ** 0.976 == pytest.approx(581.6, abs=0.05)


def test_soc_layer_density_by_hand() -> None:
    # 12 g/kg x 1.3 g/cm3 x 20 cm x (1 - 0.1) x 0.1 = 28.08 t C/ha
    assert soc_layer_t_per_ha(12, 1.3, 0, 20, 0.1) == pytest.approx(28.08)


def test_mozambique_inventory_plots(conn: psycopg.Connection, tmp_path) -> None:
    bbox_region(conn, tmp_path, "mozambique", 30.0, -27.0, 41.0, -10.3)
    path = PLOTS / "plot2map" / "SampleUnformattedPlots.csv"
    counts = load_plots(conn, "mozambique", path, mapping={"plot_area_ha": "size"})
    src = pd.read_csv(path).dropna(subset=["id_parcela"])
    assert counts["plots"] == src["id_parcela"].nunique()
    # AGB t d.m./ha -> t C/ha with CF 0.47, recorded per row
    pid = src.iloc[0]["id_parcela"]
    agb = float(src.iloc[0][" AGB (ton_ha) "])
    row = conn.execute(
        "select m.value_original, m.unit_original, m.carbon_fraction, m.carbon_t_per_ha, "
        "p.plot_area_m2 from registry.plot_measurements m join registry.survey_plots p "
        "using (plot_uid) where p.plot_id = %s and m.pool = 'agb'", (pid,)).fetchone()
    assert row == (pytest.approx(agb), "ton_ha", 0.47, pytest.approx(agb * 0.47),
                   pytest.approx(1000.0))
    total = conn.execute("select sum(carbon_t_per_ha) from registry.plot_measurements "
                         "where pool = 'bgb'").fetchone()[0]
    assert total == pytest.approx(src[" BGB (ton_ha) "].sum() * 0.47, rel=1e-9)
    # the same file again changes nothing
    assert load_plots(conn, "mozambique", path, mapping={"plot_area_ha": "size"})["plots"] == 0


def test_karnataka_tree_list(conn: psycopg.Connection, tmp_path) -> None:
    bbox_region(conn, tmp_path, "karnataka", 74.0, 12.0, 76.5, 15.5)
    path = PLOTS / "plot2map" / "KarnatakaForest.csv"
    counts = load_plots(conn, "karnataka", path)
    src = pd.read_csv(path)
    assert counts["trees"] == len(src)
    assert counts["plots"] == src["plotId"].nunique()
    # one plot by hand: sum of Chave 2005 AGB (rho 0.57) / plot area
    plot = src[src["plotId"] == "BSP1"]
    agb_kg = chave2005_moist(plot["d_cm"].to_numpy(), np.full(len(plot), 0.57)).sum()
    want = agb_kg / 1000 / (plot["size_m2"].iloc[0] / 10_000) * 0.47
    got = conn.execute("select carbon_t_per_ha from registry.plot_measurements m join "
                       "registry.survey_plots p using (plot_uid) where p.plot_id = 'BSP1'"
                       ).fetchone()[0]
    assert got == pytest.approx(want, rel=1e-9)


def test_baad_harvested_trees(conn: psycopg.Connection, tmp_path) -> None:
    bbox_region(conn, tmp_path, "hubbard", -72.5, 43.5, -71.5, 44.5)
    path = PLOTS / "baad_Whittaker1974" / "data.csv"
    counts = load_plots(conn, "hubbard", path)
    src = pd.read_csv(path)
    assert counts["trees"] == len(src)
    # d.bh is in metres in this study (dataMatchColumns.csv): stored in cm
    dbh = conn.execute("select max(dbh_cm), sum(agb_kg) from registry.plot_trees").fetchone()
    assert dbh[0] == pytest.approx(src["d.bh"].max() * 100)
    assert dbh[1] == pytest.approx(src["m.so"].sum())


def test_baad_site_defaults_and_cross_sections(conn: psycopg.Connection, tmp_path) -> None:
    bbox_region(conn, tmp_path, "northwest", -125.0, 42.0, -114.0, 49.0)
    brown = load_plots(conn, "northwest", PLOTS / "baad_Brown1978" / "data.csv")
    domec = load_plots(conn, "northwest", PLOTS / "baad_Domec2012_oregon" / "data.csv")
    src = pd.read_csv(PLOTS / "baad_Brown1978" / "data.csv")
    # seedlings below breast height have dbh 0: quarantined by rule, the rest loaded
    assert brown["trees"] == int((src["dbh"] > 0).sum()) == 257
    rules = dict(conn.execute("select rule, count(*) from etl.quarantine q join etl.loads l "
                              "using (load_id) where l.source_path like '%%Brown1978%%' "
                              "group by 1").fetchall())
    assert rules == {"value.range": 53}
    # Domec: DBH from the stem cross-section at breast height; six trees of a site at 41.18 N
    # lie outside the region and are quarantined
    dsrc = pd.read_csv(PLOTS / "baad_Domec2012_oregon" / "data.csv")
    assert domec["trees"] == len(dsrc) - int((dsrc["latitude"] < 42).sum())
    a = float(dsrc["Area of total stem cross section"].dropna().iloc[0])
    d = conn.execute("select dbh_cm from registry.plot_trees t join registry.survey_plots p "
                     "using (plot_uid) where p.plot_id like 'baad_Domec%%' and tree_no = '1'"
                     ).fetchone()[0]
    assert d == pytest.approx(200 * (a / np.pi) ** 0.5, abs=1e-3)
    # Brown 1978 has no coordinates: the site default from dataNew.csv (47.44, -115.7) is used
    where = conn.execute("select st_y(geom), st_x(geom) from registry.survey_plots "
                         "where plot_id like 'baad_Brown1978%'").fetchall()
    assert where == [(47.44, -115.7)]


def test_soil_layers(conn: psycopg.Connection, tmp_path) -> None:
    bbox_region(conn, tmp_path, "hubbard", -72.5, 43.5, -71.5, 44.5)
    f = tmp_path / "soil.csv"
    f.write_text("plot_id,date,lon,lat,top_cm,bottom_cm,soc_g_per_kg,bulk_density,gravel\n"
                 "S1,2019-08-01,-72,44,0,10,20,1.1,0\n"
                 "S1,2019-08-01,-72,44,10,30,8,1.4,0.2\n")
    counts = load_plots(conn, "hubbard", f)
    assert counts["soil_layers"] == 2 and counts["measurements"] == 1
    # by hand: 20 x 1.1 x 10 x 1 x 0.1 = 22.0 and 8 x 1.4 x 20 x 0.8 x 0.1 = 17.92 t C/ha
    row = conn.execute("select pool, carbon_t_per_ha, method from registry.plot_measurements"
                       ).fetchone()
    assert row == ("soc", pytest.approx(39.92), "soil layers 0-30 cm")


def _measurements(conn) -> dict:
    return {(plot, pool): (v, unit, cf, c, method) for plot, pool, v, unit, cf, c, method in
            conn.execute("select p.plot_id, m.pool, m.value_original, m.unit_original, "
                         "m.carbon_fraction, m.carbon_t_per_ha, m.method from "
                         "registry.plot_measurements m join registry.survey_plots p "
                         "using (plot_uid)")}


def test_carbon_fraction_per_pool(conn: psycopg.Connection, tmp_path) -> None:
    """IPCC 2006 Vol. 4: biomass 0.47 (Table 4.3), dead wood 0.50 and litter 0.37 (Ch. 2
    §2.3.2.2); SOC is carbon by definition and values in carbon units are taken as given."""
    bbox_region(conn, tmp_path, "hubbard", -72.5, 43.5, -71.5, 44.5)
    dm = tmp_path / "dry_matter.csv"
    dm.write_text("plot_id,date,lon,lat,agb (t/ha),litter (t d.m./ha),dead_wood (t/ha),"
                  "soc (t C/ha)\nA,2019-08-01,-72,44,100,10,8,60\n")
    load_plots(conn, "hubbard", dm)
    carbon = tmp_path / "carbon.csv"
    carbon.write_text("plot_id,date,lon,lat,litter (t C/ha),soc (Mg/ha)\n"
                      "B,2019-08-01,-72,44,3.5,55\n")
    load_plots(conn, "hubbard", carbon)
    got = _measurements(conn)
    # by hand: 100 x 0.47 = 47; 10 x 0.37 = 3.7; 8 x 0.50 = 4.0; SOC 60 t C/ha stays 60
    assert got[("A", "agb")][1:4] == ("t/ha", 0.47, pytest.approx(47.0))
    assert got[("A", "litter")][1:4] == ("t d.m./ha", 0.37, pytest.approx(3.7))
    assert got[("A", "dead_wood")][1:4] == ("t/ha", 0.5, pytest.approx(4.0))
    assert got[("A", "soc")][1:4] == ("t C/ha", None, pytest.approx(60.0))
    # litter given as carbon stays as given; SOC in a dry-matter-looking unit is still carbon
    assert got[("B", "litter")][2:4] == (None, pytest.approx(3.5))
    assert got[("B", "soc")][2:4] == (None, pytest.approx(55.0))
    assert "SOC is carbon" in got[("B", "soc")][4]


def test_repeated_measurements_are_one_plot(conn: psycopg.Connection, tmp_path) -> None:
    bbox_region(conn, tmp_path, "hubbard", -72.5, 43.5, -71.5, 44.5)
    f = tmp_path / "repeat.csv"
    f.write_text("plot_id,date,lon,lat,agb (t C/ha)\n" + "".join(
        f"R1,{y}-07-01,-72,44,{v}\n" for y, v in zip(range(2015, 2020), (80, 90, 120, 95, 85),
                                                     strict=True)))
    counts = load_plots(conn, "hubbard", f)
    assert (counts["plots"], counts["measurements"]) == (1, 5)
    assert conn.execute("select count(*) from registry.survey_plots").fetchone() == (1,)


def test_soc_0_30cm_rule_by_hand() -> None:
    # 0-10: 24.0, 10-20: 14.04, 20-40: 16.8 t C/ha of which 10/20 lies above 30 cm = 8.4
    stock, method = soc_0_30cm([(20, 40, 16.8), (0, 10, 24.0), (10, 20, 14.04)])
    assert stock == pytest.approx(46.44)
    assert method == "soil layers 0-30 cm (layer 20-40 cm pro rata 10/20)"
    assert soc_0_30cm([(0, 15, 10.0), (15, 30, 5.0), (30, 60, 7.0)]) == \
        (pytest.approx(15.0), "soil layers 0-30 cm")
    # not scaled to depths that were not sampled: shallow, gap, overlap, not from the surface
    assert soc_0_30cm([(0, 10, 1.0), (10, 20, 1.0)]) == (None, "the profile reaches 20 cm only")
    assert soc_0_30cm([(0, 10, 1.0), (20, 30, 1.0)])[0] is None
    assert soc_0_30cm([(0, 20, 1.0), (10, 30, 1.0)])[0] is None
    assert soc_0_30cm([(5, 30, 1.0)])[0] is None


def test_soil_layers_harmonised_to_0_30_cm(conn: psycopg.Connection, tmp_path) -> None:
    """S1: 0-10 cm 20 g/kg x 1.2 x 10 x 0.1 = 24.0; 10-20 cm 12 x 1.3 x 10 x (1 - 0.1) x 0.1
    = 14.04; 20-40 cm 6 x 1.4 x 20 x 0.1 = 16.8, of which 10 of 20 cm lie in 0-30 cm: 8.4.
    0-30 cm stock = 46.44 t C/ha. S2 reaches 20 cm only: layers kept, no stock, a warning."""
    bbox_region(conn, tmp_path, "hubbard", -72.5, 43.5, -71.5, 44.5)
    f = tmp_path / "soil.csv"
    f.write_text("plot_id,date,lon,lat,top_cm,bottom_cm,soc_g_per_kg,bulk_density,gravel\n"
                 "S1,2019-08-01,-72,44,0,10,20,1.2,0\n"
                 "S1,2019-08-01,-72,44,10,20,12,1.3,0.1\n"
                 "S1,2019-08-01,-72,44,20,40,6,1.4,0\n"
                 "S2,2019-08-01,-72.1,44,0,10,20,1.2,0\n"
                 "S2,2019-08-01,-72.1,44,10,20,12,1.3,0\n")
    counts = load_plots(conn, "hubbard", f)
    assert (counts["soil_layers"], counts["measurements"]) == (5, 1)
    got = _measurements(conn)
    assert got[("S1", "soc")][1:] == ("t C/ha", None, pytest.approx(46.44),
                                      "soil layers 0-30 cm (layer 20-40 cm pro rata 10/20)")
    assert ("S2", "soc") not in got
    # the 20-40 cm layer is stored whole (16.8 t C/ha over its 20 cm)
    assert conn.execute("select soc_t_per_ha from registry.plot_soil_layers where top_cm = 20"
                        ).fetchone()[0] == pytest.approx(16.8)
    warnings = conn.execute("select warnings from etl.loads where loader = 'plots'"
                            ).fetchone()[0]
    assert [(w["item"], w["rule"]) for w in warnings] == \
        [("plot S2, 2019-08-01", "soil.depth_0_30")]
    assert "reaches 20 cm only" in warnings[0]["message"]
