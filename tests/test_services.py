"""Ecosystem services in the identification: the cumulative-share class breaks and the
constraint masks, checked by hand and against numpy written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest

from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from helpers import footprint, write_raster


def _breaks_by_numpy(values: np.ndarray, shares: tuple[float, float]) -> list[float]:
    """The exact rule: values sorted from the largest down; the value of the pixel whose sum
    first reaches each share of the total."""
    v = np.sort(values)[::-1]
    cum = np.cumsum(v) / v.sum()
    return sorted(float(v[np.searchsorted(cum, s)]) for s in shares)


def test_cumulative_share_breaks_match_the_exact_rule(conn: psycopg.Connection) -> None:
    """Gamma-distributed amounts (100 000 pixels): the breaks from the 4096-bin histogram with
    value sums lie within one bin of the exact sorted-sum breaks, and the pixels at or above
    them hold 50 % and 80 % of the total within one bin's share."""
    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, 30.0, 100_000)
    lo, hi, bins = float(x.min()), float(x.max()), 4096
    width = (hi - lo) / bins
    idx = np.clip(((x - lo) / width).astype(np.int64), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    sums = np.bincount(idx, weights=x, minlength=bins)
    got = conn.execute("select ident.cumulative_share_breaks(%s, %s, %s, %s, %s)",
                       (counts.tolist(), sums.tolist(), lo, hi, [0.5, 0.8])).fetchone()[0]
    exact = _breaks_by_numpy(x, (0.5, 0.8))
    assert got[0] < got[1]
    assert got == pytest.approx(exact, abs=width)
    share_hi = x[x >= got[1]].sum() / x.sum()
    share_lo = x[x >= got[0]].sum() / x.sum()
    one_bin = sums.max() / x.sum()
    assert abs(share_hi - 0.5) <= one_bin and abs(share_lo - 0.8) <= one_bin


def test_cumulative_share_breaks_by_hand(conn: psycopg.Connection) -> None:
    """Four pixels of 40, 30, 20 and 10 (total 100), one bin each: 40 + 30 = 70 passes 50 %
    inside 30's bin, 70 + 20 = 90 passes 80 % inside 20's bin; inside a bin the sum is taken
    as spread evenly, so the breaks are 30 + (70 - 50)/30 x w and 20 + (90 - 80)/20 x w. A
    pixel of -25 (a water balance below 0) adds nothing: the same breaks."""
    def breaks(values):
        counts, sums = [0] * 90, [0.0] * 90     # bins of width 1 over [-40, 50)
        for v in values:
            counts[v + 40] += 1
            sums[v + 40] += v
        return conn.execute("select ident.cumulative_share_breaks(%s, %s, -40, 50, %s)",
                            (counts, sums, [0.5, 0.8])).fetchone()[0]

    assert breaks((40, 30, 20, 10)) == pytest.approx([20 + 10 / 20, 30 + 20 / 30])
    assert breaks((40, 30, 20, 10, -25)) == pytest.approx([20 + 10 / 20, 30 + 20 / 30])


LEGEND = ("class_code,name_en,ecosystem_type,ipcc_category\n"
          "1,forest,forest,forest_land\n"
          "2,town,settlement,settlements\n")


def _mask_region(conn: psycopg.Connection, tmp: Path) -> dict[str, np.ndarray]:
    """32 x 32 px (30 m, 16-px tiles): land cover forest with a town block (rows 0-7, cols
    0-7), factor_erosion 10 in the east half, factor_habitat 100 in the north half, and a
    mask layer marking rows 24-31, cols 24-31 (a reserve) across a tile corner."""
    lc = np.ones((32, 32), np.uint8)
    lc[:8, :8] = 2
    erosion = np.zeros((32, 32), np.float32)
    erosion[:, 16:] = 10
    habitat = np.zeros((32, 32), np.float32)
    habitat[:16, :] = 100
    reserve = np.zeros((32, 32), np.uint8)
    reserve[24:, 24:] = 1
    files = {name: write_raster(tmp / f"{name}.tif", arr, nodata=nd)
             for name, arr, nd in (("lc", lc, 255), ("erosion", erosion, -9999),
                                   ("habitat", habitat, -9999), ("reserve", reserve, 255))}
    (tmp / "legend.csv").write_text(LEGEND)
    create_region(conn, "mask", footprint(tmp, files["lc"]), align_to=str(files["lc"]),
                  allow_non_equal_area=True, tile_size=16)
    load_legend(conn, "mask", tmp / "legend.csv")
    load_raster(conn, "mask", "landcover", files["lc"], epoch="2020", legend="mask",
                show_progress=False)
    load_raster(conn, "mask", "factor_erosion", files["erosion"], epoch="2020",
                show_progress=False)
    load_raster(conn, "mask", "factor_habitat", files["habitat"], epoch="2020",
                show_progress=False)
    (tmp / "weights.csv").write_text("parameter,stratum,value,unit\n"
                                     "degradation_weight,factor_erosion,1,1\n"
                                     "importance_weight,factor_habitat,1,1\n")
    load_params(conn, tmp / "weights.csv", name="mask weights", kind="weights",
                source_text="test")
    return {"lc": lc, "erosion": erosion, "habitat": habitat, "reserve": reserve}


def _grades(conn: psycopg.Connection, run_id: int) -> np.ndarray:
    """The grade band of marts.priority_tiles on the 32 x 32 grid of the input files (0 = no
    grade)."""
    out = np.zeros((32, 32))
    rows = conn.execute("select st_upperleftx(rast), st_upperlefty(rast), "
                        "st_dumpvalues(rast, 1) from marts.priority_tiles where run_id = %s",
                        (run_id,)).fetchall()
    for x0, y0, vals in rows:
        c, r = round((x0 - 450_000) / 30), round((4_950_000 - y0) / 30)
        a = np.nan_to_num(np.array(vals, dtype=float), nan=0.0)
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                if 0 <= r + i < 32 and 0 <= c + j < 32:
                    out[r + i, c + j] = a[i, j]
                elif a[i, j]:
                    raise AssertionError(f"a grade outside the input grid at {r + i}, {c + j}")
    return out


@pytest.mark.slow
def test_constraint_mask_takes_land_out_before_grading(db_url: str, tmp_path: Path) -> None:
    """With exclude_types = settlement the 64 town pixels, and with a mask_reserve layer also
    the 64 reserve pixels, have no grade, the factor pixel counts and the zone's assessed area
    shrink by exactly those pixels, and every other pixel keeps the grade of its quadrant."""
    with psycopg.connect(db_url) as conn:
        a = _mask_region(conn, tmp_path)
        town = run_assessment(conn, db_url, "mask", work_dir=tmp_path / "dbt",
                              dbt_vars={"exclude_types": "settlement"})
        load_raster(conn, "mask", "mask_reserve", tmp_path / "reserve.tif", epoch="2020",
                    show_progress=False)
        both = run_assessment(conn, db_url, "mask", work_dir=tmp_path / "dbt",
                              dbt_vars={"exclude_types": "settlement"})
        g = {k: _grades(conn, r) for k, r in (("town", town), ("both", both))}
        pixels = {r: dict(conn.execute("select factor, pixels from marts.factor_summaries "
                                       "where run_id = %s", (r,)).fetchall())
                  for r in (town, both)}
        assessed = {r: conn.execute("select assessed_ha from marts.zone_scores where run_id = "
                                    "%s and zone_set = 'region'", (r,)).fetchone()[0]
                    for r in (town, both)}
    # by hand: NE (east, north) priority restoration 1, NW protection 4, SE improvement 3,
    # SW general 5 (the matrix of docs/IDENTIFICATION.md)
    expect = np.zeros((32, 32))
    expect[:16, 16:], expect[:16, :16], expect[16:, 16:], expect[16:, :16] = 1, 4, 3, 5
    town_px = a["lc"] == 2
    reserve_px = a["reserve"] == 1
    assert (g["town"][town_px] == 0).all()
    assert (g["town"][~town_px] == expect[~town_px]).all()
    gone = town_px | reserve_px
    assert (g["both"][gone] == 0).all()
    assert (g["both"][~gone] == expect[~gone]).all()
    for f in ("factor_erosion", "factor_habitat"):
        assert pixels[town][f] == 1024 - 64
        assert pixels[both][f] == 1024 - 128
    assert assessed[town] == pytest.approx((1024 - 64) * 0.09)
    assert assessed[both] == pytest.approx((1024 - 128) * 0.09)


def test_exclusion_settings_are_validated() -> None:
    """An unknown ecosystem type or a class code out of range is refused by name."""
    from ecorest.errors import LoadError
    from ecorest.store.run_settings import check_settings

    with pytest.raises(LoadError, match="exclude_types"):
        check_settings({"exclude_types": "settlement,city"})
    with pytest.raises(LoadError, match="exclude_classes"):
        check_settings({"exclude_classes": "3,70000"})
    ok = {"exclude_types": "settlement, wetland", "exclude_classes": "5,5,7"}
    check_settings(ok)
    assert ok == {"exclude_types": "settlement,wetland", "exclude_classes": "5,7"}



def _budyko(p, et0, kc, root, pawc, depth, z=5.0):
    """InVEST's annual water yield per pixel (vegetated classes), written out here."""
    pet = kc * et0
    awc = np.minimum(root, depth) * pawc
    w = np.minimum(z * awc / p + 1.25, 5.0)
    ratio = np.minimum(pet / p, 1 + pet / p - (1 + (pet / p) ** w) ** (1 / w))
    return (1 - ratio) * p


def test_service_totals_grades_and_factor_by_hand(db_url: str, tmp_path: Path) -> None:
    """A 32 x 32 region in two zones (west, east) with a precipitation gradient west -> east
    and two forest classes: the zone means and volumes of water yield equal the Budyko-Zhang
    values written out here, the importance classes follow the exact cumulative-share rule on
    those values, and water yield enters the identification as an importance factor on every
    pixel."""
    import json

    from ecorest.etl.vector_loads import load_zones

    cols = np.arange(32, dtype=np.float32)
    precip = np.tile(800 + 40 * cols, (32, 1)).astype(np.float32)      # 800 ... 2040 mm
    lc = np.ones((32, 32), np.uint8)
    lc[16:, :] = 3                                                     # a second forest class
    files = {"lc": write_raster(tmp_path / "lc.tif", lc, nodata=255),
             "precip": write_raster(tmp_path / "p.tif", precip, nodata=-9999)}
    for name, value in (("et0", 1000.0), ("pawc", 0.15), ("depth", 900.0)):
        files[name] = write_raster(tmp_path / f"{name}.tif",
                                   np.full((32, 32), value, np.float32), nodata=-9999)
    (tmp_path / "legend.csv").write_text("class_code,name_en,ecosystem_type,ipcc_category\n"
                                         "1,conifer,forest,forest_land\n"
                                         "3,broadleaf,forest,forest_land\n")
    (tmp_path / "awy.csv").write_text("lucode,Kc,root_depth,LULC_veg\n1,0.9,2000,1\n"
                                      "3,1.1,500,1\n")
    x0, y0, x1, y1 = 450_000, 4_950_000 - 32 * 30, 450_000 + 32 * 30, 4_950_000
    halves = {"type": "FeatureCollection",
              "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
              "features": [{"type": "Feature", "properties": {"code": c, "name": c},
                            "geometry": {"type": "Polygon", "coordinates": [[
                                [a, y0], [b, y0], [b, y1], [a, y1], [a, y0]]]}}
                           for c, a, b in (("west", x0, x0 + 16 * 30), ("east", x0 + 16 * 30,
                                                                          x1))]}
    (tmp_path / "halves.geojson").write_text(json.dumps(halves))
    with psycopg.connect(db_url) as conn:
        create_region(conn, "svc", footprint(tmp_path, files["lc"]), align_to=str(files["lc"]),
                      allow_non_equal_area=True, tile_size=16)
        load_legend(conn, "svc", tmp_path / "legend.csv")
        load_raster(conn, "svc", "landcover", files["lc"], epoch="2020", legend="svc",
                    show_progress=False)
        for layer, f in (("precip", "precip"), ("et0", "et0"), ("pawc", "pawc"),
                         ("soil_depth", "depth")):
            load_raster(conn, "svc", layer, files[f], epoch="2020", show_progress=False)
        load_zones(conn, "svc", tmp_path / "halves.geojson", zone_set="halves",
                   mapping={"zone_code": "code", "name": "name"})
        load_params(conn, tmp_path / "awy.csv", name="svc awy", kind="services",
                    source_text="test", region="svc")
        run_id = run_assessment(conn, db_url, "svc", work_dir=tmp_path / "dbt")
        zones = {r[0]: r[1:] for r in conn.execute(
            "select zone_code, water_yield_mm, water_yield_m3, assessed_ha, "
            "soil_loss_t_per_yr, habitat_quality_mean from marts.ecosystem_services "
            "where run_id = %s and zone_set = 'halves'", (run_id,)).fetchall()}
        imp = conn.execute(
            "select lower_break, upper_break, extremely_important_ha, important_ha, general_ha "
            "from marts.service_importance where run_id = %s and zone_set = 'region' "
            "and service = 'water_yield'", (run_id,)).fetchone()
        factor = conn.execute("select factor_group, pixels from marts.factor_summaries "
                              "where run_id = %s and factor = 'water_yield'",
                              (run_id,)).fetchone()
        bi = conn.execute("select count(*) from bi.ecosystem_services "
                          "where region_name = 'svc'").fetchone()[0]
        from ecorest.report import make_report

        md = make_report(conn, "svc", tmp_path / "report", langs=("en",), formats=("md",))
        text = md[0].read_text(encoding="utf-8")
        from ecorest.report.export import export_run

        # the service parameters in the lineage (no pool) must not upset the exports
        exported = export_run(conn, "svc", tmp_path / "exports")
    kc = np.where(lc == 1, 0.9, 1.1)
    root = np.where(lc == 1, 2000.0, 500.0)
    wy = _budyko(precip.astype(float), 1000.0, kc, root, 0.15, 900.0)
    for name, part in (("west", wy[:, :16]), ("east", wy[:, 16:])):
        mm, m3, ha, soil, hq = zones[name]
        assert mm == pytest.approx(part.mean(), rel=1e-6)
        assert m3 == pytest.approx(part.sum() * 0.09 * 10, rel=1e-6)    # mm x ha x 10 = m3
        assert ha == pytest.approx(512 * 0.09)
        assert soil is None and hq is None                              # not computed
    lo, hi = _breaks_by_numpy(wy.ravel(), (0.5, 0.8))
    step = (wy.max() - wy.min()) / 4096
    assert imp[0] == pytest.approx(lo, abs=step) and imp[1] == pytest.approx(hi, abs=step)
    n3 = (wy >= imp[1]).sum()
    n2 = ((wy >= imp[0]) & (wy < imp[1])).sum()
    assert imp[2:] == pytest.approx((n3 * 0.09, n2 * 0.09, (1024 - n3 - n2) * 0.09))
    assert factor == ("importance", 1024)
    assert bi == 3      # the region and the two halves, one epoch
    assert any(str(p).endswith(".gpkg") for p in exported)
    # the report's identification chapter: the section, the zone table with the volume of
    # the west half as computed here, and water yield among the factors with its weight
    section = text[text.index("Ecosystem services and ecological sensitivity\n"):]
    assert f"{wy[:, :16].sum() * 0.9:,.0f}" in section
    assert "water yield (importance, weight" in section
    assert "soil loss" not in section.split("Table")[1]     # not computed: no column
