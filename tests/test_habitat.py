"""Habitat quality (InVEST 3.20.2, METHODS §3.3): int_habitat_tiles against hand computations,
an independent numpy/scipy implementation written here, and a single-tile computation of the
same region (threat effects across tile borders).

InVEST 3.20.2 takes the distance from each pixel to the nearest pixel of a threat (value not
0), decays it linearly, (R - d) / R, or exponentially, exp(-2.99 d / R), up to R = max_dist /
pixel size (0 beyond), and sums decay x sensitivity x weight / sum of weights x access; the
quality is habitat x (1 - D^2.5 / (D^2.5 + k^2.5)).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import psycopg
import pytest
from scipy import ndimage

from ecorest.errors import RunError
from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from helpers import footprint, write_raster

N = 48                      # 48 x 48 px of 30 m, 16-px tiles: 3 x 3 tiles
TILE = 16
K = 0.05
# threats: name -> (max_dist m, weight, decay 0 linear / 1 exponential)
THREATS = {"road": (300.0, 1.0, 0), "town": (150.0, 0.5, 1)}
# classes: code -> (habitat, sensitivity to road, sensitivity to town)
CLASSES = {1: (1.0, 1.0, 0.5), 2: (0.5, 0.5, 1.0), 3: (0.0, 0.0, 0.0)}
LEGEND = ("class_code,name_en,ipcc_category\n1,meadow,grassland\n2,pasture,grassland\n"
          "3,paved,settlements\n")
CARBON = "lucode,C_above,C_below,C_soil,C_dead\n1,5,0,0,0\n2,4,0,0,0\n3,0,0,0,0\n"


def services_csv(threats=THREATS, classes=CLASSES) -> str:
    lines = ["parameter,class_code,stratum,value,unit"]
    for name, (dist, weight, decay) in threats.items():
        lines += [f"threat_max_dist,,{name},{dist},m", f"threat_weight,,{name},{weight},1",
                  f"threat_decay,,{name},{decay},1"]
    for code, (hab, *sens) in classes.items():
        lines.append(f"habitat,{code},,{hab},1")
        for name, s in zip(threats, sens, strict=True):
            lines.append(f"threat_sensitivity,{code},{name},{s},1")
    return "\n".join(lines) + "\n"


def reference(lc: np.ndarray, threats: dict[str, np.ndarray], access: np.ndarray,
              k: float = K, params=THREATS, classes=CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Habitat quality and degradation by an independent implementation: scipy's exact
    Euclidean distance transform over the whole raster (no tiles), then InVEST's decay and
    sums. lc: class codes (0 = nodata); access: NaN = not given (1)."""
    wsum = sum(p[1] for p in params.values())
    deg = np.zeros(lc.shape)
    acc = np.where(np.isnan(access), 1.0, access)
    for j, (name, (dist, weight, decay)) in enumerate(params.items()):
        src = threats[name] != 0
        d = (ndimage.distance_transform_edt(~src) if src.any()
             else np.full(lc.shape, np.inf))
        r = dist / 30.0
        with np.errstate(invalid="ignore", over="ignore"):
            f = (np.where(d > r, 0.0, (r - d) / r) if decay == 0
                 else np.where(d > r, 0.0, np.exp(-d * 2.99 / r)))
        sens = np.vectorize(lambda c, j=j: classes.get(int(c), (0, 0, 0))[1 + j])(lc)
        deg += f * sens * (weight / wsum) * acc
    hab = np.vectorize(lambda c: classes.get(int(c), (np.nan,))[0])(lc)
    q = hab * (1 - deg ** 2.5 / (deg ** 2.5 + k ** 2.5))
    q[lc == 0] = np.nan
    deg[lc == 0] = np.nan
    return q, deg


def tile_bands(conn, catalog_id: int) -> np.ndarray:
    """Bands 1, 2 of int_habitat_tiles for a land-cover epoch, placed on the grid of the
    generated rasters (origin 450000, 4950000; 30 m): (2, N, N)."""
    rows = conn.execute(
        "select st_upperleftx(rast), st_upperlefty(rast), st_dumpvalues(rast, 1), "
        "st_dumpvalues(rast, 2) from intermediate.int_habitat_tiles "
        "where landcover_catalog_id = %s", (catalog_id,)).fetchall()
    out = np.full((2, N, N), np.nan)
    for ulx, uly, b1, b2 in rows:
        r0, c0 = round((4_950_000 - uly) / 30), round((ulx - 450_000) / 30)
        for i, b in enumerate((b1, b2)):
            a = np.array(b, dtype=float)
            rs, cs = max(0, -r0), max(0, -c0)
            h, w = min(N - r0, a.shape[0]) - rs, min(N - c0, a.shape[1]) - cs
            if h > 0 and w > 0:
                out[i, r0 + rs:r0 + rs + h, c0 + cs:c0 + cs + w] = a[rs:rs + h, cs:cs + w]
    return out


def hand_landscape() -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Epoch 2000: class 1 everywhere, class 2 in rows 30.., class 3 in column 0 and at
    (20, 13), two nodata
    pixels; one road pixel at (20, 15) by a tile border, one town pixel at (24, 22); access
    0.25 in rows 16..19 (nodata elsewhere: 1)."""
    lc = np.ones((N, N), np.uint8)
    lc[30:, :] = 2
    lc[:, 0] = 3
    lc[20, 13] = 3
    lc[5, 5] = lc[44, 44] = 0
    road = np.zeros((N, N), np.float32)
    road[20, 15] = 1
    town = np.zeros((N, N), np.float32)
    town[24, 22] = 0.3                      # any value other than 0 is a threat pixel
    access = np.full((N, N), np.nan, np.float32)
    access[16:20, :] = 0.25
    return lc, {"road": road, "town": town}, access


def random_landscape() -> tuple[np.ndarray, np.ndarray]:
    """Epoch 2020: random classes and sparse road pixels of random intensity (its town layer
    is the 2000 one, the latest before it)."""
    rng = np.random.default_rng(7)
    lc = rng.choice([1, 2, 3], size=(N, N), p=[0.5, 0.3, 0.2]).astype(np.uint8)
    lc[rng.random((N, N)) < 0.02] = 0
    road = np.where(rng.random((N, N)) < 0.012, rng.uniform(0.1, 1, (N, N)), 0)
    return lc, road.astype(np.float32)


def habitat_region(conn, tmp_path: Path) -> dict[str, int]:
    """Region 'hq' (48 x 48 px, 16-px tiles) with land cover 2000 (hand), 1990 (the same, but
    before every threat layer) and 2020 (random),
    threat_road and threat_town of 2000, threat_road of 2020, the access layer (2000) and the
    services and carbon parameters; returns the land-cover catalog ids per epoch."""
    lc0, th0, access = hand_landscape()
    lc1, road1 = random_landscape()
    p = write_raster(tmp_path / "lc2000.tif", lc0, nodata=0)
    create_region(conn, "hq", footprint(tmp_path, p), align_to=str(p),
                  allow_non_equal_area=True, tile_size=TILE)
    (tmp_path / "legend.csv").write_text(LEGEND)
    load_legend(conn, "hq", tmp_path / "legend.csv")
    ids = {}
    [ids["2000"]] = load_raster(conn, "hq", "landcover", p, epoch="2000", legend="hq",
                                show_progress=False)
    # an earlier epoch with no threat layer on or before it: not computed
    p = write_raster(tmp_path / "lc1990.tif", lc0, nodata=0)
    [ids["1990"]] = load_raster(conn, "hq", "landcover", p, epoch="1990", legend="hq",
                                show_progress=False)
    p = write_raster(tmp_path / "lc2020.tif", lc1, nodata=0)
    [ids["2020"]] = load_raster(conn, "hq", "landcover", p, epoch="2020", legend="hq",
                                show_progress=False)
    for epoch, name, a in (("2000", "road", th0["road"]), ("2000", "town", th0["town"]),
                           ("2020", "road", road1)):
        p = write_raster(tmp_path / f"{name}{epoch}.tif", a, nodata=-1)
        load_raster(conn, "hq", f"threat_{name}", p, epoch=epoch, show_progress=False)
    p = write_raster(tmp_path / "access.tif", np.nan_to_num(access, nan=-1), nodata=-1)
    load_raster(conn, "hq", "access", p, epoch="2000", show_progress=False)
    (tmp_path / "carbon.csv").write_text(CARBON)
    load_params(conn, tmp_path / "carbon.csv", name="hq carbon", kind="carbon_pools",
                source_text="test")
    (tmp_path / "services.csv").write_text(services_csv())
    load_params(conn, tmp_path / "services.csv", name="hq services", kind="services",
                source_text="test")
    return ids


def quality(d: float, hab: float, k: float = K) -> float:
    return hab * (1 - d ** 2.5 / (d ** 2.5 + k ** 2.5))


@pytest.mark.slow
def test_habitat_quality_by_hand_numpy_and_one_tile(db_url: str, tmp_path: Path) -> None:
    """Hand values at chosen pixels, every pixel against the independent implementation, the
    16-px tiles against one 64-px tile; then a threat without a layer fails the run."""
    with psycopg.connect(db_url) as conn:
        ids = habitat_region(conn, tmp_path)
        run_assessment(conn, db_url, "hq", work_dir=tmp_path / "dbt")
        hand = tile_bands(conn, ids["2000"])
        rand = tile_bands(conn, ids["2020"])
        epochs = dict(conn.execute("select landcover_catalog_id, epoch_label from "
                                   "intermediate.int_habitat_tiles group by 1, 2").fetchall())
        # the same epoch computed on one tile: every layer's tiles unioned, the kernels called
        # once on the whole 48 x 48 raster
        one = conn.execute(
            """
            with u as (
                select c.layer, st_union(t.rast)::bytea as r
                from raster.catalog c join raster.tiles t using (catalog_id)
                where (c.epoch_label = '2020' and c.layer <> 'threat_town')
                   or c.layer in ('access', 'threat_town')
                group by c.layer
            ), lc as (select r from u where layer = 'landcover')
            select st_upperleftx(st_rastfromwkb(lc.r)), st_upperlefty(st_rastfromwkb(lc.r)),
                   st_dumpvalues(st_rastfromwkb(raster.np_habitat_quality(
                lc.r,
                array[raster.np_threat_decay(lc.r, array[(select r from u where
                          layer = 'threat_road')], 300, 0),
                      raster.np_threat_decay(lc.r, array[(select r from u where
                          layer = 'threat_town')], 150, 1)],
                array[1, 0.5]::float8[], array[1, 2, 3], array[1, 0.5, 0]::float8[],
                array[1, 0.5, 0.5, 1, 0, 0]::float8[], (select r from u where layer = 'access'),
                1, 0, 0.05)), 1)
            from lc
            """).fetchone()
    # 1990 has no threat layer on or before it (the 2000 ones come later): not computed
    assert epochs == {ids["2000"]: "2000", ids["2020"]: "2020"}
    q, deg = hand
    w_road, w_town = 1 / 1.5, 0.5 / 1.5
    # road (linear, R = 10 px) alone, class 1 (S_road = 1), access 1: 3 px east -> 0.7
    assert deg[20, 18] == pytest.approx(0.7 * w_road, rel=1e-6)
    assert deg[24, 18] == pytest.approx(0.5 * w_road + math.exp(-2.99 * 4 / 5) * 0.5 * w_town,
                                        rel=1e-6)
    # ... across the tile border (road in tile column 0, the pixel in tile column 1); with
    # access 0.25 (rows 16..19) 3 px north of the road
    assert deg[17, 15] == pytest.approx(0.7 * w_road * 0.25, rel=1e-6)
    assert q[17, 15] == pytest.approx(quality(0.7 * w_road * 0.25, 1.0), rel=1e-6)
    # linear: 0.1 at 9 px, 0 at R and beyond; exponential: exp(-2.99) at R (InVEST cuts only
    # beyond R), 0 beyond
    assert deg[11, 15] == pytest.approx(0.1 * w_road, rel=1e-6)
    assert deg[10, 15] == 0 and deg[9, 15] == 0
    assert deg[24, 27] == pytest.approx(math.exp(-2.99) * 0.5 * w_town, rel=1e-6)
    assert deg[24, 28] == 0
    # both threats: (24, 19) is sqrt(32) px from the road, 3 px from the town
    d = (1 - math.sqrt(32) / 10) * w_road + math.exp(-2.99 * 3 / 5) * 0.5 * w_town
    assert deg[24, 19] == pytest.approx(d, rel=1e-6)
    assert q[24, 19] == pytest.approx(quality(d, 1.0), rel=1e-6)
    # class 2 (habitat 0.5, S_town 1): (30, 22) is 6 px from the town (beyond R = 5), 10.44
    # from the road: no threat; (29 is class 1) -> quality = habitat
    assert deg[30, 22] == 0 and q[30, 22] == pytest.approx(0.5)
    # non-habitat class 3, 2 px from the road: quality 0 and degradation 0 (not sensitive)
    assert q[20, 13] == 0 and deg[20, 13] == 0
    # nodata stays nodata; far from threats a class-1 pixel keeps its habitat value 1
    assert np.isnan(q[5, 5]) and np.isnan(deg[44, 44])
    assert q[2, 40] == 1 and deg[2, 40] == 0
    # the whole epoch against the independent implementation
    lc0, th0, access = hand_landscape()
    want_q, want_d = reference(lc0, th0, access)
    np.testing.assert_allclose(q, want_q, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(deg, want_d, rtol=1e-5, atol=1e-7)

    # epoch 2020: random landscape, its roads, the town and the access layer of 2000 (the
    # latest before it)
    lc1, road1 = random_landscape()
    want_q, want_d = reference(lc1, {"road": road1, "town": th0["town"]}, access)
    assert (want_d > 0).mean() > 0.5 and np.isnan(want_q).sum() > 10
    np.testing.assert_allclose(rand[0], want_q, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rand[1], want_d, rtol=1e-5, atol=1e-7)
    # the tiles give exactly what one tile over the whole region gives
    ulx, uly, one = one
    one = np.array(one, dtype=float)
    r0, c0 = round((4_950_000 - uly) / 30), round((ulx - 450_000) / 30)
    assert r0 <= 0 and c0 <= 0 and one.shape[0] > N
    np.testing.assert_allclose(rand[0], one[-r0:-r0 + N, -c0:-c0 + N], rtol=1e-6, atol=1e-7)

    # a third threat without any layer: both epochs have the other threats' layers, so the
    # run fails naming the threat and each epoch (threat_town of 2020 is the 2000 layer and
    # is not missing); the earlier run's tiles stay
    with psycopg.connect(db_url) as conn:
        (tmp_path / "services2.csv").write_text(services_csv(
            {**THREATS, "mine": (90.0, 1.0, 0)}, {c: (*v, 1.0) for c, v in CLASSES.items()}))
        load_params(conn, tmp_path / "services2.csv", name="hq services", kind="services",
                    source_text="test")
        with pytest.raises(RunError, match="threat_mine"):
            run_assessment(conn, db_url, "hq", work_dir=tmp_path / "dbt")
        message = conn.execute("select message from etl.assessment_runs "
                               "where status = 'failed'").fetchone()[0]
    assert "land-cover epoch 2000 has no threat_mine layer" in message
    assert "land-cover epoch 2020 has no threat_mine layer" in message
    assert "threat_town layer" not in message and "threat_road layer" not in message
