"""Water yield (InVEST 3.20.2 Budyko-Zhang), HJ 1173 water conservation, RWEQ windbreak and
sand fixation, and the ecological sensitivity classes, through `ecorest run`.

Every figure is worked out by hand below (a few pixels of each kind) and, over whole synthetic
grids, by an independent numpy implementation of the published formulas written here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from ecorest.wkb import decode_band, raster_wkb
from helpers import footprint, write_raster

N = 32                      # 32 x 32 px of 30 m, 16-px tiles: every result crosses tile borders
LEGEND = ("class_code,name_en,ipcc_category,ecosystem_type\n"
          "1,forest,forest_land,forest\n2,grass,grassland,grassland\n"
          "3,water,wetlands,wetland\n4,urban,settlements,settlement\n"
          "5,unlisted,other_land,other\n6,sand,other_land,desert\n")
CARBON = "parameter,class_code,pool,value,unit\n" + "".join(
    f"carbon_density,{c},agb,{10 * c},t C/ha\n" for c in range(1, 7))


def _grid(conn: psycopg.Connection, table: str, band: int) -> np.ndarray:
    """Band `band` of an intermediate tile table placed on the N x N grid of the synthetic
    files (origin 450000, 4950000; 30 m), NaN where it has no data."""
    ulx, uly, vals = conn.execute(sql.SQL(
        "select st_upperleftx(u), st_upperlefty(u), st_dumpvalues(u, 1) from "
        "(select st_union(rast, %s) u from intermediate.{}) s").format(sql.Identifier(table)),
        (band,)).fetchone()
    out = np.full((N, N), np.nan)
    if vals is None:
        return out
    a = np.array(vals, dtype=float)
    r0, c0 = round((4_950_000 - uly) / 30), round((ulx - 450_000) / 30)
    rs, cs, rd, cd = max(0, -r0), max(0, -c0), max(0, r0), max(0, c0)
    h, w = min(N - rd, a.shape[0] - rs), min(N - cd, a.shape[1] - cs)
    out[rd:rd + h, cd:cd + w] = a[rs:rs + h, cs:cs + w]
    return out


def _region(conn: psycopg.Connection, tmp: Path, name: str, lc: np.ndarray,
            layers: dict[str, np.ndarray], services_csv: str) -> None:
    lc_path = write_raster(tmp / f"{name}_lc.tif", lc.astype(np.uint8), nodata=255)
    create_region(conn, name, footprint(tmp, lc_path), align_to=str(lc_path),
                  allow_non_equal_area=True, tile_size=16)
    (tmp / f"{name}_legend.csv").write_text(LEGEND)
    load_legend(conn, name, tmp / f"{name}_legend.csv")
    load_raster(conn, name, "landcover", lc_path, epoch="2020", legend=name,
                show_progress=False)
    for layer, a in layers.items():
        path = write_raster(tmp / f"{name}_{layer}.tif", a.astype(np.float32), nodata=-9999)
        load_raster(conn, name, layer, path, epoch="2020", show_progress=False)
    (tmp / f"{name}_carbon.csv").write_text(CARBON)
    load_params(conn, tmp / f"{name}_carbon.csv", region=name, name=f"{name} carbon",
                kind="carbon_pools", source_text="test")
    (tmp / f"{name}_services.csv").write_text(services_csv)
    load_params(conn, tmp / f"{name}_services.csv", region=name, name=f"{name} services",
                kind="services", source_text="test")


# ------------------------------------------------------------------------------------------------
# independent implementations of the published formulas
# ------------------------------------------------------------------------------------------------
def budyko_zhang(P, et0, kc, root, depth, pawc, veg, z=5.0):
    """InVEST annual water yield (user's guide: Zhang et al. 2004 with Donohue et al. 2012's
    w = Z AWC / P + 1.25, at most 5; AET = min(Kc ET0, P) where the class is not vegetated).
    Returns (water yield, AET) in mm, NaN where P = 0 or an input is missing."""
    with np.errstate(all="ignore"):
        pet = kc * et0
        awc = np.minimum(root, depth) * pawc
        w = np.minimum(z * awc / P + 1.25, 5.0)
        x = pet / P
        ratio = np.minimum(x, 1 + x - (1 + x ** w) ** (1 / w))
        aet = np.where(veg == 1, ratio * P, np.minimum(pet, P))
        aet = np.where((P > 0) & np.isfinite(kc), aet, np.nan)
    return P - aet, aet


def rweq_loss(x, z=50.0):
    """RWEQ soil loss (t/ha) of x = WF EF SCF K' (C): Q_max = 109.8 x (kg/m), s = 150.71
    x^-0.3711 (m), S_L = 2z/s^2 Q_max exp(-(z/s)^2) (kg/m^2) x 10."""
    qmax = 109.8 * x
    s = 150.71 * x ** -0.3711
    return 2 * z / s ** 2 * qmax * np.exp(-(z / s) ** 2) * 10


def window_range(z: np.ndarray, r: int) -> np.ndarray:
    """max - min of z over a (2r+1)^2 window, the window cut at the grid's edge."""
    out = np.empty_like(z)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            w = z[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1]
            out[i, j] = w.max() - w.min()
    return out


def graded(x, breaks, increasing=True):
    """1, 3, 5 (, 7, 9): class k where breaks[k-1] <= x < breaks[k]; reversed for a factor
    whose larger values mean less sensitivity."""
    k = sum((x >= b).astype(int) for b in breaks)
    return 1 + 2 * (k if increasing else len(breaks) - k)


def classes(grades, breaks):
    gm = np.prod(np.stack(grades).astype(float), axis=0) ** (1 / len(grades))
    return 1 + sum((gm > b).astype(int) for b in breaks)


def stored(x, scale=1e-4):
    """A 0..1 layer (fvc, NDVI) as the loader keeps it: integers of 1e-4."""
    return np.round(np.asarray(x, np.float32).astype(np.float64) / scale) * scale


# ------------------------------------------------------------------------------------------------
# one region, one run: water yield, water conservation, RWEQ and the sensitivity classes
# ------------------------------------------------------------------------------------------------
# rows 0-7 forest (vegetated, Kc 1.0, root 7000 mm), 8-15 grass (vegetated, Kc 0.65, root
# 1700 mm) with an urban block (not vegetated, Kc 0.3) in rows 12-15, columns 0-7, 16-23
# desert (not vegetated, Kc 0.3), 24-31 water (not vegetated, Kc 1.0); class 5 (ecosystem
# type other) has no water parameters. RWEQ cover coefficients: forest -0.1535, desert
# -0.0658 and other (bare) -0.0768 by their ecosystem type, grass -0.2 from the parameter set
# (replacing -0.1151); water and urban have none.
PARAMS = ("parameter,class_code,value,unit\n"
          "kc,1,1.0,1\nroot_depth,1,7000,mm\nlulc_veg,1,1,1\nrunoff_coefficient,1,0.1,1\n"
          "kc,2,0.65,1\nroot_depth,2,1700,mm\nlulc_veg,2,1,1\nrunoff_coefficient,2,0.2,1\n"
          "kc,3,1.0,1\nroot_depth,3,500,mm\nlulc_veg,3,0,1\nrunoff_coefficient,3,0.05,1\n"
          "kc,4,0.3,1\nroot_depth,4,500,mm\nlulc_veg,4,0,1\nrunoff_coefficient,4,0.6,1\n"
          "kc,6,0.3,1\nroot_depth,6,10,mm\nlulc_veg,6,0,1\nrunoff_coefficient,6,0.3,1\n"
          "rweq_cover_coefficient,2,-0.2,1\n")
KC = {1: 1.0, 2: 0.65, 3: 1.0, 4: 0.3, 6: 0.3}
ROOT = {1: 7000.0, 2: 1700.0}
RUNOFF = {1: 0.1, 2: 0.2, 3: 0.05, 4: 0.6, 6: 0.3}
COVER = {1: -0.1535, 2: -0.2, 5: -0.0768, 6: -0.0658}


def synthetic() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rows, cols = np.mgrid[:N, :N]
    lc = np.select([rows < 8, rows < 16, rows < 24], [1, 2, 6], 3)
    lc[12:16, 0:8] = 4
    lc[30, 30] = 5
    lc[31, 0] = 255                                     # nodata
    sand = np.select([rows < 4, rows < 8], [90.0, 20.0], 40.0 + cols)
    clay = np.select([rows < 4, rows < 8], [5.0, 45.0], 20.0 - 0.5 * cols)
    precip = np.where(rows < 16, 1000.0, 250.0)
    precip[0, 1] = 0
    layers = {
        "precip": precip,
        "et0": np.select([cols < 8, cols < 16, cols < 24], [1400.0, 1500.0, 3000.0], 4000.0),
        "pawc": np.full((N, N), 0.15),
        # 7000 mm in rows 4-7 (forest: w capped at 5), 400 mm in rows 8-11 (grass: the soil,
        # not the roots, limits AWC)
        "soil_depth": np.select([(rows >= 4) & (rows < 8), (rows >= 8) & (rows < 12)],
                                [7000.0, 400.0], 1200.0),
        "wind_factor": 50.0 + 2 * cols,
        "snow_cover": np.where(cols < 4, 0.25, 0.0),
        "dem": 100.0 + 0.2 * 30 * cols,                 # a plane rising 0.2 m/m eastwards
        "soil_sand": sand, "soil_clay": clay, "soil_silt": 100.0 - sand - clay,
        "soil_om": np.full((N, N), 1.5), "soil_caco3": np.full((N, N), 2.0),
        "fvc": 0.03 * rows,
        "erosivity": np.select([cols < 8, cols < 16, cols < 24], [99.5, 100.0, 599.5], 600.0),
        "erodibility": np.where(cols >= 24, 0.05, 0.035),
        "lithology": np.select([cols < 4, cols < 12, cols < 20], [0.0, 0.05, 0.3], 0.8),
    }
    return lc, layers


def by_class(lc: np.ndarray, table: dict[int, float], default=np.nan) -> np.ndarray:
    out = np.full(lc.shape, default, dtype=float)
    for c, v in table.items():
        out[lc == c] = v
    return out


def test_services_and_sensitivity_by_hand_and_numpy(db_url: str, tmp_path: Path) -> None:
    """Water yield and AET (InVEST 3.20.2), water conservation with the Budyko AET, RWEQ and
    the three sensitivities on one synthetic region, checked pixel by pixel against the
    formulas by hand and over the whole grid against the numpy implementations above. P is
    1000 mm in rows 0-15 and 250 below (0 at one pixel), ET0 1400 / 1500 / 3000 / 4000 mm by
    column block, PAWC 0.15, Z = 5; WF = 50 + 2 col kg/m, snow cover 0.25 in columns 0-3; a
    DEM plane rising 0.2 m/m (slope 11.31 deg; 3 x 3 range 12 m inside the grid); FVC =
    0.03 row."""
    lc, layers = synthetic()
    rows, cols = np.mgrid[:N, :N]
    with psycopg.connect(db_url) as conn:
        _region(conn, tmp_path, "svc", lc, layers, PARAMS)
        run_assessment(conn, db_url, "svc", work_dir=tmp_path / "dbt")
        wy, aet, wc = (_grid(conn, "int_water_tiles", b) for b in (1, 2, 3))
        pot, act, fix = (_grid(conn, "int_wind_tiles", b) for b in (1, 2, 3))
        ero, des, rocky = (_grid(conn, "int_sensitivity_tiles", b) for b in (1, 2, 3))
        labels = [conn.execute(sql.SQL(
            "select array_agg(distinct epoch_label) from intermediate.{}").format(
            sql.Identifier(t))).fetchone()[0] for t in (
            "int_water_tiles", "int_wind_tiles", "int_sensitivity_tiles")]
    assert labels == [["2020"]] * 3

    # --- water yield, by hand ---------------------------------------------------------------
    # forest, row 5, col 10: P 1000, PET 1500, AWC = min(7000, 7000) x 0.15 = 1050,
    # w = 5 x 1050 / 1000 + 1.25 = 6.5 -> 5; AET/P = min(1.5, 2.5 - (1 + 1.5^5)^0.2) = 0.96243;
    # AET 962.4 mm, yield 37.6 mm
    ratio = 2.5 - (1 + 1.5 ** 5) ** 0.2
    assert ratio == pytest.approx(0.96243, abs=1e-5)
    assert (aet[5, 10], wy[5, 10]) == (pytest.approx(1000 * ratio, rel=1e-5),
                                       pytest.approx(1000 * (1 - ratio), rel=1e-4))
    # grass, row 9, col 2: P 1000, PET 0.65 x 1400 = 910, AWC = min(1700, 400) x 0.15 = 60,
    # w = 5 x 60 / 1000 + 1.25 = 1.55 (not capped)
    w = 1.55
    ratio = min(0.91, 1 + 0.91 - (1 + 0.91 ** w) ** (1 / w))
    assert (aet[9, 2], wy[9, 2]) == (pytest.approx(1000 * ratio, rel=1e-5),
                                     pytest.approx(1000 * (1 - ratio), rel=1e-4))
    # urban, row 13, col 2: PET 0.3 x 1400 = 420 < P 1000: AET 420, yield 580; water
    # conservation 1000 - 0.6 x 1000 - 420 = -20 (the balance is not clipped)
    assert (aet[13, 2], wy[13, 2], wc[13, 2]) == (pytest.approx(420), pytest.approx(580),
                                                  pytest.approx(-20, abs=1e-3))
    # water, row 28, col 2: PET 1400 > P 250, so AET = P and no yield
    assert (aet[28, 2], wy[28, 2]) == (pytest.approx(250), pytest.approx(0, abs=1e-4))
    # forest, row 5, col 10: 1000 - 0.1 x 1000 - 962.43
    assert wc[5, 10] == pytest.approx(900 - 1000 * (2.5 - (1 + 1.5 ** 5) ** 0.2), rel=1e-5)
    # no result: P = 0, land-cover nodata, a class without parameters
    assert np.isnan([wy[0, 1], wy[31, 0], wy[30, 30], aet[30, 30], wc[30, 30]]).all()

    # --- water yield, the whole grid (inputs as stored: float32) ---------------------------
    f32 = {k: v.astype(np.float32).astype(np.float64) for k, v in layers.items()}
    veg = np.isin(lc, (1, 2)).astype(int)
    want_wy, want_aet = budyko_zhang(f32["precip"], f32["et0"], by_class(lc, KC),
                                     by_class(lc, ROOT, 1.0), f32["soil_depth"], f32["pawc"],
                                     veg)
    want_wc = f32["precip"] * (1 - by_class(lc, RUNOFF)) - want_aet
    for got, want in ((wy, want_wy), (aet, want_aet), (wc, want_wc)):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.allclose(got[ok], want[ok], rtol=1e-5, atol=1e-3)
    assert np.isfinite(want_wy).sum() == N * N - 3

    # --- RWEQ, by hand ----------------------------------------------------------------------
    # grass at row 10, col 10: WF 70; sand 50, clay 15, silt 35, OM 1.5, CaCO3 2:
    # EF = (29.09 + 15.5 + 5.95 + 0.33 x 50/15 - 2.59 x 1.5 - 0.95 x 2) / 100 = 0.45855;
    # SCF = 1 / (1 + 0.0066 x 225 + 0.021 x 2.25) = 0.394906; K': dH 12 m over L 90 m,
    # Kr = 0.2 x 144 / 90 = 0.32, K' = exp(1.86 x 0.32 - 2.41 x 0.32^0.934) = 0.78960;
    # x = 70 x EF x SCF x K' = 10.0088; s = 150.71 x^-0.3711 = 64.10 m, Q_max = 1099 kg/m,
    # S_L = 2 x 50 / s^2 x Q_max x exp(-(50 / s)^2) = 14.554 kg/m^2 = 145.5 t/ha;
    # C = exp(-0.2 x 30) = 0.0024788
    ef = (29.09 + 0.31 * 50 + 0.17 * 35 + 0.33 * 50 / 15 - 2.59 * 1.5 - 0.95 * 2) / 100
    scf = 1 / (1 + 0.0066 * 15 ** 2 + 0.021 * 1.5 ** 2)
    kp = math.exp(1.86 * 0.32 - 2.41 * 0.32 ** 0.934)
    assert (ef, scf, kp) == (pytest.approx(0.45855), pytest.approx(0.394906, abs=1e-6),
                             pytest.approx(0.78960, abs=1e-5))
    x = 70 * ef * scf * kp
    s = 150.71 * x ** -0.3711
    sl = 2 * 50 / s ** 2 * 109.8 * x * math.exp(-(50 / s) ** 2) * 10
    assert sl == pytest.approx(145.5, abs=0.1)          # t/ha/yr, bare soil
    assert pot[10, 10] == pytest.approx(sl, rel=1e-4)
    xc = x * math.exp(-0.2 * 0.03 * 10 * 100)
    sc_ = 150.71 * xc ** -0.3711
    slc = 2 * 50 / sc_ ** 2 * 109.8 * xc * math.exp(-(50 / sc_) ** 2) * 10
    assert act[10, 10] == pytest.approx(slc, rel=1e-3)
    assert fix[10, 10] == pytest.approx(sl - slc, rel=1e-4)
    # water and urban have no cover coefficient: no wind result
    assert np.isnan([pot[28, 5], act[28, 5], fix[28, 5], pot[13, 2]]).all()

    # --- RWEQ, the whole grid ---------------------------------------------------------------
    fvc = stored(layers["fvc"])
    sa, si, cl = f32["soil_sand"], f32["soil_silt"], f32["soil_clay"]
    om, ca = f32["soil_om"], f32["soil_caco3"]
    ef = np.clip((29.09 + 0.31 * sa + 0.17 * si + 0.33 * sa / cl - 2.59 * om - 0.95 * ca)
                 / 100, 0, 1)
    scf = 1 / (1 + 0.0066 * cl ** 2 + 0.021 * om ** 2)
    kr = 0.2 * window_range(f32["dem"], 1) ** 2 / 90
    kp = np.exp(1.86 * kr - 2.41 * kr ** 0.934)
    wf = f32["wind_factor"] * (1 - f32["snow_cover"])
    a = by_class(lc, COVER)
    base = wf * ef * scf * kp
    want_pot = np.where(np.isfinite(a), rweq_loss(base), np.nan)
    want_act = rweq_loss(base * np.exp(a * fvc * 100))
    for got, want in ((pot, want_pot), (act, want_act), (fix, want_pot - want_act)):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.allclose(got[ok], want[ok], rtol=2e-4, atol=1e-6)
    assert np.isfinite(want_pot).sum() == 24 * N - 32 + 1      # less urban, plus class 5

    # --- soil-erosion sensitivity -----------------------------------------------------------
    # R 99.5 / 100 / 599.5 / 600 (grades 3 5 7 9 by the breaks 25, 100, 400, 600: a break
    # belongs to the higher grade), K 0.035 (7) or 0.05 from column 24 (9), relief in the
    # window of sensitivity_relief_window_m = 1000 m (r = 17 px, at most one 16-px tile): the
    # range of the plane over the columns the window reaches, 96 m in the outer columns
    # (grade 5), 102 ... 192 m elsewhere (7); cover 9 below 0.2 ... 1 from 0.8
    on = lc != 255
    relief = window_range(f32["dem"], 16)
    assert relief.min() == pytest.approx(96, abs=1e-3)
    want_ero = classes([graded(f32["erosivity"], [25, 100, 400, 600]),
                        graded(f32["erodibility"], [0.01, 0.02, 0.03, 0.04]),
                        graded(relief, [20, 50, 100, 300]),
                        graded(fvc, [0.2, 0.4, 0.6, 0.8], False)], [2, 4, 6, 8])
    assert np.array_equal(ero[on], want_ero[on]) and np.isnan(ero[31, 0])
    # by hand: row 0 (FVC 0 -> 9), column 28: (9 x 9 x 7 x 9)^1/4 = 8.45 -> 5 (极敏感);
    # column 12: (5 x 7 x 7 x 9)^1/4 = 6.85 -> 4; column 2: (3 x 7 x 7 x 9)^1/4 = 6.03 -> 4;
    # row 25 (FVC 0.75 -> 3), column 2: (3 x 7 x 7 x 3)^1/4 = 4.58 -> 3
    assert (ero[0, 28], ero[0, 12], ero[0, 2], ero[25, 2]) == (5, 4, 4, 3)

    # --- land-desertification sensitivity ---------------------------------------------------
    # aridity 1.4 / 1.5 / 3 / 4 (P 1000) and 5.6 / 6 / 12 / 16 (P 250): grades 1 3 3 5 and
    # 5 5 5 7 (breaks 1.5, 4, 16, 24); texture sandy rows 0-3 (9), clayey 4-7 (3), loamy
    # below (7); cover as above. P = 0 has no aridity: no class there
    tex = np.select([rows < 4, rows < 8], [9, 3], 7)
    with np.errstate(divide="ignore"):
        aridity = f32["et0"] / f32["precip"]
    want_des = classes([graded(aridity, [1.5, 4, 16, 24]), tex,
                        graded(fvc, [0.2, 0.4, 0.6, 0.8], False)], [2, 4, 6, 8])
    on_p = on & (f32["precip"] > 0)
    assert np.array_equal(des[on_p], want_des[on_p]) and np.isnan(des[0, 1])
    # by hand: row 2 (sandy, FVC 0.06 -> 9), column 10 (1.5 -> 3): (3 x 9 x 9)^1/3 = 6.24 -> 4;
    # row 5 (clayey, FVC 0.15 -> 9), column 2 (1.4 -> 1): (1 x 3 x 9)^1/3 = 3 -> 2;
    # row 30 (loamy, FVC 0.9 -> 1), column 30 (16 -> 7): (7 x 7 x 1)^1/3 = 3.66 -> 2
    assert (des[2, 10], des[5, 2], des[30, 30]) == (4, 2, 2)

    # --- rocky-desertification sensitivity --------------------------------------------------
    # carbonate share 0 (columns 0-3: not karst, class 0), 0.05 (1), 0.3 (5), 0.8 (9); slope
    # atan 0.2 = 11.31 deg (3); cover 9 / 7 / 5 / 3 / 1 at breaks 0.2 0.4 0.6 0.8
    want_rocky = classes([graded(f32["lithology"], [0.1, 0.3, 0.5, 0.7]),
                          np.full((N, N), 3), graded(fvc, [0.2, 0.4, 0.6, 0.8], False)],
                         [2, 4, 6, 8])
    want_rocky = np.where(f32["lithology"] == 0, 0, want_rocky)
    assert np.array_equal(rocky[on], want_rocky[on])
    # by hand: row 0 (cover 9), column 25 (9): (9 x 3 x 9)^1/3 = 6.24 -> 4; column 8 (1):
    # (1 x 3 x 9)^1/3 = 3 -> 2; row 31 (FVC 0.93 -> 1), column 15 (5): 15^1/3 = 2.47 -> 2
    assert (rocky[0, 25], rocky[0, 8], rocky[31, 15], rocky[5, 1]) == (4, 2, 2, 0)


# ------------------------------------------------------------------------------------------------
# the kernels on single tiles: water conservation from an aet layer, cover from NDVI, and
# nothing computed without inputs
# ------------------------------------------------------------------------------------------------
def _tile(a: np.ndarray, pixel_type: str = "32BF", nodata: float = -9999) -> bytes:
    return raster_wkb(a.astype(np.float32 if pixel_type == "32BF" else np.uint8), pixel_type,
                      nodata, 450_000, 4_950_000, 30, 26910)


def test_kernels_aet_balance_ndvi_cover_and_missing_inputs(conn: psycopg.Connection) -> None:
    """np_water_yield with an aet tile and no Budyko inputs: P - R - AET (yield and AET not
    computed); np_sensitivity with NDVI and its end members: FVC = (NDVI - 0.1) / 0.8; a
    kernel without its inputs returns nothing (the models then write no row)."""
    lc = np.array([[1, 2], [3, 255]])
    P = np.array([[1000.0, 800.0], [600.0, 500.0]])
    lc_t, p_t = _tile(lc, "8BUI", 255), _tile(P)
    aet_t = _tile(np.full((2, 2), 300.0))
    out = conn.execute(
        "select raster.np_water_yield(%s, %s, null, null, null, %s, null, null, "
        "array[1, 2], null, null, null, array[0.1, 0.5]::float8[], 5)",
        (lc_t, p_t, aet_t)).fetchone()[0]
    wy, aet, wc = (decode_band(out, b)[0] for b in (1, 2, 3))
    assert np.isnan(wy).all() and np.isnan(aet).all()
    # class 1: 1000 - 100 - 300; class 2: 800 - 400 - 300; class 3 has no runoff coefficient
    assert wc[0, 0] == pytest.approx(600) and wc[0, 1] == pytest.approx(100)
    assert np.isnan(wc[1, 0]) and np.isnan(wc[1, 1])
    # no precipitation tile: nothing
    none = conn.execute("select raster.np_water_yield(%s, null, null, null, null, %s, null, "
                        "null, array[1], null, null, null, array[0.1]::float8[], 5)",
                        (lc_t, aet_t)).fetchone()[0]
    assert none is None

    # erosion sensitivity with the cover from NDVI (end members 0.1 and 0.9): NDVI 0.18, 0.30,
    # 0.62, 0.86 -> FVC 0.1, 0.25, 0.65, 0.95 -> cover grades 9, 7, 3, 1; R 700 (9),
    # K 0.035 (7), flat DEM (relief 1): (9 x 7 x 1 x g)^1/4 = 4.88, 4.58, 3.71, 2.82
    ndvi = np.array([[0.18, 0.30], [0.62, 0.86]])
    lc4 = np.array([[1, 1], [1, 1]])
    args = (_tile(lc4, "8BUI", 255), _tile(np.full((2, 2), 700.0)),
            _tile(np.full((2, 2), 0.035)), [_tile(np.full((2, 2), 100.0))], _tile(ndvi))
    out = conn.execute(
        "select raster.np_sensitivity(%s, %s, %s, %s::bytea[], null, null, null, null, null, "
        "%s, null, null, 0.1, 0.9, 1000, array[25, 100, 400, 600]::float8[], "
        "array[0.01, 0.02, 0.03, 0.04]::float8[], array[20, 50, 100, 300]::float8[], "
        "array[0.2, 0.4, 0.6, 0.8]::float8[], array[2, 4, 6, 8]::float8[], "
        "array[1.5, 4, 16, 24]::float8[], array[0.2, 0.4, 0.6, 0.8]::float8[], "
        "array[2, 4, 6, 8]::float8[], array[0.1, 0.3, 0.5, 0.7]::float8[], "
        "array[5, 15, 25, 35]::float8[], array[0.2, 0.4, 0.6, 0.8]::float8[], "
        "array[2, 4, 6, 8]::float8[])", args).fetchone()[0]
    ero, des, rocky = (decode_band(out, b)[0] for b in (1, 2, 3))
    assert ero.tolist() == [[3, 3], [2, 2]]
    assert (des == 0).all() and (rocky == 0).all()   # their inputs are missing
