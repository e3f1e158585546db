"""The IPCC equation functions reproduce the Guidelines' worked examples (METHODS §4.5); the
Tier 1 reference tables are complete, sourced and carry their uncertainty (METHODS §4.4)."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest


def one(conn: psycopg.Connection, sql: str, params=None):
    return conn.execute(sql, params).fetchone()[0]


def test_forest_biomass_gain_example(conn: psycopg.Connection) -> None:
    # IPCC 2006 Vol. 4 Ch. 4 pp. 4.18-4.19: A = 100 000 ha, G_W = 4.0 t d.m./ha/yr, R = 0.29,
    # CF = 0.47 -> G_TOTAL = 5.16 t d.m./ha/yr; dC_G = 242 520 t C/yr
    assert one(conn, "select ipcc.total_growth(4.0, 0.29)") == pytest.approx(5.16, abs=1e-12)
    assert one(conn, "select ipcc.biomass_gain(100000, 4.0, 0.29, 0.47)") == \
        pytest.approx(242_520, abs=1e-6)


def test_disturbance_loss_example(conn: psycopg.Connection) -> None:
    # 2 000 ha x 4.0 x 1.29 x 0.47 x f_d 0.3 = 1 455.12 t C/yr
    assert one(conn, "select ipcc.disturbance_loss(2000, 4.0, 0.29, 0.47, 0.3)") == \
        pytest.approx(1455.12, abs=1e-9)


def test_cropland_soc_example(conn: psycopg.Connection) -> None:
    # IPCC 2006 Vol. 4 Ch. 5 §5.2.3.4: warm temperate moist, HAC soil, SOC_REF 88, F_LU 0.69.
    # Initial: 400 000 ha low input (F_I 0.92), full till + 600 000 ha medium, full till.
    # Final: 200 000 low/full + 700 000 medium/reduced till (F_MG 1.08) + 100 000 medium/no-till
    # (F_MG 1.15). Stocks 58.78 and 64.06 Mt C; change over D = 20 yr = 264 132 t C/yr.
    initial = one(conn, "select ipcc.soc_stock(88, 0.69, 1.0, 0.92, 400000) "
                        "+ ipcc.soc_stock(88, 0.69, 1.0, 1.0, 600000)")
    final = one(conn, "select ipcc.soc_stock(88, 0.69, 1.0, 0.92, 200000) "
                      "+ ipcc.soc_stock(88, 0.69, 1.08, 1.0, 700000) "
                      "+ ipcc.soc_stock(88, 0.69, 1.15, 1.0, 100000)")
    assert initial == pytest.approx(58_776_960, abs=1e-3)
    assert final == pytest.approx(64_059_600, abs=1e-3)
    assert round(initial / 1e6, 2) == 58.78 and round(final / 1e6, 2) == 64.06
    assert one(conn, "select ipcc.soc_change_per_year(%s, %s)", (final, initial)) == \
        pytest.approx(264_132, abs=1e-6)


def test_linear_transition_and_co2(conn: psycopg.Connection) -> None:
    assert one(conn, "select ipcc.soc_after(50, 70, 5)") == pytest.approx(55.0)
    assert one(conn, "select ipcc.soc_after(50, 70, 40)") == pytest.approx(70.0)
    # a gain of 12 t C is a removal of 44 t CO2 (negative by the IPCC sign convention)
    assert one(conn, "select ipcc.co2e(12)") == pytest.approx(-44.0)
    assert one(conn, "select ipcc.stock_difference(100, 160, 30)") == pytest.approx(2.0)


def test_approach1_uncertainty(conn: psycopg.Connection) -> None:
    # product: sqrt(30^2 + 40^2) = 50 %
    assert one(conn, "select ipcc.u_product(30, 40)") == pytest.approx(50.0)
    # sum: x = 100 (±10 %) + 300 (±20 %): sqrt(10^2 + 60^2) / 400 = 15.2069 %
    assert one(conn, "select ipcc.u_sum(array[100, 300]::float8[], array[10, 20]::float8[])") \
        == pytest.approx(100 * (10 ** 2 + 60 ** 2) ** 0.5 / 400, rel=1e-12)


# ---- Tier 1 reference tables (dbt_project/seeds): complete, sourced, with uncertainty --------

SEEDS = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"


def seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_soc_reference_covers_every_stratum_with_uncertainty() -> None:
    """IPCC Table 2.3, both editions: every climate zone x soil type has a row; a cell without a
    value says so in its source (NA), every value has an uncertainty and where it comes from."""
    from ecorest.vocab import IPCC_CLIMATE_ZONES, IPCC_SOIL_TYPES

    rows = {(r["ipcc_edition"], r["climate_zone"], r["soil_type"]): r
            for r in seed("ipcc_soc_reference")}
    assert set(rows) == {(e, z, s) for e in ("2006", "2019") for z in IPCC_CLIMATE_ZONES
                         for s in IPCC_SOIL_TYPES}
    for r in rows.values():
        if r["soc_ref_t_c_per_ha"]:
            assert float(r["uncertainty_pct"]) > 0 and r["uncertainty_source"], r
        else:
            assert "no Tier 1 SOC" in r["source"], r
    # the 2006 wetland-soil column (merged cells 146, 87, 88, 86), with its caveat
    w06 = {z: rows[("2006", z, "wetland")] for z in IPCC_CLIMATE_ZONES}
    assert {z: float(r["soc_ref_t_c_per_ha"]) for z, r in w06.items()} == {
        "boreal": 146, "cold_temperate_dry": 87, "cold_temperate_moist": 87,
        "warm_temperate_dry": 88, "warm_temperate_moist": 88, "tropical_dry": 86,
        "tropical_moist": 86, "tropical_wet": 86, "tropical_montane": 86}
    assert all("CAVEAT" in r["source"] for r in w06.values())
    # NA cells of 2006: LAC in the boreal zone, spodic outside boreal / cold temperate moist
    na = {(z, s) for (e, z, s), r in rows.items() if e == "2006" and not r["soc_ref_t_c_per_ha"]}
    assert na == {("boreal", "LAC")} | {(z, "spodic") for z in IPCC_CLIMATE_ZONES
                                        if z not in ("boreal", "cold_temperate_moist")}


def test_cropland_factors_of_paddy_and_perennial_crops() -> None:
    f = {(r["ipcc_edition"], r["level"], r["climate"]): float(r["value"])
         for r in seed("ipcc_soc_change_factors") if r["factor"] == "F_LU"}
    assert f[("2006", "paddy_rice", "all")] == 1.10 and f[("2019", "paddy_rice", "all")] == 1.35
    assert f[("2006", "perennial_tree_crop", "all")] == 1.00
    assert f[("2019", "perennial_tree_crop", "temperate_boreal")] == 0.72
    assert f[("2019", "perennial_tree_crop", "tropical")] == 1.1
    assert all(r["uncertainty_pct"] and r["uncertainty_source"]
               for r in seed("ipcc_soc_change_factors"))


def test_every_land_type_has_a_rule_for_every_pool() -> None:
    """ipcc_tier1_rules: the five ecosystems of the standard (forest, grassland, wetland,
    cropland with paddy and perennial crops, desert/shrubland) plus settlements, bare land,
    water and ice, each pool with a method, a rule id and a source; fixed values carry their
    uncertainty; only forest biomass has no Tier 1 value."""
    rules = {(r["tier1_stratum"], r["pool"]): r for r in seed("ipcc_tier1_rules")}
    strata = {s for s, _ in rules}
    assert strata == {"forest", "shrubland", "grassland", "cropland_annual", "cropland_paddy",
                      "cropland_perennial", "marsh", "water", "settlement", "desert_sparse",
                      "desert_vegetated", "bare", "ice"}
    assert set(rules) == {(s, p) for s in strata
                          for p in ("agb", "bgb", "dead_wood", "litter", "soc")}
    for r in rules.values():
        assert r["rule"].startswith("T1-") and r["source"], r
        if r["method"] == "fixed":
            assert r["carbon_t_per_ha"] and r["uncertainty_pct"], r
    assert {k for k, r in rules.items() if r["method"] == "none"} == {("forest", "agb"),
                                                                       ("forest", "bgb")}
    assert rules[("cropland_annual", "agb")]["carbon_t_per_ha"] == "5.0"  # Table 5.9
    assert rules[("cropland_paddy", "soc")]["f_lu_level"] == "paddy_rice"
    assert rules[("cropland_perennial", "soc")]["f_lu_level"] == "perennial_tree_crop"
    assert rules[("cropland_perennial", "agb")]["method"] == "perennial_table"
    assert rules[("shrubland", "agb")]["method"] == "grassland_table"
    assert rules[("marsh", "soc")]["method"] == "soc_ref_wetland"


def test_litter_rows_for_every_climate_and_forest_type() -> None:
    """IPCC 2006 Table 2.2 (litter of mature forests), boreal to tropical, each forest type and
    their mean for mixed or unknown forests; every zone of a region maps to a row."""
    rows = {(r["climate"], r["forest_type"]): r for r in seed("ipcc_litter_stocks")}
    climates = {c for c, _ in rows}
    assert {(c, t) for c in climates for t in ("broadleaf_deciduous", "evergreen_needleleaf",
                                               "mixed_or_unknown")} == set(rows)
    v = {k: float(r["litter_t_c_per_ha"]) for k, r in rows.items()}
    assert v[("warm_temperate_moist", "broadleaf_deciduous")] == 13
    assert v[("warm_temperate_moist", "evergreen_needleleaf")] == 22
    assert v[("warm_temperate_moist", "mixed_or_unknown")] == (13 + 22) / 2
    assert v[("subtropical", "broadleaf_deciduous")] == 2.8
    assert all(r["uncertainty_pct"] and r["uncertainty_source"] for r in rows.values())
    zones = seed("ipcc_climate_zones")
    assert {z["litter_climate"] for z in zones} <= climates


def test_crosswalk_marks_cropland_kind_like_the_builtin_legends() -> None:
    from ecorest.etl.legends import BUILTIN_DIR

    walk = {(r["legend"], r["class_code"]): r for r in seed("landcover_ipcc_crosswalk")}
    for legend in ("clcd", "hj1166_l2", "modis_igbp"):
        with open(BUILTIN_DIR / f"{legend}.csv", encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                w = walk[(legend, row["class_code"])]
                assert (w["ipcc_category"], w["cropland_kind"]) == \
                    (row["ipcc_category"], row["cropland_kind"]), (legend, row)
    assert walk[("hj1166_l2", "52")]["cropland_kind"] == "perennial"  # 园地
    assert walk[("gbt21010_l1", "2")]["cropland_kind"] == "perennial"
