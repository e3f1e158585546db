"""Carbon stocks and changes from `ecorest run`, checked against independent computations."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
import rasterio

from ecorest.errors import LoadError, RunError
from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from helpers import DERIVED, WILLAMETTE, footprint, square_project, write_raster

POOLS = {"C_above": "agb", "C_below": "bgb", "C_soil": "soc", "C_dead": "dead_wood"}


def numpy_stocks(path: Path, table: pd.DataFrame) -> dict[str, float]:
    """t C per pool over the original file: sum of density x 0.09 ha (InVEST's method)."""
    with rasterio.open(path) as src:
        a = src.read(1)
        valid = a != src.nodata
    out = {}
    for col, pool in POOLS.items():
        lut = np.zeros(256)
        lut[table["lucode"].to_numpy()] = table[col].to_numpy()
        out[pool] = float(lut[a[valid]].sum() * 0.09)
    return out


def willamette(conn: psycopg.Connection, db_url: str, tmp: Path) -> int:
    """The Willamette sample (InVEST's carbon inputs, 2020 and the 2050 scenario, its
    watersheds as zones) with one succeeded run; returns the run id."""
    create_region(conn, "willamette", DERIVED / "willamette_region.geojson",
                  align_to=str(WILLAMETTE / "lulc_samp_cur.tif"), allow_non_equal_area=True)
    load_legend(conn, "willamette", DERIVED / "willamette_legend.csv")
    for name, epoch in (("lulc_samp_cur.tif", "2020"), ("lulc_samp_fut.tif", "2050")):
        load_raster(conn, "willamette", "landcover", WILLAMETTE / name, epoch=epoch,
                    scenario=True, legend="willamette", show_progress=False)
    load_params(conn, WILLAMETTE / "carbon_pools_willamette.csv", name="pools",
                kind="carbon_pools", source_text="InVEST sample data")
    # the scenario turns hybrid poplar (66, cropland) into conifer woodlot (95, forest
    # land): entered forest needs a growth rate. A test rate fast enough to reach the
    # class density (275 t C/ha above ground) within the 30 years, so that the stocks
    # can be compared with InVEST's (which credits it at once)
    rates = tmp / "growth.csv"
    rates.write_text("parameter,class_code,pool,value,unit\n"
                     "growth_rate,95,agb,10,t C/ha/yr\n")
    load_params(conn, rates, name="growth", kind="growth_rates", source_text="test")
    load_zones_ws(conn)
    return run_assessment(conn, db_url, "willamette", work_dir=tmp / "dbt")


@pytest.fixture
def willamette_run(prebuilt):
    """The Willamette run (built once per test run), in a database of the test's own."""
    with prebuilt("willamette", willamette) as (url, run_id), psycopg.connect(url) as conn:
        yield conn, run_id, url


def load_zones_ws(conn) -> None:
    from ecorest.etl.vector_loads import load_zones

    load_zones(conn, "willamette", WILLAMETTE / "watersheds.shp", zone_set="watershed",
               mapping={"zone_code": "ws_id"})


def test_stocks_and_change_match_numpy_and_invest(willamette_run) -> None:
    conn, run_id, _ = willamette_run
    table = pd.read_csv(WILLAMETTE / "carbon_pools_willamette.csv")
    want_cur = numpy_stocks(WILLAMETTE / "lulc_samp_cur.tif", table)
    want_fut = numpy_stocks(WILLAMETTE / "lulc_samp_fut.tif", table)
    got = {(e, p): v for e, p, v in conn.execute(
        "select epoch_label, pool, sum(carbon_t) from marts.carbon_stocks where run_id = %s "
        "and zone_set = 'region' group by 1, 2", (run_id,))}
    for pool in POOLS.values():
        assert got[("2020", pool)] == pytest.approx(want_cur[pool], rel=1e-4)
        assert got[("2050", pool)] == pytest.approx(want_fut[pool], rel=1e-4)
    # InVEST 3.20.2 Carbon on these inputs (data/sample/invest_willamette/SOURCE.md)
    assert sum(got[("2020", p)] for p in POOLS.values()) == pytest.approx(41_401_390.815,
                                                                          rel=1e-4)
    assert sum(got[("2050", p)] for p in POOLS.values()) == pytest.approx(37_875_295.71,
                                                                          rel=1e-4)
    changes = dict(conn.execute(
        "select pool, change_t from marts.carbon_stock_changes where run_id = %s and "
        "zone_set = 'region'", (run_id,)).fetchall())
    for pool in POOLS.values():
        assert changes[pool] == pytest.approx(want_fut[pool] - want_cur[pool], rel=1e-4)
    assert sum(changes.values()) == pytest.approx(-3_526_095.105, rel=1e-4)


def test_change_per_year_and_co2e(willamette_run) -> None:
    conn, run_id, _ = willamette_run
    row = conn.execute(
        "select years, change_t, change_t_per_yr, co2e_t_per_yr, sink_co2e_t_per_yr from "
        "marts.carbon_stock_changes where run_id = %s and zone_set = 'region' and pool = 'agb'",
        (run_id,)).fetchone()
    years, change, per_yr, co2e, sink = row
    assert years == 30
    assert per_yr == pytest.approx(change / 30)
    assert co2e == pytest.approx(-per_yr * 44 / 12)   # a loss is a positive emission
    assert sink == pytest.approx(-co2e)


def test_zones_add_up_to_their_polygons(willamette_run) -> None:
    conn, run_id, _ = willamette_run
    rows = conn.execute(
        "select s.zone_code, sum(s.area_ha) / 4 as area_ha, max(z.area_ha) from "
        "marts.carbon_stocks s join registry.zones z on z.zone_code = s.zone_code and "
        "z.zone_set = s.zone_set where s.run_id = %s and s.zone_set = 'watershed' and "
        "s.epoch_label = '2020' group by 1", (run_id,)).fetchall()
    assert len(rows) == 3
    for _, raster_area, polygon_area in rows:
        # the watersheds are traced from 30 m cells, so rasterising them gives their area
        assert raster_area == pytest.approx(polygon_area, rel=0.01)


def test_run_is_recorded_with_lineage(willamette_run) -> None:
    conn, run_id, _ = willamette_run
    row = conn.execute("select status, ipcc_edition, cardinality(input_catalog_ids), "
                       "cardinality(parameter_set_ids), code_version from etl.assessment_runs "
                       "where run_id = %s", (run_id,)).fetchone()
    assert row[:4] == ("succeeded", "2006", 2, 2)  # carbon pools and growth rates
    assert row[4] == version("ecorest")  # the package metadata, stamped at build time


def test_failed_run_keeps_previous_results(willamette_run, tmp_path) -> None:
    conn, run_id, db_url = willamette_run
    before = conn.execute("select count(*), sum(carbon_t) from marts.carbon_stocks").fetchone()
    # a new epoch with a class that has no carbon density: the run must fail, loudly
    data = np.full((64, 64), 102, np.uint8)
    data[:, :32] = 54
    with rasterio.open(WILLAMETTE / "lulc_samp_cur.tif") as src:
        origin = (src.transform.c + 300, src.transform.f - 300)
    path = write_raster(tmp_path / "new.tif", data, origin=origin, nodata=255)
    conn.execute("delete from registry.parameter_values where class_code = 102")
    conn.commit()
    load_raster(conn, "willamette", "landcover", path, epoch="2021", legend="willamette",
                show_progress=False)
    with pytest.raises(RunError, match="assert_every_class_has_a_density"):
        run_assessment(conn, db_url, "willamette", work_dir=tmp_path / "dbt")
    assert conn.execute("select status from etl.assessment_runs order by run_id desc limit 1"
                        ).fetchone() == ("failed",)
    assert conn.execute("select count(*), sum(carbon_t) from marts.carbon_stocks where "
                        "run_id = %s", (run_id,)).fetchone() == before


def test_a_change_of_exactly_minus_one_is_kept(db_url: str, tmp_path: Path) -> None:
    """InVEST once used -1 as nodata for change maps; here -1 t C/ha is just a number."""
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((64, 64), 1), "2010": np.full((64, 64), 2)},
                    "class_code,name_en,ipcc_category\n1,old forest,forest_land\n"
                    "2,young forest,forest_land\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,5,0,0,0\n2,4,0,0,0\n")
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        change = conn.execute("select change_t, area_ha from marts.carbon_stock_changes where "
                              "run_id = %s and pool = 'agb'", (run_id,)).fetchone()
        assert change == (pytest.approx(-1 * 4096 * 0.09), pytest.approx(4096 * 0.09))


def tiny_region(conn: psycopg.Connection, tmp_path: Path, epochs: dict[str, np.ndarray],
                legend_csv: str, params_csv: str) -> None:
    """Region 'tiny' on the grid of small generated UTM rasters (30 m, origin 450000/4950000),
    with its legend, one land-cover raster per epoch and one carbon_pools parameter set."""
    paths = {e: write_raster(tmp_path / f"lc_{e}.tif", a.astype(np.uint8), nodata=255)
             for e, a in epochs.items()}
    first = next(iter(paths.values()))
    legend = tmp_path / "legend.csv"
    legend.write_text(legend_csv)
    params = tmp_path / "params.csv"
    params.write_text(params_csv)
    create_region(conn, "tiny", footprint(tmp_path, first), align_to=str(first),
                  allow_non_equal_area=True)
    load_legend(conn, "tiny", legend)
    for epoch, path in paths.items():
        load_raster(conn, "tiny", "landcover", path, epoch=epoch, legend="tiny",
                    show_progress=False)
    load_params(conn, params, name="tiny", kind="carbon_pools", source_text="test")


def test_same_inputs_reuse_the_run_unless_forced(willamette_run, tmp_path) -> None:
    conn, run_id, db_url = willamette_run
    assert run_assessment(conn, db_url, "willamette", work_dir=tmp_path / "dbt") == run_id
    assert conn.execute("select count(*) from etl.assessment_runs").fetchone() == (1,)
    again = run_assessment(conn, db_url, "willamette", work_dir=tmp_path / "dbt", force=True)
    assert again > run_id
    # both runs stay in the marts, each under its own id, with the same numbers
    totals = conn.execute("select run_id, round(sum(carbon_t)::numeric, 3) from "
                          "marts.carbon_stocks group by 1 order by 1").fetchall()
    assert [t[0] for t in totals] == [run_id, again] and totals[0][1] == totals[1][1]


def test_project_benefit_against_baseline_ring_by_hand(db_url: str, tmp_path: Path) -> None:
    """A 10 x 10 px project turns class 1 (5 t C/ha) into class 3 (8 t C/ha) while everything
    around it degrades to class 2 (4 t C/ha), over 10 years, on 30 m pixels (0.09 ha). All
    three are grassland strata: a change between them takes the new density at once.
    inside: 100 x 0.09 x (+3) = +27 t; baseline at the ring's rate (-1 t/ha): 100 x 0.09 x -1 =
    -9 t; benefit 36 t = 3.6 t C/yr = 13.2 t CO2e/yr."""
    from ecorest.etl.vector_loads import load_projects

    t2 = np.full((64, 64), 2)
    t2[20:30, 20:30] = 3
    projects = square_project(tmp_path, "2001-01-01")
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((64, 64), 1), "2010": t2},
                    "class_code,name_en,ipcc_category\n1,grass,grassland\n2,degraded,grassland\n"
                    "3,plantation,grassland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,5,0,0,0\n2,4,0,0,0\n3,8,0,0,0\n")
        load_projects(conn, "tiny", projects)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        row = conn.execute(
            "select area_ha, change_t, baseline_change_t, benefit_t, benefit_t_per_yr, "
            "sink_enhancement_co2e_t_per_yr, baseline_coverage from marts.project_benefits "
            "where run_id = %s and pool = 'agb'", (run_id,)).fetchone()
    assert row == (pytest.approx(9.0), pytest.approx(27.0), pytest.approx(-9.0),
                   pytest.approx(36.0), pytest.approx(3.6), pytest.approx(13.2),
                   pytest.approx(1.0))


def test_parameter_lineage_names_every_value_used(willamette_run) -> None:
    conn, run_id, _ = willamette_run
    rows = conn.execute("select count(*), count(distinct class_code), min(tier), max(tier), "
                        "min(source) from marts.parameter_lineage where run_id = %s",
                        (run_id,)).fetchone()
    classes = conn.execute("select count(distinct class_code) from marts.carbon_stocks "
                           "where run_id = %s", (run_id,)).fetchone()[0]
    assert rows == (classes * 4, classes, "parameter_set", "parameter_set",
                    "InVEST sample data")


def test_monte_carlo_agrees_with_approach1(db_url: str, tmp_path: Path) -> None:
    """Normal, independent class densities: Approach 1 is exact for the 95 % interval of the
    sum, so the seeded Monte Carlo (5 000 draws) must reproduce it within sampling error."""
    t1 = np.full((64, 64), 1)
    t1[:, 32:] = 2
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": t1, "2020": np.full((64, 64), 2)},
                    "class_code,name_en,ipcc_category\n1,forest,forest_land\n"
                    "2,grassland,grassland\n",
                    "parameter,class_code,pool,value,unit,uncertainty_pct\n"
                    "carbon_density,1,agb,100,t C/ha,20\n"
                    "carbon_density,2,agb,10,t C/ha,30\n")
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        rows = {(q, e): r for q, e, *r in conn.execute(
            "select quantity, epoch_t1, total_t, u_approach1_pct, mc_mean_t, mc_p2_5_t, "
            "mc_p97_5_t from marts.carbon_uncertainty where run_id = %s", (run_id,))}
    area = 2048 * 0.09  # ha per class at t1
    # stock 2000: 184.32 x 100 (±20 %) + 184.32 x 10 (±30 %)
    x1, x2 = area * 100, area * 10
    total, u1, mc_mean, lo, hi = rows[("stock", "2000")]
    assert total == pytest.approx(x1 + x2)
    assert u1 == pytest.approx(100 * ((0.2 * x1) ** 2 + (0.3 * x2) ** 2) ** 0.5 / (x1 + x2))
    assert mc_mean == pytest.approx(total, rel=0.01)
    assert (hi - lo) / 2 / total * 100 == pytest.approx(u1, rel=0.06)
    # change 2000 -> 2020: the forest half becomes grassland: -184.32 x 100 + 184.32 x 10
    total, u1, mc_mean, lo, hi = rows[("change", "2000")]
    assert total == pytest.approx(-area * 90)
    assert u1 == pytest.approx(100 * ((0.2 * x1) ** 2 + (0.3 * x2) ** 2) ** 0.5 / (area * 90))
    assert (hi - lo) / 2 / abs(total) * 100 == pytest.approx(u1, rel=0.06)


def test_tier2_from_plots_and_cross_validated_validation(db_url: str, tmp_path: Path) -> None:
    """Six plots in class 1 (>= min_plots 5) replace its density with their mean (Tier 2);
    class 2 keeps the parameter set. Validation of class-1 plots is 5-fold cross-validated."""
    from pyproj import Transformer

    from ecorest.etl.plots import load_plots

    t1 = np.full((64, 64), 1)
    t1[:, 32:] = 2
    to_lonlat = Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True)
    forest = [90.0, 95.0, 100.0, 105.0, 110.0, 120.0]
    grass = [10.0, 12.0]
    lines = ["plot_id,date,lon,lat,agb (t C/ha)"]
    for i, v in enumerate(forest + grass):
        col = 5 + 3 * i if i < len(forest) else 40 + 3 * (i - len(forest))
        lon, lat = to_lonlat.transform(450_000 + col * 30 + 15, 4_950_000 - 10 * 30 - 15)
        lines.append(f"P{i + 1},2005-07-01,{lon},{lat},{v}")
    plots = tmp_path / "plots.csv"
    plots.write_text("\n".join(lines) + "\n")
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2005": t1}, "class_code,name_en\n1,forest\n2,grassland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,0,0\n2,10,0,0,0\n")
        load_plots(conn, "tiny", plots)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        stocks = dict(((c, (d, t)) for c, d, t in conn.execute(
            "select class_code, carbon_t_per_ha, tier from marts.carbon_stocks where run_id = %s "
            "and zone_set = 'region' and pool = 'agb'", (run_id,))))
        val = {p: (m, cv, tier) for p, m, cv, tier in conn.execute(
            "select plot_id, measured_t_per_ha, modelled_t_per_ha, tier from "
            "marts.plot_validation where run_id = %s order by plot_id", (run_id,))}
    assert stocks[1] == (pytest.approx(sum(forest) / 6), "plots")
    assert stocks[2] == (10.0, "parameter_set")
    # folds by plot order: P1..P5 -> folds 0..4, P6 -> fold 0; P1's model excludes P1 and P6
    assert val["P1"][1] == pytest.approx((95 + 100 + 105 + 110) / 4)
    assert val["P2"][1] == pytest.approx((90 + 100 + 105 + 110 + 120) / 5)
    assert val["P6"][1] == pytest.approx((95 + 100 + 105 + 110) / 4)
    assert val["P7"] == (10.0, 10.0, "parameter_set") and val["P8"][1] == 10.0


def test_ipcc_seed_tables(willamette_run) -> None:
    import csv

    from ecorest.etl.legends import BUILTIN_DIR

    conn, _, _ = willamette_run
    soc = dict(((e, v) for e, v in conn.execute(
        "select ipcc_edition, soc_ref_t_c_per_ha from intermediate.ipcc_soc_reference "
        "where climate_zone = 'warm_temperate_moist' and soil_type = 'HAC'")))
    assert soc == {"2006": 88.0, "2019": 64.0}  # the 2006 value of the worked example
    f_mg = conn.execute("select value from intermediate.ipcc_soc_change_factors where "
                        "ipcc_edition = '2006' and factor = 'F_MG' and level = 'no_tillage' "
                        "and climate = 'temperate_moist'").fetchone()
    assert f_mg == (1.15,)
    # the crosswalk agrees with the built-in legends' IPCC categories
    walk = {(lg, c): cat for lg, c, cat in conn.execute(
        "select legend, class_code, ipcc_category from intermediate.landcover_ipcc_crosswalk")}
    for legend in ("clcd", "hj1166_l2", "modis_igbp"):
        for row in csv.DictReader(open(BUILTIN_DIR / f"{legend}.csv", encoding="utf-8")):
            assert walk[(legend, int(row["class_code"]))] == row["ipcc_category"]
    # litter (Table 2.2), perennial woody cropland (Table 5.1), drained organic soils (5.6)
    assert conn.execute("select litter_t_c_per_ha from intermediate.ipcc_litter_stocks where "
                        "climate_forest_type = 'subtropical_broadleaf_deciduous'").fetchone() \
        == (2.8,)
    assert conn.execute("select biomass_at_harvest_t_c_per_ha, accumulation_t_c_per_ha_yr "
                        "from intermediate.ipcc_perennial_cropland where climate = 'temperate'"
                        ).fetchone() == (63.0, 2.1)
    assert conn.execute("select emission_t_c_per_ha_yr from intermediate."
                        "ipcc_organic_soil_emissions where climate = 'warm_temperate'"
                        ).fetchone() == (10.0,)


def test_per_pixel_density_rasters(willamette_run) -> None:
    conn, run_id, _ = willamette_run
    # every pixel's density equals its class's density: compare sums over all tiles with
    # the stocks mart (area x density)
    total = conn.execute(
        "select sum((s).sum * 0.09) from (select st_summarystats(rast) s from "
        "raster.carbon_density_tiles(%s, '2020', 'agb')) x", (run_id,)).fetchone()[0]
    want = conn.execute("select sum(carbon_t) from marts.carbon_stocks where run_id = %s and "
                        "zone_set = 'region' and epoch_label = '2020' and pool = 'agb'",
                        (run_id,)).fetchone()[0]
    assert total == pytest.approx(want, rel=1e-6)
    # and at one pixel: class 61 (conifer > 200 yrs) carries 375 t C/ha above ground
    row = conn.execute(
        "with lc as (select t.tile_x, t.tile_y, t.rast from raster.tiles t join raster.catalog c "
        "using (catalog_id) where c.epoch_label = '2020'), "
        "px as (select lc.tile_x, lc.tile_y, (st_pixelascentroids(lc.rast)).* from lc) "
        "select px.val, st_value(d.rast, px.geom) from px join "
        "raster.carbon_density_tiles(%s, '2020', 'agb') d using (tile_x, tile_y) "
        "where px.val = 61 limit 1", (run_id,)).fetchone()
    assert row == (61, 375.0)


@pytest.mark.slow
def test_ipcc_tier1_defaults_from_region_climate_and_soil(db_url: str, tmp_path: Path) -> None:
    """No plots and no parameter set: cropland and grassland take IPCC Tier 1 values for a warm
    temperate moist climate on HAC soils. 2006: SOC_REF 88 t C/ha; cropland x F_LU 0.69 = 60.72;
    grassland biomass (Table 6.4, warm temperate wet) 2.7 t d.m./ha above-ground and 13.5 total
    x CF 0.47 = 1.269 and 5.076 t C/ha; cropland biomass 5 t C/ha (Table 5.9). 2019: SOC_REF
    64, F_LU 0.69 -> 44.16."""
    from ecorest.etl.regions import set_ipcc_strata

    lc = np.full((32, 32), 1, np.uint8)
    lc[:, 16:] = 2
    path = write_raster(tmp_path / "lc.tif", lc, nodata=255)
    (tmp_path / "legend.csv").write_text("class_code,name_en,ipcc_category\n1,crop,cropland\n"
                                         "2,meadow,grassland\n")
    with psycopg.connect(db_url) as conn:
        create_region(conn, "tier1", footprint(tmp_path, path), align_to=str(path),
                      allow_non_equal_area=True)
        load_legend(conn, "tier1", tmp_path / "legend.csv")
        load_raster(conn, "tier1", "landcover", path, epoch="2020", legend="tier1",
                    show_progress=False)
        set_ipcc_strata(conn, "tier1", "warm_temperate_moist", "HAC")
        got = {}
        for edition in ("2006", "2019"):
            run_id = run_assessment(conn, db_url, "tier1", work_dir=tmp_path / "dbt",
                                    ipcc_edition=edition)
            got[edition] = {(c, p): (d, t, u) for c, p, d, t, u in conn.execute(
                "select class_code, pool, carbon_t_per_ha, tier, uncertainty_pct "
                "from marts.carbon_stocks where run_id = %s and zone_set = 'region'",
                (run_id,))}
        with pytest.raises(LoadError, match="unknown IPCC climate zone"):
            set_ipcc_strata(conn, "tier1", "temperate", None)
    g = got["2006"]
    assert g[(1, "soc")][:2] == (pytest.approx(88 * 0.69), "ipcc_default")
    assert g[(1, "soc")][2] == pytest.approx((90 ** 2 + 12 ** 2) ** 0.5)  # Approach 1 product
    assert g[(2, "soc")][:2] == (pytest.approx(88), "ipcc_default")
    assert g[(2, "agb")][0] == pytest.approx(2.7 * 0.47)
    assert g[(2, "bgb")][0] == pytest.approx((13.5 - 2.7) * 0.47)
    assert g[(1, "agb")][0] == pytest.approx(5.0)
    assert got["2019"][(1, "soc")][0] == pytest.approx(64 * 0.69)
    assert got["2019"][(2, "soc")][0] == pytest.approx(64)


def test_soc_transition_and_gain_loss_by_hand(db_url: str, tmp_path: Path) -> None:
    """Half of a 64 x 64 px area (2 048 px x 0.09 ha = 184.32 ha) turns from class 1 into class 2
    over 10 years. SOC 50 -> 80 t C/ha: equilibrium change 184.32 x 30 = 5 529.6 t, of which
    10/20 is realised in the period (2 764.8 t) and the rest committed. Gain-loss (class 1 has a
    growth rate of 2 t C/ha/yr but is at its class density: steady state, no gain): the
    converted half loses its forest biomass at once, 184.32 x (0 - 100) = -18 432 t, and the
    grassland reaches its 10 t C/ha within a year, gain 184.32 x 10 = 1 843.2 t; change
    -16 588.8 t."""
    t2 = np.full((64, 64), 1)
    t2[:, 32:] = 2
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((64, 64), 1), "2010": t2},
                    "class_code,name_en,ipcc_category\n1,forest,forest_land\n2,grassland,grassland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,50,0\n2,10,0,80,0\n")
        rates = tmp_path / "growth.csv"
        rates.write_text("parameter,class_code,pool,value,unit\ngrowth_rate,1,agb,2,t C/ha/yr\n")
        load_params(conn, rates, name="growth", kind="growth_rates", source_text="test")
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        soc = conn.execute(
            "select equilibrium_change_t, realised_change_t, committed_change_t, "
            "realised_change_t_per_yr from marts.soc_transition_changes "
            "where run_id = %s and zone_set = 'region'", (run_id,)).fetchone()
        gl = conn.execute(
            "select gain_t, conversion_t, change_t, change_t_per_yr, "
            "area_without_growth_rate_ha from marts.carbon_gain_loss "
            "where run_id = %s and zone_set = 'region' and pool = 'agb'", (run_id,)).fetchone()
    assert soc == (pytest.approx(5529.6), pytest.approx(2764.8), pytest.approx(2764.8),
                   pytest.approx(276.48))
    assert gl == (pytest.approx(1843.2), pytest.approx(-18432.0), pytest.approx(-16588.8),
                  pytest.approx(-1658.88), pytest.approx(0))


def test_project_uncertainty_declared_baseline_and_sink_rates(db_url: str,
                                                              tmp_path: Path) -> None:
    """The hand-made project of test_project_benefit_against_baseline_ring_by_hand with three
    epochs (2000, 2010, 2020) and a start in 2010; densities +-10 %.
    2000 -> 2010 nothing changes (rate before 0); 2010 -> 2020 the project turns class 1 (5)
    into 3 (8): +27 t inside over 10 yr. Declared no-change baseline: benefit = 27 t.
    Benefit = 9 x d3 - 9 x d1 (ha x t C/ha): Approach 1 = sqrt((0.1·72)² + (0.1·45)²)/27
    = 31.4 %; the Monte Carlo 95 % half-width matches it within sampling error."""
    from ecorest.etl.vector_loads import load_projects

    t3 = np.full((64, 64), 1)
    t3[20:30, 20:30] = 3
    projects = square_project(tmp_path, "2010-03-01")
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((64, 64), 1),
                                     "2010": np.full((64, 64), 1), "2020": t3},
                    "class_code,name_en,ipcc_category\n1,grass,grassland\n2,degraded,grassland\n"
                    "3,plantation,grassland\n",
                    "parameter,class_code,pool,value,unit,uncertainty_pct\n"
                    "carbon_density,1,agb,5,t C/ha,10\ncarbon_density,2,agb,4,t C/ha,10\n"
                    "carbon_density,3,agb,8,t C/ha,10\n")
        load_projects(conn, "tiny", projects)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt",
                                dbt_vars={"project_baseline": "no_change"})
        unc = conn.execute(
            "select benefit_t, u_approach1_pct, mc_p2_5_t, mc_p97_5_t, baseline_method "
            "from marts.project_benefit_uncertainty where run_id = %s and epoch_t1 = '2010'",
            (run_id,)).fetchone()
        pb = conn.execute("select benefit_t, baseline_method from marts.project_benefits "
                          "where run_id = %s and epoch_t1 = '2010'", (run_id,)).fetchone()
        rates = conn.execute(
            "select periods_before, periods_after, change_before_t_per_yr, "
            "change_after_t_per_yr, sink_rate_change_co2e_t_per_yr "
            "from marts.project_sink_rates where run_id = %s", (run_id,)).fetchone()
        options = conn.execute("select options -> 'vars' from etl.assessment_runs "
                               "where run_id = %s", (run_id,)).fetchone()[0]
    assert pb == (pytest.approx(27.0), "no_change")
    u1 = 100 * ((0.1 * 72) ** 2 + (0.1 * 45) ** 2) ** 0.5 / 27
    assert unc[0] == pytest.approx(27.0) and unc[1] == pytest.approx(u1)
    assert (unc[3] - unc[2]) / 2 / 27.0 * 100 == pytest.approx(u1, rel=0.06)
    assert unc[4] == "no_change"
    assert rates == (1, 1, pytest.approx(0.0), pytest.approx(2.7),
                     pytest.approx(2.7 * 44 / 12))
    assert options == {"project_baseline": "no_change"}


def test_plot_validation_summary_by_ecosystem(db_url: str, tmp_path: Path) -> None:
    """Three grassland plots measured 9, 10 and 12 t C/ha against a modelled 10 t C/ha:
    deviations +11.1 %, 0 %, -16.7 % -> 1 of 3 within +-10 %, MRE 9.26 %, bias -1.85 %,
    RMSE sqrt((1 + 0 + 4)/3) = 1.291 t C/ha."""
    from pyproj import Transformer

    from ecorest.etl.plots import load_plots

    to_lonlat = Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True)
    lines = ["plot_id,date,lon,lat,agb (t C/ha),ecosystem_type"]
    for i, v in enumerate((9.0, 10.0, 12.0)):
        lon, lat = to_lonlat.transform(450_000 + (5 + 10 * i) * 30 + 15, 4_950_000 - 315)
        lines.append(f"G{i + 1},2005-07-01,{lon},{lat},{v},grassland")
    plots = tmp_path / "plots.csv"
    plots.write_text("\n".join(lines) + "\n")
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2005": np.full((64, 64), 1)},
                    "class_code,name_en\n1,grassland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,10,0,0,0\n")
        load_plots(conn, "tiny", plots)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        row = conn.execute(
            "select ecosystem_type, plots, within_10pct_share_pct, mre_pct, bias_pct, "
            "rmse_t_per_ha, bias_within_10pct from marts.plot_validation_summary "
            "where run_id = %s and pool = 'agb'", (run_id,)).fetchone()
    devs = [100 * (10 - m) / m for m in (9.0, 10.0, 12.0)]
    assert row == ("grassland", 3, pytest.approx(100 / 3),
                   pytest.approx(sum(abs(d) for d in devs) / 3),
                   pytest.approx(sum(devs) / 3), pytest.approx((5 / 3) ** 0.5), True)


def test_land_cover_accuracy_and_area_uncertainty_of_stocks(db_url: str, tmp_path: Path) -> None:
    """20 reference samples: in the class-1 half 8 are class 1 and 2 are class 2; in the class-2
    half all 10 are class 2. Each class maps 184.32 ha (W = 0.5). By hand (Olofsson 2014):
    p11 = 0.4, p12 = 0.1, p22 = 0.5 -> adjusted areas 0.4 and 0.6 x 368.64 ha; Var(p1) =
    Var(p2) = 0.25 x 0.8 x 0.2 / 9 -> CI = 1.96 x sqrt(0.0044) x 368.64 = 48.17 ha for both.
    The stock's Approach 1 combines 20 % / 30 % density uncertainty with these area terms."""
    from pyproj import Transformer

    from ecorest.etl.vector_loads import load_samples

    lc = np.full((64, 64), 1)
    lc[:, 32:] = 2
    to_ll = Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True)
    lines = ["sample_id,lon,lat,reference_class,sample_date"]
    for i in range(20):
        col = 3 * (i % 10) + (34 if i >= 10 else 1)
        row = 5 + 5 * (i // 10)
        ref = 2 if (i >= 10 or i < 2) else 1
        lon, lat = to_ll.transform(450_000 + col * 30 + 15, 4_950_000 - row * 30 - 15)
        lines.append(f"S{i},{lon},{lat},{ref},2020-06-01")
    (tmp_path / "samples.csv").write_text("\n".join(lines) + "\n")
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2020": lc}, "class_code,name_en\n1,forest\n2,grassland\n",
                    "parameter,class_code,pool,value,unit,uncertainty_pct\n"
                    "carbon_density,1,agb,100,t C/ha,20\ncarbon_density,2,agb,10,t C/ha,30\n")
        load_samples(conn, "tiny", tmp_path / "samples.csv")
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        acc = {c: r for c, *r in conn.execute(
            "select class_code, users_accuracy, estimated_area_ha, estimated_area_ci_ha, "
            "area_uncertainty_pct, overall_accuracy, kappa, passes_gate "
            "from marts.landcover_accuracy where run_id = %s", (run_id,))}
        unc = conn.execute(
            "select total_t, u_approach1_pct, includes_area_uncertainty, mapped_total_t, "
            "area_basis from marts.carbon_uncertainty where run_id = %s and "
            "zone_set = 'region' and quantity = 'stock'", (run_id,)).fetchone()
    total_ha = 4096 * 0.09
    ci = 1.96 * (0.25 * 0.8 * 0.2 / 9) ** 0.5 * total_ha
    approx = pytest.approx
    assert tuple(acc[1][:3]) == (approx(0.8), approx(0.4 * total_ha), approx(ci))
    assert tuple(acc[2][:3]) == (approx(1.0), approx(0.6 * total_ha), approx(ci))
    ua1, ua2 = 100 * ci / (0.4 * total_ha), 100 * ci / (0.6 * total_ha)
    assert acc[1][3] == pytest.approx(ua1) and acc[2][3] == pytest.approx(ua2)
    # OA = 0.5 x 0.8 + 0.5 x 1.0; kappa on the counts: po 0.9, pe (10·8 + 10·12)/400 = 0.5
    assert acc[1][4:] == [pytest.approx(0.9), pytest.approx(0.8), True]
    # the estimate is on the adjusted areas (0.4 and 0.6 of the region, not the mapped halves);
    # each class term is adjusted area x density, the two relative uncertainties combined by
    # the product rule (Approach 1)
    x1, x2 = 0.4 * total_ha * 100, 0.6 * total_ha * 10
    want = 100 * ((x1 * (0.2 ** 2 + (ua1 / 100) ** 2) ** 0.5) ** 2
                  + (x2 * (0.3 ** 2 + (ua2 / 100) ** 2) ** 0.5) ** 2) ** 0.5 / (x1 + x2)
    mapped = 2048 * 0.09 * 100 + 2048 * 0.09 * 10
    assert unc == (pytest.approx(x1 + x2), pytest.approx(want), True, pytest.approx(mapped),
                   "olofsson_adjusted")


@pytest.mark.parametrize("settings,message", [
    ({"grading_methd": "fixed"}, r"^cannot set 'grading_methd': not a model setting; the "
                                 r"settings are .*grading_method"),
    ({"grading_method": "jenks"}, r"^setting grading_method='jenks' is not allowed: "
                                  r"grading_method must be one of fixed, quantile, "
                                  r"natural_breaks \(default fixed\)$"),
    ({"min_plots": "five"}, r"^setting min_plots='five' is not allowed: min_plots must be a "
                            r"whole number in \[1, 100,000\] \(default 5\)$"),
    ({"run_id": 7}, r"^cannot set 'run_id': not a model setting"),
])
def test_bad_run_settings_are_refused_before_anything_runs(conn, settings, message) -> None:
    with pytest.raises(LoadError, match=message):
        run_assessment(conn, "postgresql://unused", "nowhere", work_dir=Path("/nonexistent"),
                       dbt_vars=settings)


def _plots_csv(path: Path, rows: list[tuple[str, str, int, float]]) -> Path:
    """A plot table (agb in t C/ha) on the tiny test grid: (plot, date, pixel column, value),
    all on pixel row 10."""
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True)
    lines = ["plot_id,date,lon,lat,agb (t C/ha)"]
    for plot, day, col, value in rows:
        lon, lat = to_lonlat.transform(450_000 + col * 30 + 15, 4_950_000 - 10 * 30 - 15)
        lines.append(f"{plot},{day},{lon},{lat},{value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_t_quantile_against_the_published_table(conn: psycopg.Connection) -> None:
    """Student t, two-sided 95 % (p = 0.975), from any printed t table; df 1 and 2 in closed
    form: tan(0.475 pi) and sqrt(2 x 0.95^2 / (1 - 0.95^2))."""
    q = {df: conn.execute("select ipcc.t_quantile(0.975, %s)", (df,)).fetchone()[0]
         for df in (1, 2, 3, 4, 9, 10, 29, 120, 5000)}
    assert q[1] == pytest.approx(np.tan(0.475 * np.pi), rel=1e-9)       # 12.706
    assert q[2] == pytest.approx((2 * 0.9025 / 0.0975) ** 0.5, rel=1e-9)  # 4.303
    table = {3: 3.182, 4: 2.776, 9: 2.262, 10: 2.228, 29: 2.045, 120: 1.980, 5000: 1.960}
    for df, t in table.items():
        assert q[df] == pytest.approx(t, abs=5e-4), df
    assert conn.execute("select ipcc.t_quantile(0.95, 10), ipcc.t_quantile(0.025, 4), "
                        "ipcc.t_quantile(0.975, 0)").fetchone() == \
        (pytest.approx(1.812, abs=5e-4), pytest.approx(-2.776, abs=5e-4), None)


def test_one_plot_measured_five_times_is_one_plot(db_url: str, tmp_path: Path) -> None:
    """P1 measured in 2003..2007 (80, 90, 120, 95, 85 t C/ha) is one plot, not five: n = 1 <
    min_plots, so class 1 keeps the parameter set (100 t C/ha), and the plot is validated with
    its measurement nearest to the 2005 epoch (120): deviation (100 - 120) / 120 = -16.67 %."""
    from ecorest.etl.plots import load_plots

    plots = _plots_csv(tmp_path / "plots.csv", [
        ("P1", f"{y}-07-01", 5, v) for y, v in zip(range(2003, 2008), (80, 90, 120, 95, 85),
                                                   strict=True)])
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2005": np.full((64, 64), 1)},
                    "class_code,name_en\n1,forest\n", "lucode,C_above,C_below,C_soil,C_dead\n"
                    "1,100,0,0,0\n")
        load_plots(conn, "tiny", plots)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        stock = conn.execute("select carbon_t_per_ha, tier from marts.carbon_stocks where "
                             "run_id = %s and zone_set = 'region' and pool = 'agb'",
                             (run_id,)).fetchone()
        val = conn.execute(
            "select plot_id, measured_date::text, epoch_measurements, measured_t_per_ha, "
            "modelled_t_per_ha, tier, deviation_pct from marts.plot_validation "
            "where run_id = %s", (run_id,)).fetchall()
        summary = conn.execute("select plots, comparisons from marts.plot_validation_summary "
                               "where run_id = %s", (run_id,)).fetchone()
    assert stock == (100.0, "parameter_set")
    assert val == [("P1", "2005-07-01", 5, 120.0, 100.0, "parameter_set",
                    pytest.approx(-100 * 20 / 120))]
    assert summary == (1, 1)


def test_tier2_mean_and_t_interval_of_five_distinct_plots(db_url: str, tmp_path: Path) -> None:
    """Five plots of class 1 at 90, 95, 100, 105 and 110 t C/ha (P1 also re-measured in 2003 at
    300, which the 2005 epoch does not use): n = 5, mean 100, s = sqrt(250 / 4) = 7.9057,
    SE = s / sqrt(5) = 3.5355, 95 % CI half-width t(0.975, 4) x SE = 2.7764 x 3.5355 = 9.816
    t C/ha = 9.816 % of the mean (1.96 would give 6.93 %)."""
    from ecorest.etl.plots import load_plots

    rows = [(f"P{i + 1}", "2005-07-01", 5 + 3 * i, v)
            for i, v in enumerate((90.0, 95.0, 100.0, 105.0, 110.0))]
    plots = _plots_csv(tmp_path / "plots.csv", [*rows, ("P1", "2003-07-01", 5, 300.0)])
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2005": np.full((64, 64), 1)},
                    "class_code,name_en\n1,forest\n", "lucode,C_above,C_below,C_soil,C_dead\n"
                    "1,50,0,0,0\n")
        load_plots(conn, "tiny", plots)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        stock = conn.execute("select carbon_t_per_ha, tier, uncertainty_pct from "
                             "marts.carbon_stocks where run_id = %s and zone_set = 'region' "
                             "and pool = 'agb'", (run_id,)).fetchone()
        source = conn.execute("select source from intermediate.int_carbon_densities where "
                              "class_code = 1 and pool = 'agb'").fetchone()[0]
        val = conn.execute("select count(*), count(distinct plot_id), sum(epoch_measurements), "
                           "bool_and(is_cross_validated) from marts.plot_validation "
                           "where run_id = %s", (run_id,)).fetchone()
    assert stock == (pytest.approx(100.0), "plots", pytest.approx(9.816, abs=1e-3))
    assert "mean of 5 survey plots" in source and "2.776" in source
    assert val == (5, 5, 6, True)


def test_plots_take_the_nearest_observed_epoch_never_a_scenario(db_url: str,
                                                                tmp_path: Path) -> None:
    """Observed land cover 2020 (class 1) and scenario maps 2021 and 2040 (class 2): a plot
    measured on 2021-06-01 is nearest to the 2021 scenario but takes the observed 2020 class."""
    from ecorest.etl.plots import load_plots

    plots = _plots_csv(tmp_path / "plots.csv", [("P1", "2021-06-01", 5, 52.0)])
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2020": np.full((64, 64), 1)},
                    "class_code,name_en\n1,forest\n2,cropland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,50,0,0,0\n2,5,0,0,0\n")
        for epoch in ("2021", "2040"):
            path = write_raster(tmp_path / f"scenario_{epoch}.tif",
                                np.full((64, 64), 2, np.uint8), nodata=255)
            load_raster(conn, "tiny", "landcover", path, epoch=epoch, scenario=True,
                        legend="tiny", show_progress=False)
        rates = tmp_path / "growth.csv"  # the scenarios change classes: growth rates needed
        rates.write_text("parameter,class_code,pool,value,unit\n"
                         "growth_rate,1,agb,1,t C/ha/yr\ngrowth_rate,2,agb,1,t C/ha/yr\n")
        load_params(conn, rates, name="growth", kind="growth_rates", source_text="test")
        load_plots(conn, "tiny", plots)
        run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp_path / "dbt")
        val = conn.execute("select epoch_label, class_code, modelled_t_per_ha from "
                           "marts.plot_validation where run_id = %s", (run_id,)).fetchall()
    assert val == [("2020", 1, 50.0)]
