"""Carbon dynamics of converted land over several epochs (IPCC 2006 Vol.4), by hand.

Every expected number below is worked out in the docstrings from the inputs; none is read
back from the code. Pixels are 30 m (0.09 ha): a 10 x 10 block is 9 ha.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
from test_carbon import tiny_region

from ecorest.errors import RunError
from ecorest.etl.params import load_params
from ecorest.run import run_assessment
from helpers import square_project

LEGEND = ("class_code,name_en,ipcc_category\n1,grass,grassland\n2,forest,forest_land\n"
          "3,sealed,settlements\n")


def grids(n: int, changes: dict[int, list[tuple[slice, slice, int]]]) -> list[np.ndarray]:
    """n epochs of 64 x 64 px of class 1; changes[k] sets blocks to a class from epoch k on."""
    out, cur = [], np.full((64, 64), 1)
    for k in range(n):
        cur = cur.copy()
        for rows, cols, cls in changes.get(k, []):
            cur[rows, cols] = cls
        out.append(cur)
    return out


def growth_set(conn: psycopg.Connection, tmp_path: Path, rows: str) -> None:
    path = tmp_path / "growth.csv"
    path.write_text("parameter,class_code,pool,value,unit\n" + rows)
    load_params(conn, path, name="growth", kind="growth_rates", source_text="test")


def test_converted_forest_grows_from_zero_and_stops_at_the_class_density(db_url: str,
                                                                        tmp_path: Path) -> None:
    """100 px (9 ha) of grass (agb 2, bgb 3 t C/ha) become forest (agb 50, bgb 10) between 2000
    and 2002 and stay forest in 2012 and 2022. Forest growth G = 5 t C/ha/yr above ground, no
    below-ground rate: bgb grows at 5 x 10/50 = 1 t C/ha/yr. B_after = 0.
    2002: agb 5 x 2 = 10, bgb 2 -> credited agb 9 x 10 - 9 x 2 = +72 t (not 9 x 48 = +432 t),
    bgb 9 x 2 - 9 x 3 = -9 t. 2012: agb min(50, 5 x 12 = 60) = 50 (the cap), bgb min(10, 12)
    = 10 -> agb +9 x 40 = +360 t, bgb +9 x 8 = +72 t. 2022: at the cap, no change.
    Gain-loss 2000 -> 2002: conversion 9 x (0 - 2) = -18 t, gain 9 x 10 = +90 t."""
    block = (slice(10, 20), slice(10, 20), 2)
    epochs = dict(zip(("2000", "2002", "2012", "2022"), grids(4, {1: [block]}), strict=True))
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, epochs, LEGEND,
                    "lucode,C_above,C_below,C_soil,C_dead\n1,2,3,0,0\n2,50,10,0,0\n"
                    "3,0,0,0,0\n")
        growth_set(conn, tmp_path, "growth_rate,2,agb,5,t C/ha/yr\n")
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        changes = {(e, p): (c, s1, s2) for e, p, c, s1, s2 in conn.execute(
            "select epoch_t1, pool, change_t, stock_t1_t, stock_t2_t from "
            "marts.carbon_stock_changes where run_id = %s and zone_set = 'region'", (run_id,))}
        stocks = {(e, c, p): (t, d, dd, a) for e, c, p, t, d, dd, a in conn.execute(
            "select epoch_label, class_code, pool, carbon_t, carbon_t_per_ha, "
            "class_density_t_per_ha, transition_area_ha from marts.carbon_stocks "
            "where run_id = %s and zone_set = 'region'", (run_id,))}
        gl = conn.execute(
            "select gain_t, conversion_t, change_t from marts.carbon_gain_loss where run_id = %s "
            "and zone_set = 'region' and pool = 'agb' and epoch_t1 = '2000'", (run_id,)).fetchone()
    assert changes[("2000", "agb")][0] == pytest.approx(72.0)
    assert changes[("2000", "bgb")][0] == pytest.approx(-9.0)
    assert changes[("2002", "agb")][0] == pytest.approx(360.0)
    assert changes[("2002", "bgb")][0] == pytest.approx(72.0)
    assert changes[("2012", "agb")][0] == pytest.approx(0.0)
    assert changes[("2012", "bgb")][0] == pytest.approx(0.0)
    assert stocks[("2002", 2, "agb")] == (pytest.approx(90.0), pytest.approx(10.0), 50.0,
                                          pytest.approx(9.0))
    assert stocks[("2012", 2, "agb")][:2] == (pytest.approx(450.0), pytest.approx(50.0))
    assert stocks[("2012", 2, "agb")][3] == pytest.approx(0.0)
    assert stocks[("2022", 2, "agb")][:2] == (pytest.approx(450.0), pytest.approx(50.0))
    assert gl == (pytest.approx(90.0), pytest.approx(-18.0), pytest.approx(72.0))
    # change = stock t2 - stock t1 on every row, and the stocks are those of carbon_stocks
    total = {(e, p): 0.0 for e, p in ((k[0], k[2]) for k in stocks)}
    for (e, _, p), v in stocks.items():
        total[(e, p)] += v[0]
    following = {"2000": "2002", "2002": "2012", "2012": "2022"}
    for (e, p), (c, s1, s2) in changes.items():
        assert c == pytest.approx(s2 - s1)
        assert s1 == pytest.approx(total[(e, p)]) and s2 == pytest.approx(total[(following[e],
                                                                                   p)])


def test_soc_and_dead_wood_move_over_twenty_years_and_restart_on_a_second_change(
        db_url: str, tmp_path: Path) -> None:
    """5-year epochs 2000..2020. Block A (9 ha) turns grass (SOC 40, dead wood 0) into forest
    (SOC 80, dead wood 10) in 2000 -> 2005 and stays; block B does the same, then becomes
    sealed land (SOC 20, dead wood 2) in 2010 -> 2015. Biomass is 0 everywhere.
    SOC, D = 20: A 40 -> 50 -> 60 -> 70 -> 80 ((80 - 40) x 5/20 = 10 t C/ha a period);
    B 40 -> 50 -> 60, then from the 60 reached toward 20: 60 - 40 x 5/20 = 50 -> 40.
    Region (18 ha changed, the rest stays at 40):
      2000-05: realised 18 x 10 = 180, equilibrium 18 x (80 - 40) = 720, committed 540
      2005-10: realised 180 (all from the earlier change), equilibrium 18 x 30 = 540, com. 360
      2010-15: realised 9 x 10 + 9 x (-10) = 0, equilibrium 9 x 20 + 9 x (20 - 60) = -180
      2015-20: realised 0, equilibrium 9 x 10 + 9 x (20 - 50) = -180, committed -180
    Dead wood: gains over T_on = 20 (A: 2.5 a period up to 10), losses within 1 year: B 5 -> 2
    in 2010-15 -> region 2010-15: 9 x 2.5 + 9 x (2 - 5) = -4.5 t."""
    a = (slice(10, 20), slice(10, 20), 2)
    b = (slice(30, 40), slice(30, 40), 2)
    b2 = (slice(30, 40), slice(30, 40), 3)
    epochs = dict(zip(("2000", "2005", "2010", "2015", "2020"),
                      grids(5, {1: [a, b], 3: [b2]}), strict=True))
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, epochs, LEGEND,
                    "lucode,C_above,C_below,C_soil,C_dead\n1,0,0,40,0\n2,0,0,80,10\n"
                    "3,0,0,20,2\n")
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        soc = {e: r for e, *r in conn.execute(
            "select epoch_t1, converted_ha, realised_change_t, equilibrium_change_t, "
            "committed_change_t, realised_from_earlier_t from marts.soc_transition_changes "
            "where run_id = %s and zone_set = 'region'", (run_id,))}
        changes = {(e, p): c for e, p, c in conn.execute(
            "select epoch_t1, pool, change_t from marts.carbon_stock_changes where run_id = %s "
            "and zone_set = 'region'", (run_id,))}
        b_soc = conn.execute(
            "select carbon_t_per_ha, class_density_t_per_ha from marts.carbon_stocks where "
            "run_id = %s and zone_set = 'region' and epoch_label = '2015' and class_code = 3 "
            "and pool = 'soc'", (run_id,)).fetchone()
    approx = pytest.approx
    assert soc["2000"] == [approx(18.0), approx(180.0), approx(720.0), approx(540.0), approx(0)]
    assert soc["2005"] == [approx(0.0), approx(180.0), approx(540.0), approx(360.0),
                           approx(180.0)]
    assert soc["2010"] == [approx(9.0), approx(0.0), approx(-180.0), approx(-180.0),
                           approx(90.0)]
    assert soc["2015"] == [approx(0.0), approx(0.0), approx(-180.0), approx(-180.0),
                           approx(0.0)]
    for e in ("2000", "2005", "2010", "2015"):
        assert changes[(e, "soc")] == approx(soc[e][1])
    assert b_soc == (approx(50.0), 20.0)
    assert changes[("2000", "dead_wood")] == approx(18 * 2.5)
    assert changes[("2010", "dead_wood")] == approx(-4.5)
    assert changes[("2015", "dead_wood")] == approx(9 * 2.5)


def test_project_benefit_with_growing_forest_by_hand(db_url: str, tmp_path: Path) -> None:
    """A 10 x 10 px project (9 ha) plants forest on grass between 2010 and 2015; the ring stays
    grass. Grass: agb 2, bgb 0, SOC 50. Forest: agb 150 (G 4 t C/ha/yr), bgb 30 (G 1), SOC 70.
    Inside: agb 9 x (4 x 5 - 2) = 162 t, bgb 9 x 5 = 45 t, SOC 9 x 20 x 5/20 = 45 t; baseline
    (ring stays grass) 0; benefit 252 t = 50.4 t C/yr = 184.8 t CO2e/yr (start 2010)."""
    t2 = np.full((64, 64), 1)
    t2[20:30, 20:30] = 2
    from ecorest.etl.vector_loads import load_projects

    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2010": np.full((64, 64), 1), "2015": t2}, LEGEND,
                    "lucode,C_above,C_below,C_soil,C_dead\n1,2,0,50,0\n2,150,30,70,0\n"
                    "3,0,0,0,0\n")
        growth_set(conn, tmp_path, "growth_rate,2,agb,4,t C/ha/yr\n"
                                   "growth_rate,2,bgb,1,t C/ha/yr\n")
        load_projects(conn, "tiny", square_project(tmp_path, "2010-03-01"))
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        pb = {p: (a, c, b, bt) for p, a, c, b, bt in conn.execute(
            "select pool, area_ha, change_t, baseline_change_t, benefit_t from "
            "marts.project_benefits where run_id = %s", (run_id,))}
        rate = conn.execute("select periods_after, change_after_t_per_yr, "
                            "sink_after_co2e_t_per_yr from marts.project_sink_rates "
                            "where run_id = %s", (run_id,)).fetchone()
        unc = conn.execute("select benefit_t from marts.project_benefit_uncertainty "
                           "where run_id = %s and pool = 'agb'", (run_id,)).fetchone()
    approx = pytest.approx
    assert pb["agb"] == (approx(9.0), approx(162.0), approx(0.0), approx(162.0))
    assert pb["bgb"][1:] == (approx(45.0), approx(0.0), approx(45.0))
    assert pb["soc"][1:] == (approx(45.0), approx(0.0), approx(45.0))
    assert pb["dead_wood"][3] == approx(0.0)
    assert rate == (1, approx(50.4), approx(50.4 * 44 / 12))
    assert unc == (approx(162.0),)


def test_entered_woody_class_without_growth_rate_fails_naming_it(db_url: str,
                                                                 tmp_path: Path) -> None:
    block = (slice(10, 20), slice(10, 20), 2)
    epochs = dict(zip(("2000", "2002"), grids(2, {1: [block]}), strict=True))
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, epochs, LEGEND,
                    "lucode,C_above,C_below,C_soil,C_dead\n1,2,3,0,0\n2,50,10,0,0\n"
                    "3,0,0,0,0\n")
        with pytest.raises(RunError, match=r"class 2 \(agb\).*without a growth rate"):
            run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
