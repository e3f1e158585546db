"""Restoration benefit against matched controls, by synthetic cases with a known answer.

Every expected number is worked out here from the generated rasters by the rules stated in
docs/CARBON.md ("Benefit against matched controls"), with numpy, never read back from the code:
biomass of a pixel in year y = D(class) x S_y / S_ref(class), S_ref = the class's mean signal
over the sampled pixels and years (every pixel here: the grids are far smaller than
control_sample_pixels). Pixels are 30 m (0.09 ha), grids 64 x 64, NDVI stored to 1e-4.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.etl.vector_loads import load_projects, load_zones
from ecorest.run import run_assessment
from helpers import footprint, write_raster

PX_HA = 0.09
N = 64
LEGEND = ("class_code,name_en,ipcc_category\n1,grass,grassland\n2,field,cropland\n"
          "3,shrub,grassland\n")
# biomass (agb + bgb): grass 8 + 12 = 20, field 5 + 0 = 5, shrub 10 + 10 = 20 t C/ha
PARAMS = ("parameter,class_code,pool,value,unit,uncertainty_pct\n"
          "carbon_density,1,agb,8,t C/ha,10\ncarbon_density,1,bgb,12,t C/ha,10\n"
          "carbon_density,2,agb,5,t C/ha,10\ncarbon_density,2,bgb,0,t C/ha,10\n"
          "carbon_density,3,agb,10,t C/ha,10\ncarbon_density,3,bgb,10,t C/ha,10\n")
DENSITY = {1: 20.0, 2: 5.0, 3: 20.0}


def squares(tmp: Path, items: list[tuple[str, int, int, int, str, float | None]]) -> Path:
    """Projects (id, col, row, size_px, start_date, investment_cny) as a GeoJSON on the grid."""
    features = []
    for pid, col, row, size, start, cny in items:
        x0, y0, d = 450_000 + col * 30, 4_950_000 - row * 30, size * 30
        props = {"project_id": pid, "name": f"Test {pid}", "project_type":
                 "grassland_restoration", "start_date": start}
        if cny is not None:
            props["investment_cny"] = cny
        features.append({"type": "Feature", "properties": props, "geometry": {
            "type": "Polygon", "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 - d],
                                                [x0, y0 - d], [x0, y0]]]}})
    path = tmp / "projects.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties":
                                {"name": "urn:ogc:def:crs:EPSG::26910"}}, "features": features}))
    return path


def zones(tmp: Path, name: str, items: list[tuple[str, int, int, int, int]]) -> Path:
    """Zones (code, col0, row0, col1, row1: pixel bounds, end exclusive) as a GeoJSON."""
    features = []
    for code, c0, r0, c1, r1 in items:
        x0, x1 = 450_000 + c0 * 30, 450_000 + c1 * 30
        y0, y1 = 4_950_000 - r0 * 30, 4_950_000 - r1 * 30
        features.append({"type": "Feature", "properties": {"zone_code": code,
                                                            "zone_name": f"Zone {code}"},
                         "geometry": {"type": "Polygon", "coordinates": [[
                             [x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}})
    path = tmp / f"{name}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties":
                                {"name": "urn:ogc:def:crs:EPSG::26910"}}, "features": features}))
    return path


def region(conn: psycopg.Connection, tmp: Path, landcover: dict[int, np.ndarray],
           ndvi: dict[int, np.ndarray], projects: Path) -> None:
    first = None
    for year, lc in landcover.items():
        path = write_raster(tmp / f"lc_{year}.tif", lc.astype(np.uint8), nodata=255)
        if first is None:
            first = path
            create_region(conn, "b", footprint(tmp, path), align_to=str(path),
                          allow_non_equal_area=True)
            (tmp / "legend.csv").write_text(LEGEND)
            load_legend(conn, "b", tmp / "legend.csv")
        load_raster(conn, "b", "landcover", path, epoch=str(year), legend="b",
                    show_progress=False)
    for year, s in ndvi.items():
        path = write_raster(tmp / f"ndvi_{year}.tif", s.astype(np.float32), nodata=-9999)
        load_raster(conn, "b", "ndvi", path, epoch=str(year), show_progress=False)
    (tmp / "params.csv").write_text(PARAMS)
    load_params(conn, tmp / "params.csv", name="b", kind="carbon_pools", source_text="test")
    load_projects(conn, "b", projects)


def stored(a: np.ndarray) -> np.ndarray:
    """NDVI as the loader stores it (16-bit integers x 1e-4)."""
    return np.round(a.astype(np.float32).astype(np.float64) * 1e4) / 1e4


def test_matched_benefit_recovers_x_minus_y_and_leaves_the_belt_out(db_url: str,
                                                                    tmp_path: Path) -> None:
    """Grass everywhere, NDVI 0.5 + noise (sd 0.02, seeded) in 2007-2016. A 10 x 10 px
    project (start 2012) rises by X = +0.20 from 2014 on; every other pixel drifts by Y = +0.05
    from 2014 on; the 5-px leakage belt around the project (150 m) becomes cropland in the 2013
    land-cover epoch. Land cover 2010, 2013, 2016: periods 2010-2013 and 2013-2016.
    Without noise the 2013-2016 benefit is 100 px x 0.09 ha x 20 x (0.20 - 0.05) / S_ref:
    it must lie in the bootstrap 95 % interval; 2010-2013 (no change but the belt's) must have
    0 in its interval while the belt loses carbon, which is reported apart."""
    rng = np.random.default_rng(7)
    years = list(range(2007, 2017))
    inside = np.zeros((N, N), bool)
    inside[20:30, 20:30] = True
    # the belt: pixel centres within 150 m of the square, outside it (rounded corners)
    r, c = np.mgrid[:N, :N] + 0.5
    dx = np.maximum.reduce([20 - c, np.zeros_like(c), c - 30])
    dy = np.maximum.reduce([20 - r, np.zeros_like(r), r - 30])
    belt = (np.hypot(dx, dy) * 30 <= 150) & ~inside
    ndvi = {}
    for y in years:
        s = 0.5 + rng.normal(0, 0.02, (N, N))
        if y >= 2014:
            s = s + np.where(inside, 0.20, 0.05)
        ndvi[y] = s
    lc_first = np.full((N, N), 1)
    lc_later = np.where(belt, 2, 1)
    landcover = {2010: lc_first, 2013: lc_later, 2016: lc_later}
    with psycopg.connect(db_url) as conn:
        region(conn, tmp_path, landcover, ndvi,
               squares(tmp_path, [("P1", 20, 20, 10, "2012-03-01", 500_000.0)]))
        # two zone sets: the west and east halves, and one strip of rows 0-15 (the rest of
        # the region in no zone of that set)
        load_zones(conn, "b", zones(tmp_path, "halves", [("W", 0, 0, 32, N), ("E", 32, 0, N, N)]),
                   zone_set="halves")
        load_zones(conn, "b", zones(tmp_path, "strip", [("S", 0, 0, N, 16)]), zone_set="strip")
        run_id = run_assessment(conn, db_url, "b", work_dir=tmp_path / "dbt",
                                dbt_vars={"leakage_belt_m": 150, "bootstrap_draws": 2000})
        rows = {r[0]: r[1:] for r in conn.execute(
            "select year_t1, timing, project_pixels, matched_pixels, benefit_t, benefit_p2_5_t,"
            " benefit_p97_5_t, belt_pixels, belt_change_t, belt_class_changed_ha, signal_layer"
            " from marts.project_matched_benefits where run_id = %s", (run_id,))}
        balance = {r[0]: r[1:] for r in conn.execute(
            "select covariate, smd_before, smd_after from marts.project_match_balance "
            "where run_id = %s", (run_id,))}
        cost = conn.execute("select benefit_co2e_t, co2e_t_per_10k_cny, cny_per_co2e_t "
                            "from marts.project_cost_effectiveness where run_id = %s",
                            (run_id,)).fetchone()
        total = conn.execute("select periods, benefit_t, benefit_p2_5_t, benefit_p97_5_t "
                             "from marts.project_cost_effectiveness where run_id = %s",
                             (run_id,)).fetchone()
        stocks = {(y, c): (b, cc) for y, c, b, cc in conn.execute(
            "select year, class_code, biomass_t, class_constant_biomass_t "
            "from marts.signal_carbon_stocks where run_id = %s and zone_set = 'region'",
            (run_id,))}
        zoned = {(z, y, c): (a, b, cc) for z, y, c, a, b, cc in conn.execute(
            "select zone_code, year, class_code, area_ha, biomass_t, class_constant_biomass_t "
            "from marts.signal_carbon_stocks where run_id = %s and zone_set <> 'region'",
            (run_id,))}
        change = conn.execute(
            "select change_t, class_constant_change_t, within_class_change_t "
            "from marts.signal_carbon_changes where run_id = %s and zone_set = 'region' "
            "and year_t1 = 2013", (run_id,)).fetchone()
    # S_ref by the stated rule, on the stored values: class 1 and class 2 means over all
    # pixels and years (class of year y = latest land-cover epoch <= y, else the first)
    cls_of = {y: (lc_first if y < 2013 else lc_later) for y in years}
    st = {y: stored(ndvi[y]) for y in years}
    s_ref = {c: np.mean(np.concatenate([st[y][cls_of[y] == c] for y in years
                                        if (cls_of[y] == c).any()])) for c in (1, 2)}
    truth = 100 * PX_HA * 20 * (0.20 - 0.05) / s_ref[1]
    timing, px, matched, benefit, lo, hi, belt_px, *_rest, layer = rows[2013]
    assert (timing, px, matched, layer) == ("after_start", 100, 100, "ndvi")
    assert lo < truth < hi
    assert benefit == pytest.approx(truth, rel=0.10)
    assert hi - lo < 0.3 * truth          # the interval is informative
    # 2010-2013 straddles the 2012 start; nothing changed inside or in the controls
    timing, _px, _m, benefit, lo, hi, belt_px, belt_change, belt_ha, _layer = rows[2010]
    assert timing == "straddles_start" and lo < 0 < hi
    # the belt: grass (20 x S/S_ref1) became field (5 x S/S_ref2) - by hand over its pixels
    want = sum(5 * st[2013][b] / s_ref[2] - 20 * st[2010][b] / s_ref[1]
               for b in zip(*np.nonzero(belt), strict=True)) * PX_HA
    assert belt_px == belt.sum() == 280   # 5 px wide, corners rounded
    assert belt_change == pytest.approx(want, rel=1e-3) and belt_change < -100
    assert belt_ha == pytest.approx(280 * PX_HA)
    # matching on the pre-project signal level and trend improves (or keeps) the balance
    assert set(balance) == {"signal_level", "signal_trend"}
    for smd_before, smd_after in balance.values():
        assert abs(smd_after) <= abs(smd_before) + 0.05
    # the region's biomass following the signal, by hand: grass 20 x S / S_ref1 on class-1
    # pixels, field 5 x S / S_ref2 on the belt from 2013; class-constant 20 and 5 t C/ha
    for y, c, d in ((2016, 1, 20), (2016, 2, 5), (2010, 1, 20)):
        mask = cls_of[y] == c
        want = d * st[y][mask].sum() / s_ref[c] * PX_HA
        assert stocks[(y, c)] == (pytest.approx(want, rel=1e-6),
                                  pytest.approx(d * mask.sum() * PX_HA))
    assert (2010, 2) not in stocks
    # the same per zone, with the region's S_ref: west and east halves, the strip of rows
    # 0-15; every year and class present in a zone, and nothing else
    inz = {"W": np.s_[:, :32], "E": np.s_[:, 32:], "S": np.s_[:16, :]}
    want_zoned = {}
    for z, sl in inz.items():
        for y in years:
            for c, d in ((1, 20), (2, 5)):
                mask = cls_of[y][sl] == c
                if mask.any():
                    want_zoned[(z, y, c)] = (mask.sum() * PX_HA,
                                             d * st[y][sl][mask].sum() / s_ref[c] * PX_HA,
                                             d * mask.sum() * PX_HA)
    assert set(zoned) == set(want_zoned)
    for key, (area, bio, const) in want_zoned.items():
        assert zoned[key] == (pytest.approx(area), pytest.approx(bio, rel=1e-6),
                              pytest.approx(const)), key
    # 2013 -> 2014: no land-cover change, so the whole change is within classes
    want = sum((d * st[2014][cls_of[2014] == c].sum() - d * st[2013][cls_of[2013] == c].sum())
               / s_ref[c] for c, d in ((1, 20), (2, 5))) * PX_HA
    assert change == (pytest.approx(want, rel=1e-6), pytest.approx(0, abs=1e-6),
                      pytest.approx(want, rel=1e-6))
    # the one period after the start is the total: the same bootstrap draws, the same interval
    assert total == (1, pytest.approx(rows[2013][3]), pytest.approx(rows[2013][4]),
                     pytest.approx(rows[2013][5]))
    # cost-effectiveness of the after-start period: benefit x 44/12 per 50 x 10,000 CNY
    co2e = rows[2013][3] * 44 / 12
    assert cost == (pytest.approx(co2e), pytest.approx(co2e / 50),
                    pytest.approx(500_000 / co2e))


def test_sink_rate_change_passes_at_40_and_fails_at_10_percent(db_url: str,
                                                              tmp_path: Path) -> None:
    """Three projects (start 2012) in grass with NDVI 0.5 elsewhere, constant. P40's NDVI grows
    by 0.010 a year up to 2012 and by 0.014 a year after: its stock (20 x S / S_ref) grows 40 %
    faster, so the mean annual sink rate of 2013-2015 is +40 % on 2009-2011: passes the 25 %
    test. P10 grows 0.010 then 0.011 (+10 %): fails. P3 is shrub (class 3) that exists nowhere
    outside it: no control, so it gets no benefit and says so."""
    years = list(range(2005, 2017))
    p40 = np.zeros((N, N), bool)
    p40[5:15, 5:15] = True
    p10 = np.zeros((N, N), bool)
    p10[5:15, 45:55] = True
    p3 = np.zeros((N, N), bool)
    p3[45:55, 20:30] = True
    ndvi = {}
    for y in years:
        s = np.full((N, N), 0.5)
        for mask, after in ((p40, 0.014), (p10, 0.011)):
            value = 0.3 + 0.010 * (min(y, 2012) - 2005) + after * max(y - 2012, 0)
            s[mask] = value
        ndvi[y] = s
    lc = np.where(p3, 3, 1)
    landcover = {2005: lc, 2010: lc, 2016: lc}
    with psycopg.connect(db_url) as conn:
        region(conn, tmp_path, landcover, ndvi, squares(tmp_path, [
            ("P40", 5, 5, 10, "2012-06-01", None), ("P10", 45, 5, 10, "2012-06-01", None),
            ("P3", 20, 45, 10, "2012-06-01", None)]))
        run_id = run_assessment(conn, db_url, "b", work_dir=tmp_path / "dbt",
                                dbt_vars={"leakage_belt_m": 60})
        sink = {r[0]: r[1:] for r in conn.execute(
            "select project_id, pre_years, post_years, change_vs_pre_pct, passes_vs_pre, "
            "rate_pre_t_per_yr, rate_post_t_per_yr from marts.project_sink_rate_change "
            "where run_id = %s", (run_id,))}
        p3_rows = conn.execute(
            "select matched_pixels, benefit_t, note from marts.project_matched_benefits "
            "where run_id = %s and project_id = 'P3'", (run_id,)).fetchall()
    st = {y: stored(ndvi[y]) for y in years}
    grass = lc == 1
    s_ref = np.mean([st[y][grass].mean() for y in years])   # equal counts every year
    for pid, mask, after in (("P40", p40, 0.014), ("P10", p10, 0.011)):
        pre_years, post_years, change, passes, rate_pre, rate_post = sink[pid]
        assert (pre_years, post_years) == ([2009, 2010, 2011], [2013, 2014, 2015])
        # 100 px x 0.09 ha x 20 t C/ha x (yearly NDVI step on the stored values) / S_ref
        step = {y: (st[y][mask] - st[y - 1][mask]).mean() for y in years[1:]}
        want_pre = 100 * PX_HA * 20 * np.mean([step[y] for y in pre_years]) / s_ref
        want_post = 100 * PX_HA * 20 * np.mean([step[y] for y in post_years]) / s_ref
        assert rate_pre == pytest.approx(want_pre, rel=1e-6)
        assert rate_post == pytest.approx(want_post, rel=1e-6)
        assert change == pytest.approx(100 * (want_post / want_pre - 1), rel=1e-6)
        assert change == pytest.approx(after / 0.010 * 100 - 100, abs=0.5)
        assert passes is (pid == "P40")
    assert p3_rows and all(m == 0 and b is None for m, b, _ in p3_rows)
    assert "start class(es) without any control" in p3_rows[0][2] and "3 (100 px)" in p3_rows[0][2]


def test_plot_calibration_replaces_the_anchored_rule(db_url: str, tmp_path: Path) -> None:
    """NDVI rises from 0.3 in the west to 0.7 in the east, the same every year, except that a
    10 x 10 px project (start 2012) gains +0.20 and every other pixel +0.05 from 2014 on.
    Eight grassland plots measured in 2010 carry agb = 2 + 40 x NDVI exactly: the calibration
    is intercept 2, slope 40, r2 1, every cross-validated prediction within 10 %. Biomass then
    follows (2 + 40 S) x (1 + bgb/agb), bgb 12 t C/ha over the Tier 2 agb (the plots' mean),
    and the 2013-2016 benefit is 100 px x 0.09 ha x 40 x (0.20 - 0.05) x (1 + bgb/agb)."""
    from pyproj import Transformer

    from ecorest.etl.plots import load_plots

    cols = np.arange(N)[None, :].repeat(N, axis=0)
    base = 0.3 + 0.4 * cols / (N - 1)
    inside = np.zeros((N, N), bool)
    inside[20:30, 20:30] = True
    ndvi = {y: base + (np.where(inside, 0.20, 0.05) if y >= 2014 else 0.0)
            for y in range(2007, 2017)}
    lc = np.full((N, N), 1)
    to_ll = Transformer.from_crs("EPSG:26910", "EPSG:4326", always_xy=True)
    lines = ["plot_id,date,lon,lat,agb (t C/ha)"]
    values = []
    for i, col in enumerate(range(4, 64, 8)):
        s = stored(ndvi[2010])[55, col]
        values.append(2 + 40 * s)
        lon, lat = to_ll.transform(450_000 + col * 30 + 15, 4_950_000 - 55 * 30 - 15)
        lines.append(f"G{i},2010-07-01,{lon},{lat},{2 + 40 * s}")
    (tmp_path / "plots.csv").write_text("\n".join(lines) + "\n")
    with psycopg.connect(db_url) as conn:
        region(conn, tmp_path, {2010: lc, 2013: lc, 2016: lc}, ndvi,
               squares(tmp_path, [("P1", 20, 20, 10, "2012-03-01", None)]))
        conn.execute("update registry.legend_classes set ecosystem_type = 'grassland' "
                     "where class_code = 1")
        conn.commit()
        load_plots(conn, "b", tmp_path / "plots.csv")
        run_id = run_assessment(conn, db_url, "b", work_dir=tmp_path / "dbt",
                                dbt_vars={"leakage_belt_m": 150})
        cal = conn.execute(
            "select ecosystem_type, plots, intercept_t_per_ha, slope_t_per_ha_per_unit, r2, "
            "cv_within_10pct_share_pct from marts.signal_calibration where run_id = %s",
            (run_id,)).fetchall()
        benefit, calibrated = conn.execute(
            "select benefit_t, calibrated_classes from marts.project_matched_benefits "
            "where run_id = %s and year_t1 = 2013", (run_id,)).fetchone()
        stock16 = conn.execute(
            "select biomass_t, class_constant_biomass_t from marts.signal_carbon_stocks "
            "where run_id = %s and zone_set = 'region' and year = 2016 and class_code = 1",
            (run_id,)).fetchone()
    assert len(cal) == 1
    eco, plots, intercept, slope, r2, within = cal[0]
    assert (eco, plots, within) == ("grassland", 8, 100.0)
    assert intercept == pytest.approx(2.0, abs=1e-6) and slope == pytest.approx(40.0)
    assert r2 == pytest.approx(1.0)
    ratio = 12 / np.mean(values)               # bgb / Tier 2 agb of class 1
    st16, st13 = stored(ndvi[2016]), stored(ndvi[2013])
    own = (st16 - st13)[inside].mean()
    drift = (st16 - st13)[~inside].mean()
    assert calibrated == "1"
    # the region's 2016 biomass: every pixel by the calibration, bgb at the class's ratio
    agb = np.mean(values)
    assert stock16 == (
        pytest.approx(np.maximum(2 + 40 * st16, 0).sum() * (1 + ratio) * PX_HA, rel=1e-6),
        pytest.approx((agb + 12) * N * N * PX_HA, rel=1e-6))
    assert benefit == pytest.approx(100 * PX_HA * 40 * (own - drift) * (1 + ratio), rel=1e-3)
