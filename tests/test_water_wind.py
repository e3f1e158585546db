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
# water yield and water conservation
# ------------------------------------------------------------------------------------------------
# forest (vegetated, Kc 1.0, root 7000 mm), grass (vegetated, Kc 0.65, root 1700 mm), water
# and urban (not vegetated: AET = min(Kc ET0, P)); class 5 has no parameters
WATER_PARAMS = ("parameter,class_code,value,unit\n"
                "kc,1,1.0,1\nroot_depth,1,7000,mm\nlulc_veg,1,1,1\nrunoff_coefficient,1,0.1,1\n"
                "kc,2,0.65,1\nroot_depth,2,1700,mm\nlulc_veg,2,1,1\nrunoff_coefficient,2,0.2,1\n"
                "kc,3,1.0,1\nroot_depth,3,500,mm\nlulc_veg,3,0,1\nrunoff_coefficient,3,0.05,1\n"
                "kc,4,0.3,1\nroot_depth,4,500,mm\nlulc_veg,4,0,1\nrunoff_coefficient,4,0.6,1\n")


def test_water_yield_and_conservation_by_hand_and_numpy(db_url: str, tmp_path: Path) -> None:
    """Columns 0-7 forest, 8-15 grass, 16-23 water, 24-31 urban; P = 300 + 40 row mm (0 at
    one pixel), ET0 = 900 + 10 col mm, PAWC 0.15, soil depth 1200 mm (400 in rows 0-3, where
    it limits AWC; 7000 in rows 20-23, where w is capped at 5), Z = 5. The same region has
    an NDVI layer, erosivity, erodibility and a flat DEM: erosion sensitivity with the cover
    from NDVI by the dimidiate model; no wind inputs, so no wind rows."""
    rows, cols = np.mgrid[:N, :N]
    lc = np.select([cols < 8, cols < 16, cols < 24], [1, 2, 3], 4)
    lc[31, 0] = 255                                     # nodata
    lc[30, 30] = 5                                      # a class without parameters
    P = (300 + 40 * rows).astype(np.float64)
    P[0, 1] = 0
    et0 = (900 + 10 * cols).astype(np.float64)
    depth = np.where(rows < 4, 400.0, np.where((rows >= 20) & (rows < 24), 7000.0, 1200.0))
    pawc = np.full((N, N), 0.15)
    # NDVI: 0.1 in columns 0-3, 0.9 in 28-31, between them 0.1 + 0.032 (col - 3.5)
    ndvi = np.where(cols < 4, 0.1, np.where(cols >= 28, 0.9, 0.1 + 0.032 * (cols - 3.5)))
    layers = {"precip": P, "et0": et0, "pawc": pawc, "soil_depth": depth, "ndvi": ndvi,
              "erosivity": np.full((N, N), 700.0), "erodibility": np.full((N, N), 0.035),
              "dem": np.full((N, N), 100.0)}
    with psycopg.connect(db_url) as conn:
        _region(conn, tmp_path, "wy", lc, layers, WATER_PARAMS)
        run_assessment(conn, db_url, "wy", work_dir=tmp_path / "dbt")
        wy, aet, wc = (_grid(conn, "int_water_tiles", b) for b in (1, 2, 3))
        sens = [_grid(conn, "int_sensitivity_tiles", b) for b in (1, 2, 3)]
        keys = conn.execute("select distinct epoch_label, landcover_catalog_id is not null "
                            "from intermediate.int_water_tiles").fetchall()
        wind_rows = conn.execute("select count(*) from intermediate.int_wind_tiles").fetchone()[0]
    assert keys == [("2020", True)]
    assert wind_rows == 0                               # no wind inputs: not computed

    # by hand. Forest, row 20, col 2: P 1100, PET 920, AWC = min(7000, 7000) x 0.15 = 1050,
    # w = 5 x 1050 / 1100 + 1.25 = 6.02 -> 5; AET/P = min(0.8364, 1.8364 - (1 + 0.8364^5)^0.2)
    # = 0.76535; AET 841.9, yield 258.1
    x = 920 / 1100
    ratio = 1 + x - (1 + x ** 5) ** 0.2
    assert ratio == pytest.approx(0.76535, abs=1e-5)
    assert aet[20, 2] == pytest.approx(ratio * 1100, rel=1e-5)
    assert wy[20, 2] == pytest.approx(1100 - ratio * 1100, rel=1e-5)
    assert wy[20, 2] == pytest.approx(258.1, abs=0.1)
    # grass, row 2, col 10: P 380, PET 0.65 x 1000 = 650, AWC = min(1700, 400) x 0.15 = 60,
    # w = 5 x 60 / 380 + 1.25 = 2.0395 (not capped)
    w = 5 * 60 / 380 + 1.25
    x = 650 / 380
    ratio = min(x, 1 + x - (1 + x ** w) ** (1 / w))
    assert aet[2, 10] == pytest.approx(ratio * 380, rel=1e-5)
    assert wy[2, 10] == pytest.approx(380 * (1 - ratio), rel=1e-4)
    # water, row 0, col 18: PET 1080 > P 300, so AET = P and no yield
    assert (aet[0, 18], wy[0, 18]) == (pytest.approx(300), pytest.approx(0, abs=1e-4))
    # urban, row 10, col 26: PET 0.3 x 1160 = 348 < P 700: AET 348, yield 352;
    # water conservation 700 - 0.6 x 700 - 348 = -68 (negative: the balance is not clipped)
    assert (aet[10, 26], wy[10, 26]) == (pytest.approx(348), pytest.approx(352))
    assert wc[10, 26] == pytest.approx(-68, abs=1e-3)
    # forest, row 20, col 2: 1100 - 0.1 x 1100 - AET
    assert wc[20, 2] == pytest.approx(990 - 1100 * (920 / 1100 + 1 - (1 + (920 / 1100) ** 5)
                                                    ** 0.2), rel=1e-5)
    # no result: P = 0, land-cover nodata, a class without parameters
    assert np.isnan([wy[0, 1], wy[31, 0], wy[30, 30], aet[30, 30], wc[30, 30]]).all()

    # the whole grid against the independent implementation (inputs as stored: float32)
    f32 = {k: v.astype(np.float32).astype(np.float64) for k, v in layers.items()}
    kc = np.select([lc == 1, lc == 2, lc == 3, lc == 4], [1.0, 0.65, 1.0, 0.3], np.nan)
    root = np.select([lc == 1, lc == 2], [7000.0, 1700.0], 1.0)
    veg = np.where((lc == 1) | (lc == 2), 1, 0)
    want_wy, want_aet = budyko_zhang(f32["precip"], f32["et0"], kc, root, f32["soil_depth"],
                                     f32["pawc"], veg)
    rc = np.select([lc == 1, lc == 2, lc == 3, lc == 4], [0.1, 0.2, 0.05, 0.6], np.nan)
    want_wc = f32["precip"] * (1 - rc) - want_aet
    for got, want in ((wy, want_wy), (aet, want_aet), (wc, want_wc)):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.allclose(got[ok], want[ok], rtol=1e-5, atol=1e-3)
    assert np.isfinite(want_wy).sum() == N * N - 3

    # erosion sensitivity: R 700 (grade 9), K 0.035 (7), flat DEM (relief 0: 1), cover from
    # NDVI with the 5th/95th percentiles as end members (about 0.1 and 0.9): FVC < 0.6 up to
    # column 18 (grade 5, 7 or 9: (9 x 7 x 1 x 5)^1/4 = 4.21 ... 567^1/4 = 4.88, class 3),
    # FVC >= 0.6 from column 19 (grade 3 or 1: 189^1/4 = 3.71, 63^1/4 = 2.82, class 2); the
    # other two sensitivities are not computed
    ero, des, rocky = sens
    on = lc != 255
    assert (ero[on & (cols <= 18)] == 3).all() and (ero[on & (cols >= 19)] == 2).all()
    assert (des[on] == 0).all() and (rocky[on] == 0).all()
    assert np.isnan(ero[31, 0])


# ------------------------------------------------------------------------------------------------
# RWEQ, sensitivity, water conservation from an aet layer
# ------------------------------------------------------------------------------------------------
WIND_PARAMS = ("parameter,class_code,value,unit\n"
               "rweq_cover_coefficient,2,-0.2,1\n"
               "runoff_coefficient,1,0.1,1\nrunoff_coefficient,2,0.2,1\n"
               "runoff_coefficient,6,0.3,1\n")


def wind_layers() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rows, cols = np.mgrid[:N, :N]
    lc = np.select([rows < 8, rows < 16, rows < 24], [1, 2, 6], 3)
    sand = np.select([rows < 4, rows < 8], [90.0, 20.0], 40.0 + cols)
    clay = np.select([rows < 4, rows < 8], [5.0, 45.0], 20.0 - 0.5 * cols)
    layers = {
        "wind_factor": 50.0 + 2 * cols,
        "snow_cover": np.where(cols < 4, 0.25, 0.0),
        "dem": 100.0 + 0.2 * 30 * cols,                 # a plane rising 0.2 m/m eastwards
        "soil_sand": sand, "soil_clay": clay, "soil_silt": 100.0 - sand - clay,
        "soil_om": np.full((N, N), 1.5), "soil_caco3": np.full((N, N), 2.0),
        "fvc": 0.03 * rows,
        "erosivity": np.select([cols < 8, cols < 16, cols < 24], [99.5, 100.0, 599.5], 600.0),
        "erodibility": np.where(cols >= 24, 0.05, 0.035),
        "precip": np.where(rows < 16, 1000.0, 250.0),
        "et0": np.select([cols < 8, cols < 16, cols < 24], [1400.0, 1500.0, 3000.0], 4000.0),
        "lithology": np.select([cols < 4, cols < 12, cols < 20], [0.0, 0.05, 0.3], 0.8),
        "aet": np.full((N, N), 200.0),
    }
    return lc, layers


def test_rweq_sensitivity_and_aet_balance_by_hand_and_numpy(db_url: str,
                                                           tmp_path: Path) -> None:
    """Rows 0-7 forest (a_i -0.1535 by its ecosystem type), 8-15 grass (a_i -0.2 from the
    parameter set, replacing -0.1151), 16-23 desert (-0.0658), 24-31 water (no coefficient:
    no wind result). WF = 50 + 2 col kg/m, snow cover 0.25 in columns 0-3; a DEM plane rising
    0.2 m/m (slope 11.31 deg; 3 x 3 range 12 m inside the grid); FVC = 0.03 row."""
    lc, layers = wind_layers()
    rows, cols = np.mgrid[:N, :N]
    with psycopg.connect(db_url) as conn:
        _region(conn, tmp_path, "wind", lc, layers, WIND_PARAMS)
        run_assessment(conn, db_url, "wind", work_dir=tmp_path / "dbt")
        pot, act, fix = (_grid(conn, "int_wind_tiles", b) for b in (1, 2, 3))
        ero, des, rocky = (_grid(conn, "int_sensitivity_tiles", b) for b in (1, 2, 3))
        wy, aet, wc = (_grid(conn, "int_water_tiles", b) for b in (1, 2, 3))

    # by hand, grass at row 10, col 10: WF 70; sand 50, clay 15, silt 35, OM 1.5, CaCO3 2:
    # EF = (29.09 + 15.5 + 5.95 + 0.33 x 50/15 - 2.59 x 1.5 - 0.95 x 2) / 100 = 0.45855;
    # SCF = 1 / (1 + 0.0066 x 225 + 0.021 x 2.25) = 0.394906; K': dH 12 m over L 90 m,
    # Kr = 0.2 x 144 / 90 = 0.32, K' = exp(1.86 x 0.32 - 2.41 x 0.32^0.934) = 0.78959;
    # x = 70 x 0.45855 x 0.394906 x 0.78959 = 10.0087; C = exp(-0.2 x 30) = 0.0024788
    ef = (29.09 + 0.31 * 50 + 0.17 * 35 + 0.33 * 50 / 15 - 2.59 * 1.5 - 0.95 * 2) / 100
    scf = 1 / (1 + 0.0066 * 15 ** 2 + 0.021 * 1.5 ** 2)
    kp = math.exp(1.86 * 0.32 - 2.41 * 0.32 ** 0.934)
    assert (ef, scf, kp) == (pytest.approx(0.45855), pytest.approx(0.394906, abs=1e-6),
                             pytest.approx(0.78959, abs=1e-5))
    x = 70 * ef * scf * kp
    s = 150.71 * x ** -0.3711
    sl = 2 * 50 / s ** 2 * 109.8 * x * math.exp(-(50 / s) ** 2) * 10
    assert sl == pytest.approx(145.5, abs=0.1)          # t/ha/yr, bare soil
    assert pot[10, 10] == pytest.approx(sl, rel=1e-4)
    c = math.exp(-0.2 * 0.03 * 10 * 100)
    xc = x * c
    sc_ = 150.71 * xc ** -0.3711
    slc = 2 * 50 / sc_ ** 2 * 109.8 * xc * math.exp(-(50 / sc_) ** 2) * 10
    assert act[10, 10] == pytest.approx(slc, rel=1e-3)
    assert fix[10, 10] == pytest.approx(sl - slc, rel=1e-4)
    assert np.isnan([pot[28, 5], act[28, 5], fix[28, 5]]).all()     # water: no coefficient

    # the whole grid against the independent implementation
    f32 = {k: v.astype(np.float32).astype(np.float64) for k, v in layers.items()}
    fvc = stored(layers["fvc"])
    sa, si, cl = f32["soil_sand"], f32["soil_silt"], f32["soil_clay"]
    om, ca = f32["soil_om"], f32["soil_caco3"]
    ef = np.clip((29.09 + 0.31 * sa + 0.17 * si + 0.33 * sa / cl - 2.59 * om - 0.95 * ca)
                 / 100, 0, 1)
    scf = 1 / (1 + 0.0066 * cl ** 2 + 0.021 * om ** 2)
    kr = 0.2 * window_range(f32["dem"], 1) ** 2 / 90
    kp = np.exp(1.86 * kr - 2.41 * kr ** 0.934)
    wf = f32["wind_factor"] * (1 - f32["snow_cover"])
    a = np.select([lc == 1, lc == 2, lc == 6], [-0.1535, -0.2, -0.0658], np.nan)
    base = wf * ef * scf * kp
    want_pot = np.where(np.isfinite(a), rweq_loss(base), np.nan)
    want_act = rweq_loss(base * np.exp(a * fvc * 100))
    for got, want in ((pot, want_pot), (act, want_act), (fix, want_pot - want_act)):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.allclose(got[ok], want[ok], rtol=2e-4, atol=1e-6)
    assert np.isfinite(want_pot).sum() == 24 * N

    # water conservation from the aet layer (no Budyko inputs: yield and AET not computed):
    # P - runoff - 200; water has no runoff coefficient
    assert np.isnan(wy).all() and np.isnan(aet).all()
    rc = np.select([lc == 1, lc == 2, lc == 6], [0.1, 0.2, 0.3], np.nan)
    want_wc = f32["precip"] * (1 - rc) - 200
    assert np.array_equal(np.isnan(wc), np.isnan(want_wc))
    assert np.allclose(wc[~np.isnan(wc)], want_wc[~np.isnan(wc)])
    assert wc[0, 0] == pytest.approx(700) and wc[20, 0] == pytest.approx(250 * 0.7 - 200)

    # erosion sensitivity: R 99.5 / 100 / 599.5 / 600 (grades 3 5 7 9 by the breaks 25, 100,
    # 400, 600: a break belongs to the higher grade), K 0.035 (7) or 0.05 from column 24 (9),
    # relief in the window of sensitivity_relief_window_m = 1000 m (r = 17 px, at most one
    # 16-px tile): the range of the plane over the columns the window reaches, 96 m in the
    # outer columns (grade 5), 102 ... 192 m elsewhere (7); cover 9 below 0.2 ... 1 from 0.8
    relief = window_range(f32["dem"], 16)
    assert relief.min() == pytest.approx(96, abs=1e-3)
    want_ero = classes([graded(f32["erosivity"], [25, 100, 400, 600]),
                        graded(f32["erodibility"], [0.01, 0.02, 0.03, 0.04]),
                        graded(relief, [20, 50, 100, 300]),
                        graded(fvc, [0.2, 0.4, 0.6, 0.8], False)], [2, 4, 6, 8])
    assert np.array_equal(ero, want_ero)
    # by hand: row 0 (FVC 0 -> 9), column 28: (9 x 9 x 7 x 9)^1/4 = 8.45 -> 5 (极敏感);
    # column 12: (5 x 7 x 7 x 9)^1/4 = 6.85 -> 4; column 2: (3 x 7 x 7 x 9)^1/4 = 6.03 -> 4;
    # row 25 (FVC 0.75 -> 3), column 2: (3 x 7 x 7 x 3)^1/4 = 4.58 -> 3
    assert (ero[0, 28], ero[0, 12], ero[0, 2], ero[25, 2]) == (5, 4, 4, 3)

    # desertification: aridity 1.4 / 1.5 / 3 / 4 (P 1000) and 5.6 / 6 / 12 / 16 (P 250):
    # grades 1 3 3 5 and 5 5 5 7 (breaks 1.5, 4, 16, 24); texture sandy rows 0-3 (9), clayey
    # 4-7 (3), loamy below (7); cover as above
    tex = np.select([rows < 4, rows < 8], [9, 3], 7)
    want_des = classes([graded(f32["et0"] / f32["precip"], [1.5, 4, 16, 24]), tex,
                        graded(fvc, [0.2, 0.4, 0.6, 0.8], False)], [2, 4, 6, 8])
    assert np.array_equal(des, want_des)
    # by hand: row 2 (sandy, FVC 0.06 -> 9), column 10 (1.5 -> 3): (3 x 9 x 9)^1/3 = 6.24 -> 4;
    # row 5 (clayey, FVC 0.15 -> 9), column 2 (1.4 -> 1): (1 x 3 x 9)^1/3 = 3 -> 2;
    # row 30 (loamy, FVC 0.9 -> 1), column 30 (16 -> 7): (7 x 7 x 1)^1/3 = 3.66 -> 2
    assert (des[2, 10], des[5, 2], des[30, 30]) == (4, 2, 2)

    # rocky desertification: carbonate share 0 (columns 0-3: not karst, class 0), 0.05 (1),
    # 0.3 (5), 0.8 (9); slope atan 0.2 = 11.31 deg (3); cover 9 / 7 / 5 / 3 / 1 at breaks
    # 0.2 0.4 0.6 0.8
    want_rocky = classes([graded(f32["lithology"], [0.1, 0.3, 0.5, 0.7]),
                          np.full((N, N), 3), graded(fvc, [0.2, 0.4, 0.6, 0.8], False)],
                         [2, 4, 6, 8])
    want_rocky = np.where(f32["lithology"] == 0, 0, want_rocky)
    assert np.array_equal(rocky, want_rocky)
    # by hand: row 0 (cover 9), column 25 (9): (9 x 3 x 9)^1/3 = 6.24 -> 4; column 8 (1):
    # (1 x 3 x 9)^1/3 = 3 -> 2; row 31 (FVC 0.93 -> 1), column 15 (5): 15^1/3 = 2.47 -> 2
    assert (rocky[0, 25], rocky[0, 8], rocky[31, 15], rocky[5, 1]) == (4, 2, 2, 0)
