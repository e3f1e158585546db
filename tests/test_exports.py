"""The exports as a GIS analyst opens them: Cloud-Optimised GeoTIFFs cropped to the region with
their colour table, class names, units and provenance; a GeoPackage with typed columns, NULLs
and layer descriptions; an Excel workbook with bilingual frozen headers, number formats and a
README. Checked with GDAL (rasterio's, and the system's gdalinfo where installed), SQLite's own
view of the GeoPackage and openpyxl; the numbers against the marts and hand counts."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from test_carbon import tiny_region

from ecorest.etl.rasters import load_raster
from ecorest.report.export import export_run, headers
from ecorest.run import run_assessment
from helpers import square_project, write_raster


def export_region(conn: psycopg.Connection, db_url: str, tmp: Path):
    """Region 'tiny' (64 x 64 px at 30 m: forest turning half to grassland), an erosion factor
    on its southern half, one project started 2001-01-01; one run, exported: (run id, files by
    name)."""
    t2 = np.full((64, 64), 1)
    t2[:, 32:] = 2
    tiny_region(conn, tmp, {"2000": np.full((64, 64), 1), "2010": t2},
                "class_code,name_en,name_zh,ipcc_category\n1,forest,森林,forest_land\n"
                "2,grassland,草地,grassland\n",
                "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,50,0\n2,10,0,80,0\n")
    erosion = np.zeros((64, 64), np.float32)
    erosion[32:, :] = 10
    load_raster(conn, "tiny", "factor_erosion",
                write_raster(tmp / "erosion.tif", erosion, nodata=-9999),
                epoch="2010", show_progress=False)
    (tmp / "w.csv").write_text("parameter,stratum,value,unit\n"
                               "degradation_weight,factor_erosion,1,1\n")
    from ecorest.etl.params import load_params
    from ecorest.etl.vector_loads import load_projects

    load_params(conn, tmp / "w.csv", name="w", kind="weights", source_text="test")
    load_projects(conn, "tiny", square_project(tmp, "2001-01-01"))
    run_id = run_assessment(conn, db_url, "tiny", work_dir=tmp / "dbt")
    files = export_run(conn, "tiny", tmp / "out")
    return run_id, {f.name: f for f in files}


@pytest.fixture
def exported(prebuilt):
    """export_region (built once per test run, its files shared), in a database of the test's
    own: (connection, run id, files by name, database URL)."""
    with prebuilt("exported", export_region) as (url, (run_id, files)), \
            psycopg.connect(url) as conn:
        yield conn, run_id, files, url


def test_geotiffs_are_cogs_cropped_to_the_region_with_colours_and_provenance(exported) -> None:
    conn, run_id, files, _ = exported
    grade_tif = files[f"tiny_run{run_id}_priority_grade.tif"]
    reg = conn.execute("select width_px, height_px, origin_x, origin_y, pixel_size_m "
                       "from registry.regions where name = 'tiny'").fetchone()
    code_version = conn.execute("select code_version from etl.assessment_runs "
                                "where run_id = %s", (run_id,)).fetchone()[0]
    # the 64 x 64 px rasters lie inside the region's grid (its footprint's bounding box)
    r0, c0 = round((reg[3] - 4_950_000) / 30), round((450_000 - reg[2]) / 30)
    assert r0 >= 0 and c0 >= 0 and reg[0] >= c0 + 64 and reg[1] >= r0 + 64
    tifs = [f for n, f in files.items() if n.endswith(".tif")]
    assert len(tifs) == 5  # grade, score, density 2000 and 2010, change
    for tif in tifs:
        with rasterio.open(tif) as src:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert src.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
            assert src.profile["tiled"] and src.block_shapes == [(256, 256)]
            assert (src.width, src.height) == reg[:2]  # the region, not a 256 px tile
            assert src.transform.c == reg[2] and src.transform.f == reg[3]
            assert src.res == (reg[4], reg[4])
            n = next(k for k in range(12) if max(reg[:2]) / 2 ** k <= 32)
            assert src.overviews(1) == [2 ** k for k in range(1, n + 1)]  # down to 32 px
            assert n >= 1
            assert src.nodata is not None and src.descriptions[0]
            assert src.units[0] in ("grade", "1", "t C/ha")
            tags = src.tags()
            assert tags["ECOREST_RUN_ID"] == str(run_id) and tags["ECOREST_REGION"] == "tiny"
            assert tags["ECOREST_CODE_VERSION"] == code_version
            assert tags["ECOREST_SOURCE"]
    with rasterio.open(grade_tif) as src:
        grade = src.read(1)
        colours = src.colormap(1)
        classes = src.tags(1)
        assert src.units[0] == "grade" and src.nodata == 0
    assert colours[1] == (0xb2, 0x18, 0x2b, 255) and colours[5] == (0xe0, 0xe0, 0xe0, 255)
    assert classes["CLASS_1"] == "priority restoration 优先修复区"
    aux = (grade_tif.parent / (grade_tif.name + ".aux.xml")).read_text()
    assert "<Category>protection 保护区</Category>" in aux
    # every pixel of the region graded, the counts those of the grade tiles
    counts = dict(conn.execute(
        "select x.v1, sum(x.pixels) from marts.priority_tiles t, "
        "raster.crosstab(null, t.rast, null) x where t.run_id = %s group by 1",
        (run_id,)).fetchall())
    assert {int(g): int((grade == g).sum()) for g in np.unique(grade) if g} == counts
    assert sum(counts.values()) == 64 * 64 == int((grade[r0:r0 + 64, c0:c0 + 64] > 0).sum())
    with rasterio.open(files[f"tiny_run{run_id}_carbon_density_change.tif"]) as src:
        change = src.read(1, masked=True)
        assert src.units[0] == "t C/ha" and src.tags()["ECOREST_EPOCH"] == "2000-2010"
    # forest (150 t C/ha) to grassland (90) on the east half: -60 t C/ha there, 0 elsewhere
    assert change.count() == 64 * 64
    inside = change[r0:r0 + 64, c0:c0 + 64]
    assert (inside[:, 32:] == -60).all() and (inside[:, :32] == 0).all()
    gdalinfo = shutil.which("gdalinfo")
    if gdalinfo:  # the system's GDAL reads the class names and the colour table as well
        info = json.loads(subprocess.run([gdalinfo, "-json", str(grade_tif)], check=True,
                                         capture_output=True, text=True).stdout)
        band = info["bands"][0]
        assert band["categories"][1] == "priority restoration 优先修复区"
        assert band["colorTable"]["entries"][1][:3] == [0xb2, 0x18, 0x2b]
        assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"


def test_geopackage_keeps_types_nulls_and_layer_descriptions(exported) -> None:
    conn, run_id, files, _ = exported
    gpkg = files[f"tiny_run{run_id}.gpkg"]
    db = sqlite3.connect(gpkg)
    contents = dict(db.execute("select table_name, description from gpkg_contents"))
    assert set(contents) == {"restoration_patches", "zone_scores", "projects"}
    assert all(len(d) > 20 for d in contents.values())

    def types(layer: str) -> dict[str, str]:
        return {r[1]: r[2] for r in db.execute(f"pragma table_info({layer})")}

    patches, zones, projects = (types(n) for n in ("restoration_patches", "zone_scores",
                                                   "projects"))
    assert patches["patch_id"] in ("INTEGER", "BIGINT") and patches["grade"] in ("INTEGER",
                                                                                "BIGINT")
    assert patches["area_ha"] in ("REAL", "DOUBLE") and patches["admin_codes"] == "TEXT"
    assert zones["zone_score_id"] in ("INTEGER", "BIGINT")
    assert projects["start_date"] == "DATE" and projects["is_example"] == "BOOLEAN"
    # no admin units are loaded: admin_codes is NULL, not false or ''
    n_patches = conn.execute("select count(*) from marts.restoration_patches where run_id = %s",
                             (run_id,)).fetchone()[0]
    assert n_patches >= 1
    assert db.execute("select count(*), count(admin_codes) from restoration_patches"
                      ).fetchone() == (n_patches, 0)
    assert db.execute("select project_id, start_date from projects").fetchall() == [
        ("P1", "2001-01-01")]
    ids = [r[0] for r in db.execute("select patch_id from restoration_patches order by 1")]
    assert ids == [r[0] for r in conn.execute(
        "select patch_id from marts.restoration_patches where run_id = %s order by 1",
        (run_id,))]
    meta = db.execute("select metadata from gpkg_metadata").fetchall()
    assert any("ECOREST_RUN_ID" in m[0] and str(run_id) in m[0] for m in meta)
    db.close()


def test_excel_has_a_readme_bilingual_frozen_headers_and_number_formats(exported) -> None:
    from openpyxl import load_workbook

    conn, run_id, files, _ = exported
    wb = load_workbook(files[f"tiny_run{run_id}.xlsx"])
    assert wb.sheetnames[0] == "README"
    readme = [[c.value for c in r] for r in wb["README"].iter_rows()]
    assert ["ECOREST_RUN_ID", str(run_id)] == readme[[r[0] for r in readme].index(
        "ECOREST_RUN_ID")][:2]
    ws = wb["carbon_stocks"]
    assert ws.freeze_panes == "A4"
    row1, row2, row3 = ([c.value for c in ws[i]] for i in (1, 2, 3))
    k = row3.index("carbon_t")
    assert (row1[k], row2[k]) == headers("carbon_t") == ("碳（吨）", "Carbon (t)")
    assert row2[row3.index("area_ha")] == "Area (ha)"
    col = ws.cell(row=4, column=k + 1)
    assert col.number_format == "#,##0.0" and isinstance(col.value, (int, float))
    total = sum(ws.cell(row=r, column=k + 1).value for r in range(4, ws.max_row + 1)
                if ws.cell(row=r, column=row3.index("zone_set") + 1).value == "region")
    assert total == pytest.approx(float(conn.execute(
        "select sum(carbon_t) from marts.carbon_stocks where run_id = %s "
        "and zone_set = 'region'", (run_id,)).fetchone()[0]))
    # tables without rows in this run get no sheet; the README names them
    assert "plot_validation" not in wb.sheetnames
    assert any(r[0] and str(r[0]).startswith("本次运行无数据的表") and "plot_validation" in r[1]
               for r in readme)
    # every sheet's columns are described in the README
    described = {(r[0], r[1]) for r in readme if r[1]}
    for name in wb.sheetnames[1:]:
        for c in wb[name][3]:
            assert (name, c.value) in described
