"""QGIS opens the results without help: every bi view has a unique, non-null first column (the
key QGIS's Browser takes for a view), raster layers are published per layer and epoch with
raster constraints, overviews and physical values, and the project (.qgz) holds styled layers
whose sources exist. Where PyQGIS is installed (Debian's python3-qgis) the project and every
bi view are also opened by QGIS itself, headless."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from psycopg import sql
from test_exports import exported  # noqa: F401 - the fixture

from ecorest.etl.rasters import load_raster
from ecorest.report.qgis import publish
from helpers import write_raster


def bi_views(conn) -> list[tuple[str, str]]:
    """Every bi view with its first column, as QGIS's Browser lists them."""
    return conn.execute(
        "select c.relname, a.attname from pg_class c join pg_attribute a "
        "on a.attrelid = c.oid and a.attnum = 1 "
        "where c.relnamespace = 'bi'::regnamespace and c.relkind = 'v' order by 1").fetchall()


def test_every_bi_view_has_a_unique_not_null_first_column(exported) -> None:  # noqa: F811
    conn, run_id, _, _ = exported
    views = bi_views(conn)
    assert len(views) >= 33
    non_empty = set()
    for view, first in views:
        # what QGIS checks before it accepts a view's key (checkPrimaryKeyUnicity)
        n, distinct, not_null = conn.execute(sql.SQL(
            "select count(*), count(distinct {c}), count({c}) from {v}").format(
            c=sql.Identifier(first), v=sql.Identifier("bi", view))).fetchone()
        assert n == distinct == not_null, (view, first, n, distinct, not_null)
        if view != "runs":
            assert first == "row_key", view
        if n:
            non_empty.add(view)
    assert {"zone_scores", "restoration_patches", "projects", "carbon_stocks",
            "carbon_stock_changes", "landcover_transitions", "project_benefits",
            "parameter_lineage", "runs", "factor_summaries"} <= non_empty
    # geometry views are typed for QGIS: MultiPolygon in EPSG:4326
    geoms = conn.execute("select f_table_name, type, srid from geometry_columns "
                         "where f_table_schema = 'bi' order by 1").fetchall()
    assert ("projects", "MULTIPOLYGON", 4326) in geoms
    # the keys are the marts' keys: one bi row per mart row
    assert conn.execute("select count(*) from bi.carbon_stocks").fetchone() == conn.execute(
        "select count(*) from marts.carbon_stocks where run_id = %s", (run_id,)).fetchone()
    assert conn.execute("select array_agg(row_key order by row_key) from bi.zone_scores"
                        ).fetchone()[0] == conn.execute(
        "select array_agg(zone_score_id order by 1) from marts.zone_scores where run_id = %s",
        (run_id,)).fetchone()[0]


def test_bi_types_suit_bi_tools(exported) -> None:  # noqa: F811
    """Epochs also as integer years and dates; floats without binary noise; nothing renamed."""
    conn, run_id, _, _ = exported
    types = dict(conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'bi' and table_name = 'carbon_stock_changes'").fetchall())
    assert types["epoch_t1"] == "text" and types["epoch_t1_year"] == "integer"
    assert types["epoch_t1_date"] == "date" and types["epoch_t2_year"] == "integer"
    rows = conn.execute("select epoch_t1, epoch_t1_year, epoch_t1_date::text, epoch_t2_year "
                        "from bi.carbon_stock_changes").fetchall()
    assert set(rows) == {("2000", 2000, "2000-07-01", 2010)}
    # every mart column is still there under its name, in the mart's order, after the key
    mart = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'carbon_stocks' order by ordinal_position")]
    view = [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'bi' "
        "and table_name = 'carbon_stocks' order by ordinal_position")]
    assert view[0] == "row_key" and [c for c in view if c in mart] == mart
    # floats: at most 10 significant digits, equal to the mart's within that precision
    pairs = conn.execute(
        "select b.carbon_t, m.carbon_t, b.carbon_t::text from bi.carbon_stocks b "
        "join marts.carbon_stocks m on m.run_id = b.run_id and m.zone_set = b.zone_set "
        "and m.zone_code = b.zone_code and m.epoch_label = b.epoch_label "
        "and m.class_code = b.class_code and m.pool = b.pool").fetchall()
    assert pairs
    for shown, exact, text in pairs:
        assert shown == pytest.approx(exact, rel=1e-9, abs=0)
        assert len(text.lstrip("-").replace(".", "").lstrip("0")) <= 10, text


def test_rasters_are_published_with_constraints_overviews_and_physical_values(
        exported, tmp_path: Path) -> None:  # noqa: F811
    conn, run_id, _, _ = exported
    # NDVI loaded as int16 with scale 0.0001 after the run: published as NDVI
    ndvi = np.full((64, 64), 5000, np.int16)
    ndvi[:8, :8] = -3000
    load_raster(conn, "tiny", "ndvi", write_raster(tmp_path / "ndvi.tif", ndvi, nodata=-32768),
                epoch="2010", scale=1e-4, show_progress=False)
    layers = {x.table_name: x for x in publish(conn, "tiny", run_id)}
    conn.commit()
    published = dict(conn.execute("select table_name, layer from maps.layers").fetchall())
    assert published == {
        "tiny_priority_grade": "priority_grade", "tiny_composite_score": "composite_score",
        "tiny_carbon_density_2000": "carbon_density", "tiny_carbon_density_2010":
            "carbon_density", "tiny_carbon_density_change": "carbon_density_change",
        "tiny_landcover_2000": "landcover", "tiny_landcover_2010": "landcover",
        "tiny_factor_erosion_2010": "factor_erosion", "tiny_ndvi_2010": "ndvi"}
    assert set(layers) == set(published)
    reg = conn.execute("select srid, origin_x, origin_y, pixel_size_m from registry.regions "
                       "where name = 'tiny'").fetchone()
    for table in published:
        srid, scale_x, extent, nodata = conn.execute(
            "select srid, scale_x, st_astext(extent), nodata_values from raster_columns "
            "where r_table_schema = 'maps' and r_table_name = %s", (table,)).fetchone()
        assert (srid, scale_x) == (reg[0], reg[3]) and extent.startswith("POLYGON")
        assert nodata is not None
        xmin, ymax = conn.execute(sql.SQL(
            "select min(st_upperleftx(rast)), max(st_upperlefty(rast)) from {}").format(
            sql.Identifier("maps", table))).fetchone()
        assert (xmin, ymax) == (reg[1], reg[2])
        overviews = conn.execute(
            "select overview_factor from raster_overviews where r_table_schema = 'maps' "
            "and r_table_name = %s order by 1", (table,)).fetchall()
        assert overviews == [(2,), (4,)], table
        comment = conn.execute("select obj_description(%s::regclass, 'pg_class')",
                               (f"maps.{table}",)).fetchone()[0]
        assert "tiny" in comment and "source" in comment
        for role in ("ecorest_analyst", "ecorest_bi"):
            assert conn.execute("select has_table_privilege(%s, %s, 'select')",
                                (role, f"maps.{table}")).fetchone() == (True,)

    size = conn.execute("select height_px, width_px from registry.regions "
                        "where name = 'tiny'").fetchone()
    r0, c0 = round((reg[2] - 4_950_000) / 30), round((450_000 - reg[1]) / 30)

    def values(table: str, whole: bool = False) -> np.ndarray:
        a = np.array(conn.execute(sql.SQL(
            "select (st_dumpvalues(st_union(rast), 1)) from {}").format(
            sql.Identifier("maps", table))).fetchone()[0], dtype=float)
        if whole:
            return a
        assert a.shape == size  # the region's grid, every tile present
        return a[r0:r0 + 64, c0:c0 + 64]  # the 64 x 64 px test rasters

    nd = values("tiny_ndvi_2010")
    assert nd[20, 20] == pytest.approx(0.5) and nd[0, 0] == pytest.approx(-0.3)
    lc = values("tiny_landcover_2010")
    assert (lc[:, :32] == 1).all() and (lc[:, 32:] == 2).all()
    change = values("tiny_carbon_density_change")
    assert (change[:, 32:] == -60).all() and (change[:, :32] == 0).all()
    grade = values("tiny_priority_grade", whole=True)
    counts = dict(conn.execute(
        "select x.v1, sum(x.pixels) from marts.priority_tiles t, "
        "raster.crosstab(null, t.rast, null) x where t.run_id = %s group by 1",
        (run_id,)).fetchall())
    assert {int(g): int((grade == g).sum()) for g in np.unique(grade[np.isfinite(grade)])} \
        == counts
    # the 1/2 overview of the grades: every second pixel
    o2 = values("o_2_tiny_priority_grade", whole=True)
    half = grade[::2, ::2]
    assert np.array_equal(o2[:half.shape[0], :half.shape[1]], half, equal_nan=True)
    # published again: the same tables, no leftovers
    publish(conn, "tiny", run_id)
    conn.commit()
    assert dict(conn.execute("select table_name, layer from maps.layers").fetchall()) == \
        published
    tables = {r[0] for r in conn.execute("select tablename from pg_tables "
                                         "where schemaname = 'maps'")}
    assert tables == {"layers"} | set(published) | {f"o_{f}_{t}" for t in published
                                                     for f in (2, 4)}


def _project(path: Path) -> ET.Element:
    with zipfile.ZipFile(path) as z:
        (name,) = z.namelist()
        assert name.endswith(".qgs")
        return ET.fromstring(z.read(name).decode("utf-8").split("\n", 1)[1])


def test_project_layers_are_styled_and_their_sources_exist(exported) -> None:  # noqa: F811
    conn, run_id, files, db_url = exported
    qgz = files[f"tiny_run{run_id}.qgz"]
    root = _project(qgz)
    layers = root.findall("projectlayers/maplayer")
    published = {r[0] for r in conn.execute("select table_name from maps.layers")}
    sources = {}
    for m in layers:
        source = m.findtext("datasource")
        provider = m.findtext("provider")
        assert "password" not in source
        assert m.find("srs/spatialrefsys/wkt").text.startswith(("PROJCRS", "GEOGCRS"))
        schema, table = source.split('table="')[1].split(" ")[0].replace('"', "").split(".")
        sources[table] = (schema, provider, m)
        assert conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0]
        if provider == "postgres":
            assert schema == "bi" and "key='row_key'" in source and "(geom)" in source
            assert "sql=\"region_name\" = 'tiny'" in source
        else:
            assert provider == "postgresraster" and schema == "maps" and "(rast)" in source
    assert {"restoration_patches", "zone_scores", "projects"} | published == set(sources)
    # the grade palette with class names, on the raster and on the patches
    entries = sources["tiny_priority_grade"][2].findall(".//colorPalette/paletteEntry")
    assert [(e.get("value"), e.get("color")) for e in entries] == [
        ("1", "#b2182b"), ("2", "#ef8a62"), ("3", "#fddbc7"), ("4", "#67a9cf"),
        ("5", "#e0e0e0")]
    assert entries[0].get("label") == "1 priority restoration 优先修复区"
    cats = sources["restoration_patches"][2].findall(".//categories/category")
    assert [c.get("value") for c in cats] == ["1", "2", "3", "4", "5"]
    ramp = sources["tiny_carbon_density_2010"][2].find(".//colorrampshader")
    assert float(ramp.get("maximumValue")) == pytest.approx(150.0)  # forest, t C/ha
    lc = sources["tiny_landcover_2010"][2].findall(".//paletteEntry")
    assert [e.get("label") for e in lc] == ["1 forest 森林", "2 grassland 草地"]
    # the project canvas is the region's grid extent in its CRS
    ext = root.find("mapcanvas/extent")
    reg = conn.execute("select origin_x, origin_y from registry.regions where name = 'tiny'"
                       ).fetchone()
    assert (float(ext.findtext("xmin")), float(ext.findtext("ymax"))) == reg


QGIS_PYTHON = "/usr/bin/python3"
QGIS_SCRIPT = r"""
import json, sys
from qgis.core import QgsApplication, QgsDataSourceUri, QgsProject, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
args = json.loads(sys.argv[1])
out = {"views": {}, "project": {}}
for view, first, geom in args["views"]:
    uri = QgsDataSourceUri()
    uri.setConnection(args["host"], str(args["port"]), args["dbname"], args["user"], "")
    uri.setDataSource("bi", view, geom, "", first)   # the Browser: a view's first column as key
    layer = QgsVectorLayer(uri.uri(False), view, "postgres")
    out["views"][view] = [layer.isValid(), layer.featureCount() if layer.isValid() else -1]
    print("VIEW", view, out["views"][view], flush=True)
project = QgsProject.instance()
out["read"] = project.read(args["qgz"], QgsProject.ReadFlags(QgsProject.FlagDontResolveLayers))
out["crs"] = [project.crs().isValid(), project.crs().authid()]
out["tree"] = [t.name() for t in project.layerTreeRoot().findLayers()]
for source, name in args["vectors"]:  # the project's vector layers, from their sources
    layer = QgsVectorLayer(source, name, "postgres")
    out["project"][name] = [layer.isValid(), layer.crs().authid(),
                            layer.featureCount() if layer.isValid() else -1]
print("RESULT" + json.dumps(out), flush=True)
"""


def test_qgis_opens_the_views_and_the_project(exported, tmp_path: Path) -> None:  # noqa: F811
    """QGIS itself, headless (skipped where PyQGIS is not installed): every bi view opened as
    the Browser opens it; the project read (its layer tree and CRS) and its vector layers
    opened from their sources. Layers are not resolved inside the project and the rasters are
    checked above (SQL and XML) only: QGIS 3.22 headless crashes here when it resolves a
    project's PostGIS layers, and its PostGIS raster readers (the postgresraster provider and
    GDAL's PostGISRaster driver) crash even on a plain copy of a raster table."""
    if not shutil.which(QGIS_PYTHON) or subprocess.run(
            [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode != 0:
        pytest.skip("PyQGIS is not installed (Debian: apt-get install python3-qgis)")
    conn, run_id, files, db_url = exported
    info = conn.info
    views = [(v, first, conn.execute(
        "select f_geometry_column from geometry_columns where f_table_schema = 'bi' "
        "and f_table_name = %s", (v,)).fetchone()) for v, first in bi_views(conn)]
    root = _project(files[f"tiny_run{run_id}.qgz"])
    vectors = [(m.findtext("datasource"), m.findtext("layername"))
               for m in root.findall("projectlayers/maplayer")
               if m.findtext("provider") == "postgres"]
    args = {"host": info.host, "port": info.port, "dbname": info.dbname, "user": info.user,
            "views": [(v, f, g[0] if g else None) for v, f, g in views],
            "qgz": str(files[f"tiny_run{run_id}.qgz"]), "vectors": vectors}
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PGPASSWORD": info.password or "",
           "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run([QGIS_PYTHON, "-c", QGIS_SCRIPT, json.dumps(args)], env=env,
                          capture_output=True, text=True, timeout=300)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    assert line, (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    got = json.loads(line[len("RESULT"):])
    for view, _, _ in views:
        count = conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier("bi", view))).fetchone()[0]
        assert got["views"][view] == [True, count], view
    assert got["read"] is True
    assert got["crs"] == [True, "EPSG:26910"]  # the region's grid CRS
    layers = conn.execute("select count(*) from maps.layers").fetchone()[0]
    assert len(got["tree"]) == 3 + layers
    assert "修复图斑 Restoration patches" in got["tree"]
    assert len(got["project"]) == 3
    for name, (valid, authid, count) in got["project"].items():
        assert valid and authid == "EPSG:4326", name
        view = {"修复图斑": "restoration_patches", "分区修复需求": "zone_scores",
                "修复项目": "projects"}[name.split(" ")[0]]
        assert count == conn.execute(sql.SQL(
            "select count(*) from {} where region_name = 'tiny'").format(
            sql.Identifier("bi", view))).fetchone()[0] > 0
