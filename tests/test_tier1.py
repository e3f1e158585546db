"""IPCC Tier 1 defaults on tiny synthetic regions: every value by hand from the IPCC tables
(METHODS §4.4, dbt_project/seeds), the stated rules where IPCC gives no value, and a stratum
without a value failing the run at its start (docs/CARBON.md, "Tier 1 defaults")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest

from ecorest.errors import LoadError, RunError
from ecorest.etl.legends import BUILTIN_DIR, load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region, set_ipcc_strata
from ecorest.run import run_assessment
from helpers import footprint, write_raster

CF = 0.47  # IPCC 2006 Table 4.3, applied to Table 6.4 dry matter


def tier1_region(conn: psycopg.Connection, tmp_path: Path, codes: list[int], *,
                 climate: str, soil: str, legend_csv: str | None = None,
                 legend: str = "t1", params_csv: str | None = None) -> None:
    """Region 't1': one 8-pixel-wide stripe per class code (30 m pixels, 0.09 ha), land cover
    of 2020 with ``legend`` (a CSV given here, or a built-in legend), IPCC strata, and
    optionally a carbon_pools parameter set."""
    lc = np.repeat(np.array(codes, np.uint8), 8)[None, :].repeat(16, axis=0)
    path = write_raster(tmp_path / "lc.tif", lc, nodata=255)
    create_region(conn, "t1", footprint(tmp_path, path), align_to=str(path),
                  allow_non_equal_area=True)
    if legend_csv is not None:
        (tmp_path / "legend.csv").write_text(legend_csv, encoding="utf-8")
        load_legend(conn, legend, tmp_path / "legend.csv")
    load_raster(conn, "t1", "landcover", path, epoch="2020", legend=legend,
                show_progress=False)
    set_ipcc_strata(conn, "t1", climate, soil)
    if params_csv is not None:
        (tmp_path / "params.csv").write_text(params_csv)
        load_params(conn, tmp_path / "params.csv", name="t1", kind="carbon_pools",
                    source_text="test")


def densities(conn: psycopg.Connection, run_id: int) -> dict[tuple[int, str], tuple]:
    """(class, pool) -> (density t C/ha, tier, uncertainty %, source) as the run used them."""
    return {(c, p): (v, t, u, s) for c, p, v, t, u, s in conn.execute(
        "select class_code, pool, value, tier, uncertainty_pct, source "
        "from marts.parameter_lineage where run_id = %s", (run_id,))}


CROPS = ("class_code,name_en,ipcc_category,cropland_kind\n"
         "1,meadow,grassland,\n2,dry field,cropland,annual\n3,rice paddy,cropland,paddy\n"
         "4,orchard,cropland,perennial\n5,field,cropland,\n")


@pytest.mark.slow
def test_wetland_soil_paddy_and_perennial_cropland(db_url: str, tmp_path: Path) -> None:
    """Warm temperate moist on wetland soils. SOC_REF (Table 2.3, wetland column): 2006 88 (the
    merged warm-temperate cell), 2019 135.
    2006: meadow 88 x 1; annual and unmarked cropland 88 x F_LU 0.69 = 60.72; paddy
    88 x 1.10 = 96.8; orchard 88 x 1.00 = 88.
    2019: meadow 135; annual 135 x 0.69 = 93.15; paddy 135 x 1.35 = 182.25; orchard
    135 x 0.72 (temperate) = 97.2.
    Biomass: orchard Table 5.1 temperate 63 t C/ha at harvest / 2 = 31.5 (±75 %); annual and
    paddy 5 t C/ha (Table 5.9); meadow warm temperate wet 2.7 x 0.47 = 1.269 and
    (13.5 - 2.7) x 0.47 = 5.076; cropland below-ground 0 by rule."""
    with psycopg.connect(db_url) as conn:
        tier1_region(conn, tmp_path, [1, 2, 3, 4, 5], climate="warm_temperate_moist",
                     soil="wetland", legend_csv=CROPS)
        got = {}
        for edition in ("2006", "2019"):
            run_id = run_assessment(conn, db_url, "t1", work_dir=tmp_path / "dbt",
                                    ipcc_edition=edition)
            got[edition] = densities(conn, run_id)
            stocks = dict(conn.execute(
                "select class_code, carbon_t from marts.carbon_stocks where run_id = %s and "
                "zone_set = 'region' and pool = 'soc'", (run_id,)).fetchall())
            assert set(stocks) == {1, 2, 3, 4, 5}  # no class left out of the soil pool
    g, n = got["2006"], got["2019"]
    soc = {c: g[(c, "soc")][0] for c in (1, 2, 3, 4, 5)}
    assert soc == {1: pytest.approx(88), 2: pytest.approx(88 * 0.69),
                   3: pytest.approx(88 * 1.10), 4: pytest.approx(88 * 1.00),
                   5: pytest.approx(88 * 0.69)}
    assert {c: n[(c, "soc")][0] for c in (1, 2, 3, 4)} == {
        1: pytest.approx(135), 2: pytest.approx(135 * 0.69), 3: pytest.approx(135 * 1.35),
        4: pytest.approx(135 * 0.72)}
    assert all(v[1] == "ipcc_default" for v in g.values())
    assert "paddy_rice 1.1" in g[(3, "soc")][3] and "CAVEAT" in g[(3, "soc")][3]
    assert "annual assumed" in g[(5, "soc")][3]  # no cropland_kind in the legend
    assert g[(4, "agb")][:3] == (pytest.approx(63 / 2), "ipcc_default", 75)
    assert g[(4, "bgb")][0] == 0 and "[T1-CROP-BGB0]" in g[(4, "bgb")][3]
    assert g[(2, "agb")][0] == g[(3, "agb")][0] == 5.0
    assert g[(1, "agb")][0] == pytest.approx(2.7 * CF)
    assert g[(1, "bgb")][0] == pytest.approx((13.5 - 2.7) * CF)
    # uncertainty: SOC_REF ±90 % (2006 nominal) x F_LU paddy ±50 % (rule U-FACTOR)
    assert g[(3, "soc")][2] == pytest.approx((90 ** 2 + 50 ** 2) ** 0.5)
    # no forest: dead organic matter is 0 by rule everywhere and is not reported as a pool
    assert {p for _, p in g} == {"agb", "bgb", "soc"}


HJ = ["11", "12", "22", "42", "61", "72", "73", "82"]


def test_builtin_legend_land_types_and_temperate_litter(db_url: str, tmp_path: Path) -> None:
    """HJ 1166 level II on warm temperate dry HAC soils, IPCC 2006 (SOC_REF 38, sandy 19).
    Broadleaf forest 11 has an InVEST-style parameter set (agb 80, bgb 20, dead_wood 5: its dead
    organic matter), needleleaf forest 12 agb 60 and bgb 15 only.
      12  litter Table 2.2 warm temperate dry evergreen needleleaf 20.3 t C/ha (range
          17.3-21.1: (21.1 - 17.3) / 2 / 20.3 = 9.36 %); dead wood 0 (not estimated); SOC 38
      11  litter 0: its dead_wood value holds the dead organic matter (not added twice)
      22  shrub: Table 6.4 warm temperate dry 1.6 x 0.47 = 0.752 and (6.1 - 1.6) x 0.47 = 2.115
      42  lake: every pool 0 (IPCC gives no Tier 1 stock for flooded land)
      61  residential: biomass 0, SOC_REF 38 x 1 (settlements keep the reference stock)
      72  sandy land (cover < 4 %): biomass 0, SOC_REF of sandy soils 19
      73  saline-alkali land: Table 6.4 like 22, SOC 38
      82  bare land: biomass 0, SOC 38"""
    params = ("parameter,class_code,pool,value,unit\n"
              "carbon_density,11,agb,80,t C/ha\ncarbon_density,11,bgb,20,t C/ha\n"
              "carbon_density,11,dead_wood,5,t C/ha\n"
              "carbon_density,12,agb,60,t C/ha\ncarbon_density,12,bgb,15,t C/ha\n")
    with psycopg.connect(db_url) as conn:
        tier1_region(conn, tmp_path, [int(c) for c in HJ], climate="warm_temperate_dry",
                     soil="HAC", legend="hj1166_l2", params_csv=params)
        run_id = run_assessment(conn, db_url, "t1", work_dir=tmp_path / "dbt")
        d = densities(conn, run_id)
        walk = {(lg, c): (k, s) for lg, c, k, s in conn.execute(
            "select legend, class_code, cropland_kind, tier1_stratum "
            "from intermediate.landcover_ipcc_crosswalk")}
        kinds = dict(conn.execute(
            "select class_code, cropland_kind from registry.legend_classes c join "
            "registry.legends l using (legend_id) where l.name = 'hj1166_l2' "
            "and cropland_kind is not null").fetchall())
    value = {k: v[0] for k, v in d.items()}
    assert {p for _, p in d} == {"agb", "bgb", "dead_wood", "litter", "soc"}
    assert d[(12, "litter")][:3] == (pytest.approx(20.3), "ipcc_default",
                                     pytest.approx(9.4, abs=0.05))
    assert "[T1-LITTER]" in d[(12, "litter")][3]
    assert value[(12, "dead_wood")] == 0 and "[T1-DEADWOOD-NE]" in d[(12, "dead_wood")][3]
    assert value[(11, "litter")] == 0 and "[T1-DOM-INCLUDED]" in d[(11, "litter")][3]
    assert d[(11, "dead_wood")][:2] == (5.0, "parameter_set")
    for c in (22, 73):
        assert value[(c, "agb")] == pytest.approx(1.6 * CF)
        assert value[(c, "bgb")] == pytest.approx((6.1 - 1.6) * CF)
        assert value[(c, "litter")] == value[(c, "dead_wood")] == 0
    assert all(value[(42, p)] == 0 for p in ("agb", "bgb", "dead_wood", "litter", "soc"))
    assert "[T1-WATER]" in d[(42, "soc")][3] and d[(42, "soc")][2] == 0
    assert (value[(61, "agb")], value[(61, "soc")]) == (0, pytest.approx(38))
    assert "[T1-SETTLEMENT]" in d[(61, "soc")][3]
    assert (value[(72, "agb")], value[(72, "soc")]) == (0, pytest.approx(19))
    assert (value[(82, "agb")], value[(82, "soc")]) == (0, pytest.approx(38))
    assert value[(12, "soc")] == value[(22, "soc")] == value[(73, "soc")] == pytest.approx(38)
    # the seed's crosswalk agrees with the built-in legend: 园地 perennial, 耕地 annual
    assert kinds == {51: "annual", 52: "perennial"}
    assert walk[("hj1166_l2", 52)] == ("perennial", "cropland")
    assert walk[("clcd", 1)] == ("annual", "cropland")


def test_stratum_without_a_value_fails_at_the_start(db_url: str, tmp_path: Path) -> None:
    """Spodic soils in the warm temperate dry zone have no SOC_REF in IPCC 2006 Table 2.3 (NA),
    and IPCC gives no Tier 1 forest biomass: the run fails before any per-pixel model, naming
    class, pool and stratum, and writes no mart row."""
    legend = "class_code,name_en,ipcc_category\n1,steppe,grassland\n2,pine,forest_land\n"
    with psycopg.connect(db_url) as conn:
        tier1_region(conn, tmp_path, [1, 2], climate="warm_temperate_dry", soil="spodic",
                     legend_csv=legend)
        with pytest.raises(RunError) as err:
            run_assessment(conn, db_url, "t1", work_dir=tmp_path / "dbt")
        status, message = conn.execute(
            "select status, message from etl.assessment_runs").fetchone()
        built = conn.execute(
            "select to_regclass('intermediate.int_landcover_trajectories'), "
            "to_regclass('marts.carbon_stocks')").fetchone()
        marts = conn.execute("select count(*) from pg_tables where schemaname = 'marts'"
                             ).fetchone()[0]
    text = str(err.value)
    assert status == "failed" and message in text
    stratum = "[stratum: climate warm_temperate_dry, soil spodic, IPCC 2006]"
    assert ("class 1 'steppe' (grassland), pool soc: IPCC 2006 Vol.4 Table 2.3: NA, no "
            "reference stock for spodic soils in this climate zone") in text
    assert stratum in text
    assert "class 2 'pine' (forest_land), pools agb, bgb: no Tier 1 forest biomass" in text
    assert "class 2 'pine' (forest_land), pool soc:" in text
    assert "Got " not in text  # not dbt's bare count of failing rows
    # nothing per-pixel was built and no mart exists or holds a row
    assert built == (None, None) and marts == 0


def test_legend_loader_reads_cropland_kind(conn: psycopg.Connection, tmp_path: Path) -> None:
    legend = tmp_path / "legend.csv"
    legend.write_text(CROPS, encoding="utf-8")
    load_legend(conn, "crops", legend)
    got = dict(conn.execute(
        "select class_code, cropland_kind from registry.legend_classes c join registry.legends "
        "l using (legend_id) where l.name = 'crops'").fetchall())
    assert got == {1: None, 2: "annual", 3: "paddy", 4: "perennial", 5: None}
    bad = tmp_path / "bad.csv"
    bad.write_text("class_code,name_en,ipcc_category,cropland_kind\n1,rice,cropland,rice\n"
                   "2,meadow,grassland,paddy\n")
    with pytest.raises(LoadError) as err:
        load_legend(conn, "bad", bad)
    text = str(err.value)
    assert "cropland_kind = 'rice' is not one of ['annual', 'paddy', 'perennial']" in text
    assert "cropland_kind = 'paddy' given for a grassland class" in text
    # the built-in legends mark their cropland: CLCD annual, HJ 1166 耕地 annual, 园地 perennial
    for name, want in (("clcd", {"1": "annual"}), ("hj1166_l2", {"51": "annual",
                                                                 "52": "perennial"})):
        rows = (BUILTIN_DIR / f"{name}.csv").read_text(encoding="utf-8").splitlines()
        header = rows[0].split(",")
        marked = {r.split(",")[0]: r.split(",")[header.index("cropland_kind")]
                  for r in rows[1:] if r.split(",")[header.index("cropland_kind")]}
        assert marked == want
