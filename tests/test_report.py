"""The assessment report and the exports, checked against the marts they are built from."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from pypdf import PdfReader
from test_carbon import tiny_region

from ecorest.etl.rasters import load_raster
from ecorest.report import make_report
from ecorest.report.export import export_run
from ecorest.run import run_assessment
from helpers import write_raster


def report_region(conn: psycopg.Connection, db_url: str, tmp: Path):
    """A small region with carbon (forest turning half to grassland) and identification
    (an erosion factor and the carbon density), reported in both languages and exported:
    (run id, report files, export files)."""
    t2 = np.full((64, 64), 1)
    t2[:, 32:] = 2
    tiny_region(conn, tmp, {"2000": np.full((64, 64), 1), "2010": t2},
                "class_code,name_en,name_zh,ipcc_category\n1,forest,森林,forest_land\n"
                "2,grassland,草地,grassland\n",
                "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,50,0\n2,10,0,80,0\n")
    erosion = np.zeros((64, 64), np.float32)
    erosion[32:, :] = 10
    e = write_raster(tmp / "erosion.tif", erosion, nodata=-9999)
    load_raster(conn, "tiny", "factor_erosion", e, epoch="2010", show_progress=False)
    (tmp / "w.csv").write_text("parameter,stratum,value,unit\n"
                               "degradation_weight,factor_erosion,1,1\n")
    from ecorest.etl.params import load_params

    load_params(conn, tmp / "w.csv", name="w", kind="weights", source_text="test")
    run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp / "dbt")
    out = tmp / "out"
    files = make_report(conn, "tiny", out)
    exports = export_run(conn, "tiny", out / "exports")
    return run_id, files, exports


@pytest.fixture
def reported(prebuilt):
    """report_region (built once per test run, its files shared), in a database of the test's
    own: (connection, run id, report files, export files)."""
    with prebuilt("reported", report_region) as (url, (run_id, files, exports)), \
            psycopg.connect(url) as conn:
        yield conn, run_id, files, exports


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_report_figures_equal_the_marts(reported) -> None:
    conn, run_id, files, _ = reported
    names = sorted(f.name for f in files)
    assert names == sorted(f"report_tiny_run{run_id}_{lang}.{fmt}"
                           for lang in ("zh", "en") for fmt in ("html", "pdf", "md"))
    stocks = dict(conn.execute(
        "select epoch_label, round(sum(carbon_t)) from marts.carbon_stocks "
        "where run_id = %s and zone_set = 'region' group by 1", (run_id,)).fetchall())
    sink = conn.execute("select sum(sink_co2e_t_per_yr) from marts.carbon_stock_changes "
                        "where run_id = %s and zone_set = 'region'", (run_id,)).fetchone()[0]
    zone = conn.execute("select assessed_ha, protection_ha, general_ha from marts.zone_scores "
                        "where run_id = %s and zone_set = 'region'", (run_id,)).fetchone()
    sha = conn.execute("select left(source_sha256, 16) from raster.catalog "
                       "where layer = 'factor_erosion'").fetchone()[0]
    # by hand: 2000 = 4096 px x 0.09 ha x 150 t C/ha; by 2010 half is grassland: biomass 10 at
    # once, soil 50 -> 80 t C/ha over the IPCC 20 years, 10 of them done: 10 + 65 = 75 t C/ha
    assert stocks == {"2000": 55296, "2010": round(4096 * 0.09 * (150 + 10 + 50 + 30 * 10 / 20)
                                                  / 2)}
    for lang in ("en", "zh"):
        pdf = pdf_text(next(f for f in files if f.name.endswith(f"_{lang}.pdf")))
        html = next(f for f in files if f.name.endswith(f"_{lang}.html")).read_text()
        flat = re.sub(r"\s+", " ", pdf)
        for text in (flat, html):
            assert f"{stocks['2000']:,.0f}" in text and f"{stocks['2010']:,.0f}" in text
            assert f"{abs(sink):,.0f}" in text
            assert f"{zone[0]:,.0f}" in text
            assert sha in text
        if lang == "zh":
            assert "生态修复区域识别与固碳增汇效益评估报告" in flat and "碳储量" in flat
            assert "年均碳排放" in flat  # forest to grassland: a source
        else:
            assert "net source of" in flat
    md = next(f for f in files if f.name.endswith("_en.md")).read_text()
    for png in re.findall(r"\((figures/[^)]+\.png)\)", md):
        # a land-cover map of one class (2000: all forest) is a small PNG
        least = 3_000 if "landcover" in png else 10_000
        assert (files[0].parent / png).stat().st_size > least
    assert len(re.findall(r"\(figures/", md)) >= 6  # grades, grade areas, stocks, change map
    assert "Land cover 2000" in md and "Land cover 2010" in md  # land-cover maps, first and last


def test_exports_match_the_marts(reported) -> None:
    import pyogrio

    conn, run_id, _, exports = reported
    by_name = {f.name: f for f in exports}
    gpkg = by_name[f"tiny_run{run_id}.gpkg"]
    layers = dict(pyogrio.list_layers(gpkg))
    assert layers["zone_scores"] == "MultiPolygon"
    from pyogrio.raw import read

    meta, _, geoms, fields = read(gpkg, layer="zone_scores")
    assert len(geoms) == conn.execute("select count(*) from marts.zone_scores "
                                      "where run_id = %s", (run_id,)).fetchone()[0]
    assert meta["crs"] == "EPSG:4326" and "assessed_ha" in list(meta["fields"])
    with rasterio.open(by_name[f"tiny_run{run_id}_priority_grade.tif"]) as src:
        grade = src.read(1)
    counts = dict(conn.execute(
        "select x.v1, sum(x.pixels) from marts.priority_tiles t, "
        "raster.crosstab(null, t.rast, null) x where t.run_id = %s group by 1",
        (run_id,)).fetchall())
    assert {int(g): int((grade == g).sum()) for g in np.unique(grade) if g} == counts
    with rasterio.open(by_name[f"tiny_run{run_id}_carbon_density_change.tif"]) as src:
        change = src.read(1, masked=True)
    # forest (150 t C/ha) to grassland (90) on the east half: -60 t C/ha there, 0 elsewhere
    assert sorted(np.unique(change.compressed()).tolist()) == [-60.0, 0.0]
    import pandas as pd

    csv = pd.read_csv(by_name[f"tiny_run{run_id}_carbon_stocks.csv"])
    assert csv.loc[csv.zone_set == "region", "carbon_t"].sum() == pytest.approx(
        float(conn.execute("select sum(carbon_t) from marts.carbon_stocks where run_id = %s "
                           "and zone_set = 'region'", (run_id,)).fetchone()[0]))
    xl = pd.read_excel(by_name[f"tiny_run{run_id}.xlsx"], sheet_name=None, header=None)
    assert {"README", "zone_scores", "carbon_stocks"} <= set(xl)
    # no projects here: no project sheet, the README names the table as empty
    assert "project_benefits" not in xl
    assert xl["README"].astype(str).apply(
        lambda col: col.str.contains("project_benefits")).any().any()


def test_report_and_export_read_only_a_succeeded_run_of_their_region(
        conn: psycopg.Connection, tmp_path: Path) -> None:
    """Both read their run through read_run: the latest succeeded run by default; another
    region's run, a failed or unknown run, an unknown region, format or language are one-line
    ResultErrors raised before any file or folder is made."""
    from ecorest.errors import ResultError
    from ecorest.etl.regions import create_region
    from ecorest.report.data import read_run
    from helpers import footprint

    grid = write_raster(tmp_path / "grid.tif", np.zeros((8, 8), np.uint8))
    for name in ("north", "south", "east"):
        create_region(conn, name, footprint(tmp_path, grid), align_to=str(grid),
                      allow_non_equal_area=True)
    runs = {}
    for region, status in [("north", "succeeded"), ("north", "failed"), ("south", "succeeded"),
                           ("south", "running"), ("east", "failed")]:
        runs[region, status] = conn.execute(
            "insert into etl.assessment_runs (region_id, status, code_version) select region_id, "
            "%s, 'test' from registry.regions where name = %s returning run_id",
            (status, region)).fetchone()[0]
    conn.commit()
    assert read_run(conn, "north")["run_id"] == runs["north", "succeeded"]
    assert read_run(conn, "south")["run_id"] == runs["south", "succeeded"]
    got = read_run(conn, "north", runs["north", "succeeded"])
    assert (got["region"], got["status"]) == ("north", "succeeded")
    south = runs["south", "succeeded"]
    bad = [
        ("north", south, f"run {south} is a run of region 'south', not of 'north'"),
        ("north", runs["north", "failed"], "has status failed"),
        ("south", runs["south", "running"], "has status running"),
        ("north", 999_999, "run 999999 does not exist"),
        ("nowhere", None, "region 'nowhere' does not exist"),
        ("east", None, "region 'east' has no succeeded assessment run"),
    ]
    out = tmp_path / "out"
    for region, run_id, message in bad:
        for make in (read_run,
                     lambda c, r, i: make_report(c, r, out / "report", run_id=i),
                     lambda c, r, i: export_run(c, r, out / "export", run_id=i)):
            with pytest.raises(ResultError, match=re.escape(message)) as err:
                make(conn, region, run_id)
            assert "\n" not in str(err.value)
    for call, message in [
        (lambda: make_report(conn, "north", out, formats=("html", "docx")),
         "unknown report format 'docx': use html, pdf, md"),
        (lambda: make_report(conn, "north", out, langs=("fr",)),
         "unknown report language 'fr': use zh, en"),
        (lambda: export_run(conn, "north", out, formats=("shp",)),
         "unknown export format 'shp': use gpkg, tif, csv, xlsx"),
    ]:
        with pytest.raises(ResultError, match=re.escape(message)):
            call()
    assert not out.exists()
