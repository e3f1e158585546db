"""Uncertainty marts over the dynamic stocks: shared factors, growth of converted land, and
factors without an uncertainty, each against a hand computation and an independent Monte
Carlo written here (numpy, not the server's function).

Pixels are 30 m (0.09 ha): a 10 x 10 block is 9 ha.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import psycopg
import pytest
from test_carbon import tiny_region

from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region, set_ipcc_strata
from ecorest.etl.vector_loads import load_projects
from ecorest.run import run_assessment
from helpers import footprint, square_project, write_raster


def draw(rng: np.random.Generator, mean: float, u_pct: float, n: int) -> np.ndarray:
    """IPCC Vol.1 §3.2.2.4: normal (truncated at 0) up to U = 30 %, else lognormal with the
    same mean and standard deviation; U is the 95 % half-width in % of the mean."""
    sd = mean * u_pct / 196.0
    if u_pct > 30:
        s2 = math.log1p((sd / mean) ** 2)
        return rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2), n)
    return np.clip(rng.normal(mean, sd, n), 0, None)


def test_cropland_to_grassland_soc_shares_soc_ref_over_twenty_years(db_url: str,
                                                                    tmp_path: Path) -> None:
    """Warm temperate moist, HAC soil, IPCC 2006: SOC_REF 88 t C/ha (±90 %, Table 2.3),
    cropland F_LU 0.69 (±12 %, Table 5.5 temperate moist), grassland F_LU 1 (native).
    100 px (9 ha) of cropland become grassland between 2000 and 2005 (dated 2000) and stay
    grassland in 2010. SOC moves linearly over D = 20 years: each 5-year period books 5/20 of
    88 x (1 - 0.69) = 27.28 t C/ha, i.e. 9 x 6.82 = 61.38 t C per period.
    The uncertainty of that change is that of SOC_REF x (1 - F_LU) with one SOC_REF for both
    classes: Approach 1 = 196 x sqrt((0.31 sd_ref)^2 + (88 sd_f)^2) / (88 x 0.31) % ≈ 94 %,
    not the ~350 % of treating the two classes' SOC as independent."""
    lc0 = np.full((32, 32), 1, np.uint8)
    lc0[10:20, 10:20] = 2
    lc1 = np.full((32, 32), 1, np.uint8)
    paths = {e: write_raster(tmp_path / f"lc_{e}.tif", a, nodata=255)
             for e, a in (("2000", lc0), ("2005", lc1), ("2010", lc1))}
    with psycopg.connect(db_url) as conn:
        create_region(conn, "t1", footprint(tmp_path, paths["2000"]),
                      align_to=str(paths["2000"]), allow_non_equal_area=True)
        (tmp_path / "legend.csv").write_text("class_code,name_en,ipcc_category,cropland_kind\n"
                                             "1,meadow,grassland,\n2,field,cropland,annual\n")
        load_legend(conn, "t1", tmp_path / "legend.csv")
        for epoch, path in paths.items():
            load_raster(conn, "t1", "landcover", path, epoch=epoch, legend="t1",
                        show_progress=False)
        set_ipcc_strata(conn, "t1", "warm_temperate_moist", "HAC")
        run_id = run_assessment(conn, db_url, "t1", work_dir=tmp_path / "dbt",
                                dbt_vars={"mc_draws": 50000})
        rows = {e: r for e, *r in conn.execute(
            "select epoch_t1, total_t, u_approach1_pct, mc_p2_5_t, mc_p97_5_t, unquantified "
            "from marts.carbon_uncertainty where run_id = %s and zone_set = 'region' "
            "and quantity = 'change' and pool = 'soc'", (run_id,))}
        booked = dict(conn.execute(
            "select epoch_t1, change_t from marts.carbon_stock_changes where run_id = %s "
            "and zone_set = 'region' and pool = 'soc'", (run_id,)).fetchall())
    per_period = 9 * 88 * (1 - 0.69) * 5 / 20
    sd_ref, sd_f = 88 * 0.90 / 1.96, 0.69 * 0.12 / 1.96
    u1 = 196 * math.hypot(0.31 * sd_ref, 88 * sd_f) / (88 * 0.31)
    rng = np.random.default_rng(2024)
    ref, f = draw(rng, 88, 90, 200_000), draw(rng, 0.69, 12, 200_000)
    hand_lo, hand_hi = np.percentile(9 * 5 / 20 * (ref - ref * f), [2.5, 97.5])
    for epoch in ("2000", "2005"):
        total, u, lo, hi, unquantified = rows[epoch]
        assert total == pytest.approx(per_period) == booked[epoch]
        assert u == pytest.approx(u1) and 85 < u < 105
        assert lo == pytest.approx(hand_lo, rel=0.05)
        assert hi == pytest.approx(hand_hi, rel=0.05)
        assert lo <= total <= hi and unquantified == []


def test_benefit_uncertainty_of_a_growing_plantation(db_url: str, tmp_path: Path) -> None:
    """A 9 ha project turns grass (agb 2 t C/ha ±10 %) into forest (agb 50 ±10 %) in 2010
    (change dated 2010, epochs 2010 and 2012); forest grows at G = 5 t C/ha/yr ±40 %, B_after
    0. Declared no-change baseline (the grass stays grass: change 0).
    2012 agb of the planting = 2 x G = 10 t C/ha -> benefit 9 x (10 - 2) = +72 t C, a linear
    form 18 G - 9 D_grass: Approach 1 = sqrt((18 x 5 x 0.40)^2 + (9 x 2 x 0.10)^2) / 72 =
    50.06 %. The forest's density (50) does not enter: the planting has not reached it.
    bgb: forest gives no bgb rate and the densities no bgb uncertainty: the interval is
    null and the missing factors are named (never counted as 0)."""
    lc0 = np.full((64, 64), 1, np.uint8)
    lc1 = lc0.copy()
    lc1[20:30, 20:30] = 2
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2010": lc0, "2012": lc1},
                    "class_code,name_en,ipcc_category\n1,grass,grassland\n2,forest,forest_land\n",
                    "parameter,class_code,pool,value,unit,uncertainty_pct\n"
                    "carbon_density,1,agb,2,t C/ha,10\ncarbon_density,2,agb,50,t C/ha,10\n"
                    "carbon_density,1,bgb,3,t C/ha,\ncarbon_density,2,bgb,10,t C/ha,\n")
        (tmp_path / "growth.csv").write_text(
            "parameter,class_code,pool,value,unit,uncertainty_pct\n"
            "growth_rate,2,agb,5,t C/ha/yr,40\n")
        load_params(conn, tmp_path / "growth.csv", name="growth", kind="growth_rates",
                    source_text="test")
        load_projects(conn, "tiny", square_project(tmp_path, "2010-03-01"))
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt",
                                dbt_vars={"project_baseline": "no_change", "mc_draws": 50000})
        rows = {p: r for p, *r in conn.execute(
            "select pool, benefit_t, u_approach1_pct, mc_p2_5_t, mc_p97_5_t, unquantified "
            "from marts.project_benefit_uncertainty where run_id = %s", (run_id,))}
        booked = dict(conn.execute("select pool, benefit_t from marts.project_benefits "
                                   "where run_id = %s", (run_id,)).fetchall())
    total, u, lo, hi, unquantified = rows["agb"]
    assert total == pytest.approx(72.0) == booked["agb"]
    assert u == pytest.approx(100 * math.hypot(18 * 5 * 0.40, 9 * 2 * 0.10) / 72)
    rng = np.random.default_rng(99)
    g, d = draw(rng, 5, 40, 200_000), draw(rng, 2, 10, 200_000)
    hand_lo, hand_hi = np.percentile(18 * g - 9 * d, [2.5, 97.5])
    assert lo == pytest.approx(hand_lo, rel=0.05) and hi == pytest.approx(hand_hi, rel=0.05)
    assert unquantified == []
    # bgb: 2012 = 2 years x 5 x (10 / 50) = 2 t C/ha -> 9 x (2 - 3) = -9 t C; the bgb/agb
    # ratio and the grass bgb density carry no uncertainty: no interval, and they are named
    total, u, lo, hi, unquantified = rows["bgb"]
    assert total == pytest.approx(-9.0) == booked["bgb"]
    assert (u, lo, hi) == (None, None, None)
    assert any("class 1 bgb" in f for f in unquantified)
    assert any("bgb/agb ratio class 2" in f for f in unquantified)
