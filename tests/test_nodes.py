"""Scale-out: a coordinator and two data nodes (local clusters on 127.0.0.1) give the marts of one
server; tiles live on the nodes only; a node down during a load or killed during a run publishes
nothing, and the next load and run after it is back succeed; rebalancing and draining a node
move tiles as one operation (a node down or failing: nothing changed); a session keeps its node
connections open between calls."""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner
from conftest import _janitor, url_for
from psycopg import sql

from ecorest import demo
from ecorest.cli import cli
from ecorest.errors import EcorestError
from ecorest.etl import nodes as nodemod
from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.etl.vector_loads import load_projects, load_zones
from ecorest.run import run_assessment
from ecorest.store.cluster import EmbeddedCluster
from ecorest.store.nodes import local_node_homes, start_local_nodes
from helpers import DERIVED, ROOT, SAMPLE, footprint, write_raster

HOME = Path(os.environ.get("ECOREST_TEST_HOME", ROOT / ".ecorest-test")).resolve()
# one worker runs every test here: the node clusters live in one place under the test home,
# and a second worker starting them again would set other passwords under the first's feet
pytestmark = pytest.mark.xdist_group("nodes")
LEGEND = ("class_code,name_en,ipcc_category\n1,forest,forest_land\n2,grassland,grassland\n"
          "3,cropland,cropland\n")
POOLS = "lucode,C_above,C_below,C_soil,C_dead\n1,100,20,50,5\n2,10,3,80,0\n3,5,1,60,0\n"


@pytest.fixture(scope="session")
def node_clusters() -> Iterator[list[EmbeddedCluster]]:
    """Two data-node clusters on 127.0.0.1 beside the test server (started once)."""
    clusters = [EmbeddedCluster(h) for h in local_node_homes(HOME, 2)]
    was_running = [c.is_running() for c in clusters]
    start_local_nodes(HOME, 2)
    yield clusters
    for cluster, running in zip(clusters, was_running, strict=True):
        if not running:
            cluster.stop()


def _dbname(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]


def new_node_db(cluster: EmbeddedCluster) -> str:
    """A fresh database on a node cluster, counting calls of PL functions (the node kernels)."""
    url = url_for(cluster.url(), f"ecorest_n_{uuid.uuid4().hex[:12]}")
    with psycopg.connect(cluster.url(), autocommit=True) as c:
        c.execute(sql.SQL("create database {}").format(sql.Identifier(_dbname(url))))
        c.execute(sql.SQL("alter database {} set track_functions = 'pl'").format(
            sql.Identifier(_dbname(url))))
    return url


@contextmanager
def coordinator_db(server_url: str, template_db: str, clusters: list[EmbeddedCluster],
                   nodes: int) -> Iterator[tuple[str, list[str]]]:
    """A fresh migrated database with a fresh database on each node cluster, the first
    ``nodes`` of them registered as n1, n2, ...; yields its URL and the node databases' URLs."""
    name = f"ecorest_c_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(server_url, name, template_dbname=template_db)
    janitor.init()
    node_urls = [new_node_db(c) for c in clusters]
    url = url_for(server_url, name)
    try:
        for k, node_url in enumerate(node_urls[:nodes], start=1):
            nodemod.add_node(url, f"n{k}", node_url)
        yield url, node_urls
    finally:
        janitor.drop()
        for cluster, node_url in zip(clusters, node_urls, strict=True):
            if not cluster.is_running():
                cluster.start()
            with psycopg.connect(cluster.url(), autocommit=True) as c:
                c.execute(sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(_dbname(node_url))))


@pytest.fixture
def coordinator(node_clusters, server_url: str, template_db: str) -> Iterator[tuple[str, list]]:
    """A fresh coordinator with two fresh node databases registered as n1, n2."""
    with coordinator_db(server_url, template_db, node_clusters, 2) as c:
        yield c


@pytest.fixture(scope="module")
def built(node_clusters, server_url: str, template_db: str, tmp_path_factory):
    """One server and a coordinator with two nodes, the same region (two land-cover epochs,
    a zone set) loaded on both and assessed once on each: (one server's URL, the coordinator's,
    the node databases')."""
    tmp = tmp_path_factory.mktemp("nodes")
    name = f"ecorest_t_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(server_url, name, template_dbname=template_db)
    janitor.init()
    one_url = url_for(server_url, name)
    try:
        with coordinator_db(server_url, template_db, node_clusters, 2) as (coord_url, nodes):
            for url, sub in ((one_url, "one"), (coord_url, "coord")):
                build_region(url, tmp / sub, zones=True, ndvi=True, projects=True)
                with psycopg.connect(url) as c:
                    run_assessment(c, url, "small", work_dir=tmp / sub / "dbt",
                                   dbt_vars=RUN_VARS)
            # the run counted the land-cover trajectories on the nodes (the region and the zone
            # set, each node once per call), the NDVI trend and its zone statistics, the slope
            calls = {fn: [node_calls(u, fn, n) for u in nodes]
                     for fn, n in (("node_trajectories", 2), ("node_ndvi_trend", 1),
                                   ("node_zone_stats", 2), ("node_slope", 1),
                                   ("node_derive", 10), ("node_signal_sums", 1),
                                   ("node_shape_trajectories", 1),
                                   ("node_benefit_pixels", 1))}
            yield one_url, coord_url, nodes, calls
    finally:
        janitor.drop()


def land_cover() -> dict[str, np.ndarray]:
    """96 x 80 px, 16-px tiles: forest cut to cropland in a band that crosses tile (and so
    node) borders, grassland turning to cropland in a blob, a random speckle."""
    rng = np.random.default_rng(7)
    a = np.ones((80, 96), dtype=np.uint8)
    a[:, 60:] = 2
    b = a.copy()
    b[10:70, 20:44] = 3                  # cropland band over 4 tile rows and 2 tile columns
    b[30:50, 62:90] = 3                  # grassland -> cropland
    speckle = rng.random(a.shape) < 0.05
    b[speckle] = rng.integers(2, 4, speckle.sum())  # no land enters forest (no growth rates)
    return {"2000": a, "2015": b}


#: two zones on pixel edges of the 96 x 80 px grid (rows, columns); the rest is in no zone
ZONES = {"A": (slice(0, 40), slice(0, 48)), "B": (slice(20, 80), slice(48, 96))}


def write_zones(path: Path, zones: dict = ZONES) -> Path:
    feats = []
    for code, (rows, cols) in zones.items():
        x0, x1 = 450_000.0 + 30 * cols.start, 450_000.0 + 30 * cols.stop
        y0, y1 = 4_950_000.0 - 30 * rows.stop, 4_950_000.0 - 30 * rows.start
        feats.append({"type": "Feature", "properties": {"zone_code": code, "name": code},
                      "geometry": {"type": "Polygon", "coordinates": [
                          [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
        "features": feats}))
    return path


#: two restoration projects on pixel edges (rows, columns, start date): one over the cropland
#: band across tile (and node) borders, one over the browning blob
PROJECTS = {"P1": (slice(12, 44), slice(22, 42), "2005-06-01"),
            "P2": (slice(30, 50), slice(64, 84), "2012-01-01")}


#: the settings of the runs of `built`: belts and rings narrow enough for the small region to
#: keep controls, and a sample of about a quarter of its pixels
#: (cropland left ungraded and quantile grades: the nodes apply the constraint mask and take
#: the scores' histograms too)
RUN_VARS = {"leakage_belt_m": 90, "baseline_ring_m": 150, "control_sample_pixels": 2000,
            "exclude_classes": "3", "grading_method": "quantile"}


def write_projects(path: Path) -> Path:
    feats = []
    for pid, (rows, cols, start) in PROJECTS.items():
        x0, x1 = 450_000.0 + 30 * cols.start, 450_000.0 + 30 * cols.stop
        y0, y1 = 4_950_000.0 - 30 * rows.stop, 4_950_000.0 - 30 * rows.start
        feats.append({"type": "Feature", "properties": {
            "project_id": pid, "name": f"Project {pid}", "project_type": "grassland_restoration",
            "start_date": start}, "geometry": {"type": "Polygon", "coordinates": [
                [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}},
        "features": feats}))
    return path


def ndvi_series() -> dict[str, np.ndarray]:
    """Nine annual NDVI grids (int16, scale 1e-4, nodata -32768) on the land-cover grid: a
    greening band and a browning blob that cross tile (and node) borders over a noisy level,
    bare pixels (below the vegetation threshold) and a few gaps."""
    rng = np.random.default_rng(11)
    rows, cols = np.mgrid[0:80, 0:96]
    out = {}
    for k, year in enumerate(range(2010, 2019)):
        v = 0.5 + 0.02 * rng.standard_normal((80, 96))
        v[10:70, 20:44] += 0.02 * k           # greening
        v[30:50, 62:90] -= 0.03 * k           # browning
        v[(rows < 8) & (cols > 80)] = 0.05    # bare
        a = np.round(v / 1e-4).astype(np.int16)
        a[rng.random(a.shape) < 0.03] = -32768
        out[str(year)] = a
    return out


def dem() -> np.ndarray:
    """A DEM on the land-cover grid (float32, nodata -9999): hills whose slopes cross tile (and
    so node) borders in every direction, and a hole without data."""
    rows, cols = np.mgrid[0:80, 0:96].astype(np.float64)
    z = 200 + 30 * np.sin(cols / 7) + 20 * np.cos(rows / 5) + 1.5 * cols + 0.5 * rows * rows / 10
    z[40:44, 50:53] = -9999
    return z.astype(np.float32)


def build_region(url: str, tmp: Path, zones: bool = False, ndvi: bool = False,
                 projects: bool = False) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    paths = {e: write_raster(tmp / f"lc_{e}.tif", a, nodata=255)
             for e, a in land_cover().items()}
    (tmp / "legend.csv").write_text(LEGEND)
    (tmp / "pools.csv").write_text(POOLS)
    with psycopg.connect(url) as conn:
        first = paths["2000"]
        create_region(conn, "small", footprint(tmp, first), align_to=str(first), tile_size=16,
                      allow_non_equal_area=True)
        load_legend(conn, "small", tmp / "legend.csv")
        for epoch, path in paths.items():
            load_raster(conn, "small", "landcover", path, epoch=epoch, legend="small",
                        show_progress=False)
        load_params(conn, tmp / "pools.csv", name="small", kind="carbon_pools",
                    source_text="test")
        if zones:
            load_zones(conn, "small", write_zones(tmp / "zones.geojson"), zone_set="basin")
        if projects:
            load_projects(conn, "small", write_projects(tmp / "projects.geojson"))
        if ndvi:
            for year, a in ndvi_series().items():
                load_raster(conn, "small", "ndvi", write_raster(tmp / f"ndvi_{year}.tif", a,
                                                                nodata=-32768),
                            epoch=year, scale=1e-4, show_progress=False)
            load_raster(conn, "small", "dem", write_raster(tmp / "dem.tif", dem(), nodata=-9999),
                        epoch="2000", show_progress=False)


#: the land-cover epochs of the region (the regions of `built` have NDVI epochs too)
LANDCOVER_IDS = "select catalog_id from raster.catalog where layer = 'landcover' order by 1"

VOLATILE = ("run_id", "created_at", "updated_at", "finished_at", "started_at", "computed_at",
            "built_at")


def marts(url: str) -> dict[str, tuple]:
    """Per mart table: row count, the sum of every numeric column and the sorted texts of the
    others (geometries as WKT rounded to 1 mm), leaving out run ids and times."""
    out = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1")]
        for table in tables:
            cols = conn.execute(
                "select column_name, data_type, udt_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = %s order by ordinal_position",
                (table,)).fetchall()
            num, txt = [], []
            for name, dtype, udt in cols:
                if name in VOLATILE or "timestamp" in dtype or name.endswith("_run_id"):
                    continue
                if dtype in ("integer", "bigint", "smallint", "numeric", "double precision",
                             "real"):
                    num.append(sql.SQL("sum({})::float8").format(sql.Identifier(name)))
                elif udt == "raster":
                    txt.append(sql.SQL("coalesce(md5({}::text), '')").format(sql.Identifier(name)))
                elif udt == "geometry":
                    txt.append(sql.SQL("coalesce(st_astext(st_snaptogrid({}, 0.001)), '')")
                               .format(sql.Identifier(name)))
                elif dtype not in ("json", "jsonb", "bytea", "USER-DEFINED", "ARRAY"):
                    txt.append(sql.SQL("coalesce({}::text, '')").format(sql.Identifier(name)))
            row = conn.execute(sql.SQL("select count(*), {} from marts.{}").format(
                sql.SQL(", ").join([*num, sql.SQL("0")]), sql.Identifier(table))).fetchone()
            texts = ()
            if txt:
                texts = tuple(sorted(r[0] for r in conn.execute(sql.SQL(
                    "select concat_ws('|', {}) from marts.{}").format(
                    sql.SQL(", ").join(txt), sql.Identifier(table)))))
            out[table] = (row[0], row[1:-1], texts)
    return out


def node_tiles(node_url: str) -> dict[str, int]:
    with psycopg.connect(node_url) as c:
        tables = [r[0] for r in c.execute("select tablename from pg_tables where schemaname = "
                                          "'raster' and tablename ~ '^tiles_[0-9]+'")]
        return {t: c.execute(sql.SQL("select count(*) from raster.{}").format(
            sql.Identifier(t))).fetchone()[0] for t in tables}


def node_sessions(node_url: str, expect: int) -> list[int]:
    """The backends of the writer login (the coordinator's dblink and postgres_fdw sessions) on
    a node database, waiting up to 5 s for ``expect`` of them (ended sessions take a moment to
    go)."""
    deadline = time.monotonic() + 5
    while True:
        with psycopg.connect(node_url) as c:
            pids = [r[0] for r in c.execute(
                "select pid from pg_stat_activity where datname = current_database() and "
                "usename = %s order by pid", (nodemod.WRITER,))]
        if len(pids) == expect or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def node_calls(node_url: str, function: str, expect: int) -> int:
    """Calls of a node kernel on a node database (track_functions), waiting up to 5 s for the
    ended sessions of the coordinator's dblink calls to report ``expect`` of them."""
    deadline = time.monotonic() + 5
    while True:
        with psycopg.connect(node_url) as c:
            row = c.execute("select sum(calls) from pg_stat_user_functions where schemaname = "
                            "'raster' and funcname = %s", (function,)).fetchone()
        n = int(row[0] or 0)
        if n >= expect or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def test_tiles_live_on_the_nodes_and_node_kernels_count_them(built) -> None:
    one_url, coord_url, node_urls, _ = built
    # the tiles live on the nodes, split over both, none on the coordinator
    per_node = [node_tiles(u) for u in node_urls]
    with psycopg.connect(coord_url) as c:
        cids = [r[0] for r in c.execute(LANDCOVER_IDS)]
        assert len(cids) == 2
        totals = []
        for cid in cids:
            kinds = c.execute(
                "select c.relkind::text from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = %s::regclass order by 1", (f"raster.tiles_{cid}",)
            ).fetchall()
            assert kinds == [("f",), ("f",)]  # two foreign tables, no local storage
            total = c.execute("select count(*) from raster.tiles where catalog_id = %s",
                              (cid,)).fetchone()[0]
            on_nodes = [n.get(f"tiles_{cid}", 0) for n in per_node]
            assert all(x > 0 for x in on_nodes) and sum(on_nodes) == total > 20
            totals.append(total)
        assert c.execute("select raster.node_placement(%s)", (cids,)).fetchone()[0] == [
            "ecorest_node_n1", "ecorest_node_n2"]
    with psycopg.connect(one_url) as c:
        assert [r[0] for r in c.execute(
            "select count(*) from raster.tiles join raster.catalog using (catalog_id) "
            "where layer = 'landcover' group by catalog_id order by catalog_id")] == totals
        ids = [r[0] for r in c.execute(LANDCOVER_IDS)]
        assert c.execute("select raster.node_placement(%s)", (ids,)).fetchone()[0] is None
    # the cross-tab and the trajectories computed on each node over its own tiles (only counts
    # travel), on one server by the local kernels: as numpy counts them
    for url in (coord_url, one_url):
        with psycopg.connect(url) as c:
            a, b = [r[0] for r in c.execute(LANDCOVER_IDS)]
            got = {(v1, v2): n for v1, v2, n in c.execute(
                "select * from raster.np_node_crosstab(%s, %s)", (a, b))}
            assert got == numpy_transitions()
            assert trajectories(c, [a, b], None) == {
                ("region", a1, b1): n for (a1, b1), n in numpy_transitions().items()}
            assert trajectories(c, [a, b], "basin") == numpy_zone_transitions()


def test_a_cancelled_call_cancels_its_node_queries(built) -> None:
    _, coord_url, node_urls, _ = built
    # node 1's tiles locked by another session: its part of a node-side call waits for them
    locker = psycopg.connect(node_urls[0])
    tables = list(node_tiles(node_urls[0]))
    for t in tables:
        locker.execute(sql.SQL("lock table raster.{} in access exclusive mode").format(
            sql.Identifier(t)))
    # whatever happens, the lock goes after 20 s (a call that is not cancelled would wait)
    release = threading.Timer(20, locker.rollback)
    release.start()
    try:
        with psycopg.connect(coord_url, autocommit=True) as c:
            a, b = [r[0] for r in c.execute(LANDCOVER_IDS)]
            for call, args in (("select * from raster.np_node_crosstab(%s, %s)", (a, b)),
                               ("select * from raster.np_node_trajectories(%s, null)",
                                ([a, b],))):
                c.execute("set statement_timeout = '1s'")
                t0 = time.monotonic()
                with pytest.raises(psycopg.errors.QueryCanceled):
                    c.execute(call, args)
                assert time.monotonic() - t0 < 5       # the coordinator returns at once
                c.execute("reset statement_timeout")
                # and node 1 no longer runs (or waits for the lock with) the call's query
                deadline = time.monotonic() + 5
                while True:
                    with psycopg.connect(node_urls[0]) as n:
                        waiting = n.execute(
                            "select count(*) from pg_stat_activity where usename = %s "
                            "and state = 'active' and query ~ 'raster.node_'",
                            (nodemod.WRITER,)).fetchone()[0]
                    if waiting == 0 or time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                assert waiting == 0
    finally:
        release.cancel()
        locker.rollback()
        locker.close()
    # with the lock gone the same calls succeed on new connections
    with psycopg.connect(coord_url) as c:
        a, b = [r[0] for r in c.execute(LANDCOVER_IDS)]
        got = {(v1, v2): n for v1, v2, n in c.execute(
            "select * from raster.np_node_crosstab(%s, %s)", (a, b))}
        assert got == numpy_transitions()


def trajectories(c: psycopg.Connection, ids: list[int], zone_set: str | None) -> dict:
    """raster.np_node_trajectories as {(zone code, class 2000, class 2015): pixels}."""
    return {(code or "region", *classes): n for code, classes, n in c.execute(
        "select z.zone_code, t.classes, t.pixels from raster.np_node_trajectories(%s, %s) t "
        "left join registry.zones z on z.zone_id = t.zone_id and z.zone_set = %s",
        (ids, zone_set, zone_set))}


def test_two_nodes_give_the_marts_of_one_server(built) -> None:
    one_url, coord_url, node_urls, calls = built
    assert_same_marts(marts(one_url), marts(coord_url))
    # independently of either run: the transitions of the region and of each zone by numpy
    for url in (one_url, coord_url):
        assert transitions(url) == numpy_transitions()
        assert zone_transitions(url) == numpy_zone_transitions()
    # the run counted the land-cover trajectories on the nodes (the region and the zone set,
    # each node once per call), not through postgres_fdw on the coordinator; each node
    # computed the NDVI trend over its own tiles and its zone statistics, the slope, the six
    # factors of land cover, trend and slope (node_derive writes them, the trend and the slope)
    # and the vegetation-signal sums, once
    # and the projects' trajectories and the pixels of the benefit against matched controls
    # (the projects burnt on each node), once
    assert calls == {"node_trajectories": [2, 2], "node_ndvi_trend": [1, 1],
                     "node_zone_stats": [2, 2], "node_slope": [1, 1], "node_derive": [10, 10],
                     "node_signal_sums": [1, 1], "node_shape_trajectories": [1, 1],
                     "node_benefit_pixels": [1, 1]}
    # the pixels inside each project per (class in 2000, class in 2015), on one server and on
    # the nodes, as numpy counts them in the project's rectangle
    for url in (one_url, coord_url):
        assert project_transitions(url) == numpy_project_transitions()
    # the benefit against matched controls matched the pixels of both projects, from the
    # same pixels in the same order (the marts above are equal, sink rates included)
    match = ("select p.project_id, (m.data ->> 'project_pixels')::int, "
             "(m.data ->> 'matched_pixels')::int, m.data ->> 'covariates' "
             "from intermediate.int_matched_results m join registry.projects p "
             "using (project_version_id) where m.section = 'match' order by 1")
    with psycopg.connect(one_url) as c:
        want = c.execute(match).fetchall()
    with psycopg.connect(coord_url) as c:
        assert c.execute(match).fetchall() == want
    assert [(pid, n) for pid, n, *_ in want] == [
        (pid, (r.stop - r.start) * (k.stop - k.start)) for pid, (r, k, _) in PROJECTS.items()]
    assert all(m > 0 for _, _, m, _ in want), want
    assert "slope_deg" in want[0][3] and "elevation_m" in want[0][3]
    # the NDVI trend classes of the region and of each zone, on one server and on the nodes,
    # as an independent Theil-Sen / Mann-Kendall (tests/test_trend_kernel.py) classifies them
    want = numpy_trend_classes()
    assert len({c for _, c in want}) >= 3
    for url in (one_url, coord_url):
        assert trend_classes(url) == want
    # the trend tiles stay on the nodes: the coordinator's model is a view of foreign tables
    # reading the nodes' tables, which hold as many tiles as the one server's model
    digests = ("select tile_x, tile_y, md5(rast::bytea) from intermediate.int_ndvi_trend_tiles "
               "order by 1, 2")
    with psycopg.connect(one_url) as c:
        tiles = c.execute("select count(*) from intermediate.int_ndvi_trend_tiles").fetchone()[0]
        want = c.execute(digests).fetchall()
    with psycopg.connect(coord_url) as c:
        got = c.execute(digests).fetchall()
    # bit for bit
    assert [r[:2] for r in got] == [r[:2] for r in want]
    assert got == want
    with psycopg.connect(coord_url) as c:
        assert c.execute("select relkind::text from pg_class "
                         "where oid = 'intermediate.int_ndvi_trend_tiles'::regclass"
                         ).fetchone()[0] == "v"
        assert c.execute("select array_agg(c.relkind::text order by c.relname) "
                         "from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                         "where i.inhparent = 'raster.derived_ndvi_trend'::regclass"
                         ).fetchone()[0] == ["f", "f"]
    on_nodes = [derived_rows(url, "ndvi_trend", "count(*)")[0] for url in node_urls]
    assert all(n > 0 for n in on_nodes) and sum(on_nodes) == tiles > 20
    # every factor of the run is one of land cover, NDVI trend and slope: the nodes computed
    # them over their own tiles, applied the constraint mask and kept them (the coordinator's
    # table stays empty), bit for bit one server's factor tiles
    factors = ("select factor, tile_x, tile_y, md5(rast::bytea) from "
               "intermediate.int_factor_tiles order by 1, 2, 3")
    with psycopg.connect(one_url) as c:
        want = c.execute(factors).fetchall()
        assert c.execute("select on_nodes from intermediate.int_factor_placement"
                         ).fetchone()[0] is False
    with psycopg.connect(coord_url) as c:
        assert c.execute(factors).fetchall() == []
        assert c.execute("select on_nodes from intermediate.int_factor_placement"
                         ).fetchone()[0] is True
    node_kinds = {"ndvi_trend", "fvc", "slope", "landcover_degradation", "steep_cropland",
                  "carbon_density"}
    assert node_kinds == {f for f, *_ in want}
    got = sorted(f"{kind},{row}" for kind in node_kinds for url in node_urls
                 for row in derived_rows(url, f"factor_{kind}",
                                         "concat_ws(',', tile_x, tile_y, md5(rast::bytea))"))
    assert got == sorted(",".join(map(str, r)) for r in want)
    assert all(len(derived_rows(u, "factor_slope", "1")) > 0 for u in node_urls)
    # the mask left the cropland of 2015 ungraded: steep cropland has no valid pixel, and the
    # tiles holding cropland are in the nodes' mask
    assert sum(n for u in node_urls for n in derived_rows(
        u, "constraint_mask", "(st_summarystats(rast, 1, true)).sum")) == int(
        (land_cover()["2015"] == 3).sum()) > 0
    # the nodes graded their own tiles: the priority tiles they keep are, bit for bit, the
    # priority raster of one server's mart (which the coordinator's mart copies)
    tiles = ("select tile_x, tile_y, md5(rast::bytea) from marts.priority_tiles "
             "order by 1, 2")
    with psycopg.connect(one_url) as c:
        want = c.execute(tiles).fetchall()
    assert len(want) > 20
    assert sorted(r for u in node_urls for r in derived_rows(
        u, "priority", "concat_ws(',', tile_x, tile_y, md5(rast::bytea))")) == sorted(
        ",".join(map(str, r)) for r in want)
    with psycopg.connect(coord_url) as c:
        assert c.execute(tiles).fetchall() == want
    # patches cross node borders: some patch reported by both runs has parts in tiles kept by
    # different nodes, merged as on one server (the patches above are equal)
    node_of = {tuple(map(int, r.split(","))): k for k, u in enumerate(node_urls)
               for r in derived_rows(u, "priority", "concat_ws(',', tile_x, tile_y)")}
    with psycopg.connect(coord_url) as c:
        patches = c.execute("select code, array_agg(array[tile_x, tile_y]) from "
                            "intermediate.int_patch_components where code is not null "
                            "group by code").fetchall()
        assert c.execute("select count(*) from intermediate.int_score_breaks "
                         "where method = 'quantile' and pixels > 0").fetchone()[0] == 3
    assert any(len({node_of[tuple(t)] for t in tiles}) == 2 for _, tiles in patches), patches
    # the statistics, histograms, overlay, patch parts and zone sums ran on each node
    for url in node_urls:
        for fn in ("np_band_stats", "np_histogram", "np_histograms", "np_overlay",
                   "np_patch_parts", "np_constraint_mask", "np_apply_mask"):
            assert node_calls(url, fn, 1) > 0, (url, fn)


def project_transitions(url: str) -> dict[tuple[str, int, int], int]:
    """Pixels inside each project per (class in 2000, class in 2015), from the run's
    project trajectories."""
    with psycopg.connect(url) as c:
        rows = c.execute(
            "select p.project_id, t.classes[1], t.classes[2], sum(t.pixels)::bigint "
            "from intermediate.int_project_trajectories t "
            "join registry.projects p on p.project_version_id = t.project_version_id "
            "where t.area_kind = 'project' group by 1, 2, 3").fetchall()
    return {(pid, a, b): n for pid, a, b, n in rows}


def numpy_project_transitions() -> dict[tuple[str, int, int], int]:
    lc = land_cover()
    out: dict[tuple[str, int, int], int] = {}
    for pid, (rows, cols, _) in PROJECTS.items():
        a, b = lc["2000"][rows, cols].ravel(), lc["2015"][rows, cols].ravel()
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            out[pid, x, y] = out.get((pid, x, y), 0) + 1
    return out


def node_zone_copies(node_url: str, zone_set: str) -> tuple[list[str], dict]:
    """The versions of a zone set a node keeps, and its copies of the zone tiles by position
    (md5 of the WKB)."""
    with psycopg.connect(node_url) as c:
        versions = [r[0] for r in c.execute(
            "select version from raster.node_zone_sets where zone_set = %s", (zone_set,))]
        tiles = {(x, y): h for x, y, h in c.execute(
            "select tile_x, tile_y, md5(rast) from raster.node_zone_tiles where zone_set = %s",
            (zone_set,))}
    return versions, tiles


def test_nodes_keep_the_zone_tiles_and_copy_them_once_per_load(built, tmp_path) -> None:
    """The node-side calls count by zone with the zone loader's tiles (burnt once, at the load),
    which each node keeps for the tile positions it holds: copied by the first call after a
    load, not by the calls after it; a new load of the set replaces them."""
    _, coord_url, node_urls, _ = built
    # the run's calls by zone (the trajectories of 'basin', then the NDVI trend's zone
    # statistics) copied 'basin' to each node once
    assert [node_calls(u, "node_zones_done", 1) for u in node_urls] == [1, 1]
    with psycopg.connect(coord_url) as c:
        lc = [r[0] for r in c.execute(LANDCOVER_IDS)]

    def loader_tiles(c: psycopg.Connection, zone_set: str) -> dict:
        return {(x, y): h for x, y, h in c.execute(
            "select tile_x, tile_y, md5(rast::bytea) from registry.zone_tiles "
            "where zone_set = %s", (zone_set,))}

    def rows_of(node_url: str) -> set[int]:
        with psycopg.connect(node_url) as c:
            table = c.execute("select tablename from pg_tables where schemaname = 'raster' "
                              "and tablename = %s", (f"tiles_{lc[0]}",)).fetchone()[0]
            return {y for (y,) in c.execute(sql.SQL("select distinct tile_y from raster.{}")
                                            .format(sql.Identifier(table)))}

    rows = [rows_of(u) for u in node_urls]
    assert rows[0] and rows[1] and not rows[0] & rows[1]
    moved = {"A": (slice(8, 72), slice(0, 40)), "B": (slice(0, 30), slice(40, 96))}
    try:
        for version, zones in enumerate((ZONES, ZONES, moved)):
            if version != 1:   # the second call finds the same load on the nodes
                with psycopg.connect(coord_url) as c:
                    load_zones(c, "small", write_zones(tmp_path / f"z{version}.geojson", zones),
                               zone_set="moving")
            with psycopg.connect(coord_url) as c:
                assert trajectories(c, lc, "moving") == numpy_zone_transitions(zones)
                want = loader_tiles(c, "moving")
            copies = [node_zone_copies(u, "moving") for u in node_urls]
            # each node keeps one version of the set: the loader's tiles of its own rows
            assert all(len(v) == 1 for v, _ in copies) and copies[0][0] == copies[1][0]
            for (_, tiles), own in zip(copies, rows, strict=True):
                assert tiles == {k: h for k, h in want.items() if k[1] in own}
            assert sum(len(t) for _, t in copies) == len(want) > 4
            # copies completed: 'basin' by the run, then 'moving' once per load (waiting for
            # one more shows that the second call copied nothing)
            done = 2 if version < 2 else 3
            assert [node_calls(u, "node_zones_done", done + 1) for u in node_urls] == [done] * 2
            if version == 0:
                first = copies[0][0]
            elif version == 2:
                assert copies[0][0] != first
    finally:
        with psycopg.connect(coord_url) as c:
            c.execute("delete from registry.zone_tiles where zone_set = 'moving'")
            c.execute("delete from registry.zones where zone_set = 'moving'")


def node_shape_sets(node_url: str) -> dict[str, set]:
    """The shape sets a node keeps: {name: {(position, code, md5 of the polygon's EWKB)}}."""
    with psycopg.connect(node_url) as c:
        sets: dict[str, set] = {}
        for v, k, code, h in c.execute("select version, k, code, md5(st_asewkb(geom)) "
                                       "from raster.node_shapes"):
            sets.setdefault(v, set()).add((k, code, h))
        counts = dict(c.execute("select version, shapes from raster.node_shape_sets"))
    assert counts == {v: len(x) for v, x in sets.items()}
    return sets


def test_nodes_keep_the_projects_and_copy_them_once(built) -> None:
    """The node-side calls that burn the projects (their trajectories with the baseline rings,
    the benefit pixels with the leakage belts) name a shape set the nodes keep instead of
    carrying the polygons: the run copied each set once to each node; a later call with the
    same shapes copies nothing, other shapes (wider rings) are copied as a new set, and the
    counts inside the projects stay numpy's."""
    _, coord_url, node_urls, _ = built
    shapes_sql = ("select u.k, u.c, md5(st_asewkb(u.g)) from raster.project_shapes(%s, %s) s, "
                  "unnest(s.codes, s.geoms) with ordinality as u(c, g, k)")
    with psycopg.connect(coord_url) as c:
        lc = [r[0] for r in c.execute(LANDCOVER_IDS)]
        want = {m: set(c.execute(shapes_sql, (lc[0], m)))
                for m in (RUN_VARS["baseline_ring_m"], RUN_VARS["leakage_belt_m"], 300)}
        versions = dict(c.execute("select p.project_version_id, p.project_id "
                                  "from registry.projects p where p.valid_to is null"))
    # two projects and their rings (or belts): four shapes a set, two sets, each copied once
    assert all(len(w) == 4 for w in want.values())
    assert [node_calls(u, "node_shapes_done", 2) for u in node_urls] == [2, 2]
    for u in node_urls:
        assert sorted(node_shape_sets(u).values(), key=sorted) == sorted(
            [want[RUN_VARS["baseline_ring_m"]], want[RUN_VARS["leakage_belt_m"]]], key=sorted)

    def inside(ring_m: int) -> dict:
        with psycopg.connect(coord_url) as c:
            rows = c.execute("select zone_id, classes, pixels from "
                             "raster.np_node_project_trajectories(%s, %s)",
                             (lc, ring_m)).fetchall()
        assert any(z % 2 == 1 and n > 0 for z, _, n in rows)   # the rings have pixels
        return {(versions[z // 2], *cl): n for z, cl, n in rows if z % 2 == 0}

    # the same rings again: the nodes keep them, nothing is copied (waiting for one more copy
    # shows that none came)
    assert inside(RUN_VARS["baseline_ring_m"]) == numpy_project_transitions()
    assert [node_calls(u, "node_shapes_done", 3) for u in node_urls] == [2, 2]
    # wider rings: a third set, copied once, beside the two the run uses
    assert inside(300) == numpy_project_transitions()
    assert [node_calls(u, "node_shapes_done", 3) for u in node_urls] == [3, 3]
    for u in node_urls:
        assert want[300] in node_shape_sets(u).values() and len(node_shape_sets(u)) == 3


def test_slope_is_computed_on_the_nodes_across_their_borders(built) -> None:
    """Each node computed the slope of its own DEM tiles, the borders from the edge rows of the
    other node's tiles: the tiles equal one server's bit for bit, and Horn's slope by numpy
    on the whole grid (tests/test_identification.py) pixel for pixel."""
    from test_identification import horn_slope

    one_url, coord_url, node_urls, _ = built
    query = ("select tile_x, tile_y, md5(rast::bytea) from intermediate.int_slope_tiles "
             "order by 1, 2")
    with psycopg.connect(one_url) as c:
        want = c.execute(query).fetchall()
    with psycopg.connect(coord_url) as c:
        assert c.execute("select relkind::text from pg_class where oid = "
                         "'intermediate.int_slope_tiles'::regclass").fetchone()[0] == "v"
        assert c.execute(query).fetchall() == want and len(want) > 20
        rows = c.execute("select st_upperleftx(rast), st_upperlefty(rast), "
                         "st_dumpvalues(rast, 1) from intermediate.int_slope_tiles").fetchall()
    # the tiles of both nodes' tables: every tile row lies on one node, its neighbours' rows
    # on the other (the border came from there)
    per_node = [set(derived_rows(url, "slope", "distinct tile_y")) for url in node_urls]
    assert per_node[0] and per_node[1] and not per_node[0] & per_node[1]
    assert any(y + 1 in per_node[1] for y in per_node[0])
    got = np.full((80, 96), np.nan)
    for ulx, uly, values in rows:
        c0, r0 = round((ulx - 450_000.0) / 30), round((4_950_000.0 - uly) / 30)
        v = np.array(values, dtype=np.float64)
        rr, cc = slice(max(r0, 0), min(r0 + v.shape[0], 80)), slice(max(c0, 0),
                                                                    min(c0 + v.shape[1], 96))
        if rr.start < rr.stop and cc.start < cc.stop:
            got[rr, cc] = v[rr.start - r0:rr.stop - r0, cc.start - c0:cc.stop - c0]
    z = dem().astype(np.float64)
    z[z == -9999] = np.nan
    ref = horn_slope(z, 30.0)
    ok = ~np.isnan(ref)
    assert ok.sum() > 6000
    np.testing.assert_allclose(got[ok], ref[ok], atol=1e-4)


def derived_rows(node_url: str, kind: str, column: str) -> list:
    """Values of ``column`` (an SQL expression) over the one derived table of ``kind`` on a
    node (raster.derived_<kind>_<n>, written by the run)."""
    with psycopg.connect(node_url) as c:
        [table] = [r[0] for r in c.execute(
            "select tablename from pg_tables where schemaname = 'raster' "
            "and tablename ~ %s", (f"^derived_{kind}_[0-9]+$",))]
        return [r[0] for r in c.execute(sql.SQL("select {} from raster.{}").format(
            sql.SQL(column), sql.Identifier(table)))]


def numpy_trend_classes() -> dict[tuple[str, int], int]:
    """Pixels per (zone, NDVI trend class) of ndvi_series(), by the independent implementation
    of tests/test_trend_kernel.py with the run's default settings (8 years at least)."""
    from test_trend_kernel import annual_values, reference

    series = ndvi_series()
    years = [int(y) for y in series]
    stack = np.stack([np.where(a == -32768, np.nan, a * 1e-4) for a in series.values()])
    uyears, annual = annual_values(stack.reshape(len(years), -1), years, "max")
    classes = reference(annual, uyears, 8)[6].reshape(80, 96)
    out = {}
    for name, window in (("small", (slice(None), slice(None))), *ZONES.items()):
        c = classes[window]
        for v, n in zip(*np.unique(c[~np.isnan(c)], return_counts=True), strict=True):
            out[(name, int(v))] = int(n)
    return out


def trend_classes(url: str) -> dict[tuple[str, int], int]:
    """Pixels per (zone, NDVI trend class) of the last run."""
    with psycopg.connect(url) as c:
        return {(z, k): int(n) for z, k, n in c.execute(
            "select zone_code, trend_class, pixels from marts.ndvi_trends "
            "where run_id = (select max(run_id) from marts.ndvi_trends)")}


def demo_loads(url: str) -> list[str]:
    """Every load of `ecorest demo`, as it runs them: its Willamette region (two land-cover
    epochs, the DEM, watersheds and sub-watersheds, the carbon pools, a growth rate, the
    example projects, BAAD plots), its Ansai district (42 NDVI years, the admin unit), Assaba
    (on a grid CRS PostGIS does not know) and the ecosystem-service regions; returns the
    regions."""
    with psycopg.connect(url) as conn:
        for _, step in demo.steps(SAMPLE, DERIVED):
            step(conn)
            conn.rollback()
        return [r[0] for r in conn.execute("select name from registry.regions "
                                           "order by region_id")]


def test_the_demo_on_two_nodes_gives_the_marts_of_one_server(
        coordinator, server_url: str, template_db: str, tmp_path: Path) -> None:
    """Every load of the demo on one server and on a coordinator with two data nodes, and the
    runs of Willamette, Ansai and the ecosystem-service and habitat regions: the same marts
    (rows, sums, texts), with the land-cover cross-tabs, the NDVI trend and its zone statistics,
    the slope and the factors from them computed on the nodes, and the services over the
    nodes' tiles (habitat quality's threat tiles copied once into a temporary table on the
    coordinator, read in place on one server).
    (Assaba's grid CRS on the nodes: test_projects_in_a_grid_crs_postgis_lacks_...)"""
    url, node_urls = coordinator
    name = f"ecorest_t_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(server_url, name, template_dbname=template_db)
    janitor.init()
    one_url = url_for(server_url, name)
    try:
        for u, sub in ((one_url, "one"), (url, "coord")):
            regions = demo_loads(u)
            assert {"willamette", "ansai", "assaba", "willamette_services",
                    "willamette_habitat"} <= set(regions)
            with psycopg.connect(u) as c:
                for region in ("willamette", "ansai", "willamette_services",
                               "willamette_habitat"):
                    run_assessment(c, u, region, work_dir=tmp_path / sub / region)
        habitat = {sub: next((tmp_path / sub / "willamette_habitat").rglob(
                       "run/**/int_habitat_tiles.sql")).read_text() for sub in ("one", "coord")}
        assert "habitat_threat_tiles" in habitat["coord"]
        assert "habitat_threat_tiles" not in habitat["one"]
        with psycopg.connect(url) as c:
            assert c.execute("select count(*) from raster.catalog").fetchone()[0] > 40
            assert c.execute("select count(*) from pg_class where relkind = 'r' and "
                             "relnamespace = 'raster'::regnamespace and relname ~ '^tiles_[0-9]+'"
                             ).fetchone()[0] == 0          # every tile on the nodes
        assert_same_marts(marts(one_url), marts(url))
        for fn, n in (("node_trajectories", 2), ("node_ndvi_trend", 1), ("node_slope", 1),
                      ("node_zone_stats", 1), ("node_derive", 1)):
            assert all(node_calls(u, fn, n) >= n for u in node_urls), fn
    finally:
        janitor.drop()


#: a grid CRS PostGIS does not know (the coordinator registers it as an ECOREST SRID)
LAEA = "+proj=laea +lat_0=44.7 +lon_0=-122.9 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"


def test_projects_in_a_grid_crs_postgis_lacks_are_counted_on_the_nodes(coordinator,
                                                                       tmp_path) -> None:
    """A region on a grid CRS that PostGIS does not know (registered on the coordinator as an
    ECOREST SRID, as `ecorest demo` does for Assaba): the nodes get its definition with the
    projects they burn, and count the projects' land-cover trajectories as numpy does;
    without it the node's GDAL could not burn them ("Cannot find SRID")."""
    coord_url, node_urls = coordinator
    origin = (12_000.0, 3_000.0)
    paths = {e: write_raster(tmp_path / f"lc_{e}.tif", a, crs=LAEA, origin=origin,
                             nodata=255) for e, a in land_cover().items()}
    feats = []
    for pid, (rows, cols, start) in PROJECTS.items():
        x0, x1 = origin[0] + 30 * cols.start, origin[0] + 30 * cols.stop
        y0, y1 = origin[1] - 30 * rows.stop, origin[1] - 30 * rows.start
        feats.append({"type": "Feature", "properties": {
            "project_id": pid, "name": f"Project {pid}", "project_type": "grassland_restoration",
            "start_date": start}, "geometry": {"type": "Polygon", "coordinates": [
                [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}})
    (tmp_path / "projects.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                                           "features": feats}))
    (tmp_path / "legend.csv").write_text(LEGEND)
    with psycopg.connect(coord_url) as conn:
        create_region(conn, "laea", footprint(tmp_path, paths["2000"]), boundary_crs=LAEA,
                      align_to=str(paths["2000"]), tile_size=16)
        load_legend(conn, "laea", tmp_path / "legend.csv")
        for epoch, path in paths.items():
            load_raster(conn, "laea", "landcover", path, epoch=epoch, legend="laea",
                        show_progress=False)
        load_projects(conn, "laea", tmp_path / "projects.geojson", crs=LAEA)
        srid, srtext, proj4 = conn.execute(
            "select s.srid, s.srtext, s.proj4text from registry.regions r "
            "join spatial_ref_sys s on s.srid = r.srid where r.name = 'laea'").fetchone()
        assert 990100 <= srid <= 998999
        lc = [r[0] for r in conn.execute(LANDCOVER_IDS)]
        versions = dict(conn.execute("select project_version_id, project_id "
                                     "from registry.projects where valid_to is null"))
        rows = conn.execute("select zone_id, classes, pixels from "
                            "raster.np_node_project_trajectories(%s, 60)", (lc,)).fetchall()
    for url in node_urls:
        with psycopg.connect(url) as c:
            assert c.execute("select srtext, proj4text from spatial_ref_sys where srid = %s",
                             (srid,)).fetchone() == (srtext, proj4)
    assert {(versions[z // 2], *cl): n for z, cl, n in rows if z % 2 == 0} \
        == numpy_project_transitions()
    assert any(z % 2 == 1 and n > 0 for z, _, n in rows)   # the rings were burnt too


def assert_same_marts(one: dict[str, tuple], other: dict[str, tuple]) -> None:
    assert set(one) == set(other) and len(one) > 5
    assert sum(v[0] for v in one.values()) > 20
    for table in one:
        n1, sums1, texts1 = one[table]
        n2, sums2, texts2 = other[table]
        assert n1 == n2, table
        assert texts1 == texts2, table
        # (abs_tol: columns of changes that are 0 up to rounding, e.g. SOC changes of classes
        # whose stocks are equal, sum to ±1e-9 t in an order that differs between servers:
        # equal to within a gram of carbon)
        for a, b in zip(sums1, sums2, strict=True):
            assert (a is None and b is None) or math.isclose(a, b, rel_tol=1e-12,
                                                             abs_tol=1e-6), table


def numpy_transitions() -> dict[tuple[int, int], int]:
    lc = land_cover()
    pairs, counts = np.unique(np.stack([lc["2000"].ravel(), lc["2015"].ravel()]), axis=1,
                              return_counts=True)
    return {(int(a), int(b)): int(n) for (a, b), n in zip(pairs.T, counts, strict=True)}


def numpy_zone_transitions(zones: dict = ZONES) -> dict[tuple[str, int, int], int]:
    lc = land_cover()
    out = {}
    for code, window in zones.items():
        pairs, counts = np.unique(np.stack([lc["2000"][window].ravel(),
                                            lc["2015"][window].ravel()]), axis=1,
                                  return_counts=True)
        out.update({(code, int(a), int(b)): int(n)
                    for (a, b), n in zip(pairs.T, counts, strict=True)})
    return out


def transitions(url: str, run_id: int | None = None) -> dict[tuple[int, int], int]:
    with psycopg.connect(url) as c:
        return {(a, b): int(n) for a, b, n in c.execute(
            "select class_t1, class_t2, pixels from marts.landcover_transitions "
            "where zone_set = 'region' and run_id = coalesce(%s, run_id)", (run_id,))}


def zone_transitions(url: str) -> dict[tuple[str, int, int], int]:
    with psycopg.connect(url) as c:
        return {(z, a, b): int(n) for z, a, b, n in c.execute(
            "select zone_code, class_t1, class_t2, pixels from marts.landcover_transitions "
            "where zone_set = 'basin'")}


def _fail_inserts_on(node_url: str) -> None:
    """Make node tables created from now on refuse rows (a node failing in the middle of a
    load's COPY), through an event trigger on the node."""
    with psycopg.connect(node_url, autocommit=True) as c:
        c.execute("""
            create function public.refuse() returns trigger language plpgsql as $$
            begin raise exception 'disk failure on this node'; end $$;
            create function public.arm() returns event_trigger language plpgsql as $$
            declare r record;
            begin
              for r in select objid from pg_event_trigger_ddl_commands()
                       where command_tag = 'CREATE TABLE' loop
                execute format('create trigger refuse before insert on %s for each row '
                               'execute function public.refuse()', r.objid::regclass);
              end loop;
            end $$;
            create event trigger arm on ddl_command_end execute function public.arm();""")


def _published(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as c:
        return (c.execute("select count(*) from raster.catalog").fetchone()[0],
                c.execute("select count(*) from pg_class where relnamespace = "
                          "'raster'::regnamespace and relname ~ '^tiles_[0-9]+$'").fetchone()[0])


def test_a_node_down_publishes_nothing_and_the_next_load_and_run_succeed(
        coordinator, node_clusters, tmp_path) -> None:
    coord_url, node_urls = coordinator
    lc = land_cover()
    path = write_raster(tmp_path / "lc_2000.tif", lc["2000"], nodata=255)
    (tmp_path / "legend.csv").write_text(LEGEND)
    (tmp_path / "pools.csv").write_text(POOLS)
    with psycopg.connect(coord_url) as conn:
        create_region(conn, "small", footprint(tmp_path, path), align_to=str(path),
                      tile_size=16, allow_non_equal_area=True)
        load_legend(conn, "small", tmp_path / "legend.csv")
        load_params(conn, tmp_path / "pools.csv", name="small", kind="carbon_pools",
                    source_text="test")
    # 1. node n2 stopped before the load: refused naming it, nothing published
    node_clusters[1].stop()
    with psycopg.connect(coord_url) as conn, pytest.raises(EcorestError, match="n2"):
        load_raster(conn, "small", "landcover", path, epoch="2000", legend="small",
                    show_progress=False)
    assert _published(coord_url) == (0, 0)
    node_clusters[1].start()
    # 2. node n2 failing in the middle of the COPY: n1 has written its share, nothing published
    _fail_inserts_on(node_urls[1])
    with psycopg.connect(coord_url) as conn, pytest.raises(EcorestError, match="n2"):
        load_raster(conn, "small", "landcover", path, epoch="2000", legend="small",
                    show_progress=False)
    assert _published(coord_url) == (0, 0)
    # n1's share was written in a transaction that ended with the load's failure
    assert node_tiles(node_urls[0]) == {}
    with psycopg.connect(coord_url) as conn:
        status = conn.execute("select status from etl.loads where loader = 'raster' "
                              "order by load_id").fetchall()
        assert [s[0] for s in status] == ["failed", "failed"]
    with psycopg.connect(node_urls[1], autocommit=True) as c:
        c.execute("drop event trigger arm")
        for t in node_tiles(node_urls[1]):
            c.execute(sql.SQL("drop table raster.{}").format(sql.Identifier(t)))
    # 3. both nodes up: the load succeeds, then a run
    with psycopg.connect(coord_url) as conn:
        load_raster(conn, "small", "landcover", path, epoch="2000", legend="small",
                    show_progress=False)
        load_raster(conn, "small", "landcover",
                    write_raster(tmp_path / "lc_2015.tif", lc["2015"], nodata=255),
                    epoch="2015", legend="small", show_progress=False)
    assert _published(coord_url) == (2, 2)
    published = node_tiles(node_urls[0])
    assert len(published) == 2
    # a node table no catalog entry reads (as a coordinator failing after the nodes committed
    # leaves): `db nodes --clean` drops it and nothing else
    with psycopg.connect(node_urls[0], autocommit=True) as c:
        c.execute(f"create table raster.tiles_999999 (like raster.{next(iter(published))})")
        c.execute("alter table raster.tiles_999999 owner to ecorest_node_writer")
    with psycopg.connect(coord_url) as conn:
        assert nodemod.clean_orphans(conn) == 1
    assert node_tiles(node_urls[0]) == published
    # 4. both up: a run succeeds and the bi views show it
    with psycopg.connect(coord_url) as conn:
        first = run_assessment(conn, coord_url, "small", work_dir=tmp_path / "dbt")
    shown = bi_rows(coord_url)
    assert shown["runs"] == [(first,)] and shown["landcover_transitions"]
    assert {r for rows in shown.values() for r in rows} == {(first,)}
    # 5. node n1 killed in the middle of a run, while the nodes count the land-cover
    # trajectories: the run fails naming the node, nothing of it is published (the bi views
    # show the previous run's rows, as they were)
    with killed_during(node_urls[0], node_clusters[0], "raster.node_trajectories(") as killed, \
            psycopg.connect(coord_url) as conn:
        with pytest.raises(EcorestError, match="ecorest_node_n1"):
            run_assessment(conn, coord_url, "small", work_dir=tmp_path / "dbt", force=True)
    assert killed() and not node_clusters[0].is_running()
    with psycopg.connect(coord_url) as conn:
        runs = conn.execute("select run_id, status from etl.assessment_runs order by 1"
                            ).fetchall()
    assert [s for _, s in runs] == ["succeeded", "failed"] and runs[0][0] == first
    assert bi_rows(coord_url) == shown
    # 6. back up: the next run succeeds, with numpy's counts, and the bi views show it
    node_clusters[0].start()
    with psycopg.connect(coord_url) as conn:
        run_id = run_assessment(conn, coord_url, "small", work_dir=tmp_path / "dbt",
                                force=True)
        assert conn.execute("select status from etl.assessment_runs where run_id = %s",
                            (run_id,)).fetchone() == ("succeeded",)
    assert run_id > runs[1][0]
    assert transitions(coord_url, run_id) == numpy_transitions()
    assert bi_rows(coord_url)["landcover_transitions"] == [(run_id,)]
    # 7. the identification of this region (land cover only: every factor computed on the
    # nodes) runs there; node n1 killed while the nodes write the graded overlay (held there
    # for 5 s by an event trigger): the run fails naming the node, nothing of it is published,
    # and the previous run's priority tiles stay readable on the nodes
    with psycopg.connect(coord_url) as c:
        assert c.execute("select on_nodes from intermediate.int_factor_placement"
                         ).fetchone()[0] is True
        mart = c.execute("select tile_x, tile_y, md5(rast::bytea) from marts.priority_tiles "
                         "where run_id = %s order by 1, 2", (run_id,)).fetchall()
    assert len(mart) > 20
    shown = bi_rows(coord_url)
    _slow_ddl_on(node_urls[0], "raster.derived_priority_%")
    with killed_during(node_urls[0], node_clusters[0], "derived_priority_") as killed, \
            psycopg.connect(coord_url) as conn:
        with pytest.raises(EcorestError, match="ecorest_node_n1"):
            run_assessment(conn, coord_url, "small", work_dir=tmp_path / "dbt", force=True)
    assert killed() and not node_clusters[0].is_running()
    assert bi_rows(coord_url) == shown
    node_clusters[0].start()
    with psycopg.connect(node_urls[0], autocommit=True) as c:
        c.execute("drop event trigger slow_ddl")
    with psycopg.connect(coord_url) as c:
        failed = c.execute("select run_id from etl.assessment_runs where status = 'failed' "
                           "order by run_id desc limit 1").fetchone()[0]
        assert failed > run_id
        # the mart keeps the succeeded runs only
        assert c.execute("select array_agg(distinct run_id order by run_id) "
                         "from marts.priority_tiles").fetchone()[0] == [first, run_id]
        assert c.execute("select tile_x, tile_y, md5(rast::bytea) from raster.derived_priority "
                         "order by 1, 2").fetchall() == mart
    # 8. back up: the next run succeeds, graded on the nodes as the run before it
    with psycopg.connect(coord_url) as conn:
        again = run_assessment(conn, coord_url, "small", work_dir=tmp_path / "dbt", force=True)
        assert conn.execute("select tile_x, tile_y, md5(rast::bytea) from marts.priority_tiles "
                            "where run_id = %s order by 1, 2", (again,)).fetchall() == mart
    assert bi_rows(coord_url)["zone_scores"] == [(again,)]


def _slow_ddl_on(node_url: str, pattern: str) -> None:
    """Make a node hold, for 5 s, every statement that creates a table named like ``pattern``
    (an event trigger), so that a test can stop the node while one runs."""
    with psycopg.connect(node_url, autocommit=True) as c:
        c.execute(sql.SQL("""
            create or replace function public.slow_ddl() returns event_trigger
            language plpgsql as $$
            begin
              if exists (select from pg_event_trigger_ddl_commands()
                         where object_identity like {}) then
                perform pg_sleep(5);
              end if;
            end $$;
            create event trigger slow_ddl on ddl_command_end
                execute function public.slow_ddl();""").format(sql.Literal(pattern)))


def bi_rows(url: str) -> dict[str, list[tuple]]:
    """Per bi view with a run_id column: the distinct run ids it shows (sorted)."""
    with psycopg.connect(url) as c:
        views = [r[0] for r in c.execute(
            "select table_name from information_schema.columns where table_schema = 'bi' "
            "and column_name = 'run_id' order by 1")]
        return {v: c.execute(sql.SQL("select distinct run_id from bi.{} order by 1").format(
            sql.Identifier(v))).fetchall() for v in views}


@contextmanager
def killed_during(node_url: str, cluster: EmbeddedCluster, query: str) -> Iterator:
    """Stop ``cluster`` (pg_ctl stop -m fast: its sessions end at once) as soon as a session
    on its database ``node_url`` runs a statement containing ``query``; yields a function
    telling whether that happened."""
    done = threading.Event()
    fired: list[bool] = []

    def watch() -> None:
        with psycopg.connect(node_url, autocommit=True) as c:
            while not done.is_set():
                if c.execute("select exists (select from pg_stat_activity where state = "
                             "'active' and pid <> pg_backend_pid() and strpos(query, %s) > 0)",
                             (query,)).fetchone()[0]:
                    break
                time.sleep(0.01)
            else:
                return
        cluster.stop()
        fired.append(True)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield lambda: bool(fired)
    finally:
        done.set()
        watcher.join(timeout=60)


def test_node_passwords_are_hidden_from_analysts_and_bi(built) -> None:
    _, coord_url, node_urls, _ = built
    with psycopg.connect(coord_url) as c:
        assert [n.name for n in nodemod.list_nodes(c)] == ["n1", "n2"]
        for role in ("ecorest_bi", "ecorest_analyst"):
            c.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
            rows = c.execute("select usename, umoptions::text from pg_user_mappings "
                             "where srvname like 'ecorest_node_%'").fetchall()
            c.execute("reset role")
            visible = [o for u, o in rows if o is not None]
            assert all("password" not in o or "ecorest_node_reader" in o for o in visible), role
            if role == "ecorest_bi":
                assert visible == []
        # the writer's password is shown to ecorest_etl itself, never a superuser's
        c.execute("set role ecorest_etl")
        opts = c.execute("select umoptions::text from pg_user_mappings where usename = "
                         "'ecorest_etl' and srvname = 'ecorest_node_n1'").fetchone()[0]
        c.execute("reset role")
        assert "user=ecorest_node_writer" in opts
    for node_url in node_urls:
        with psycopg.connect(node_url) as c:
            supers = c.execute("select rolname from pg_roles where rolsuper and rolname like "
                               "'ecorest_node%'").fetchall()
            assert supers == []


def layout(url: str) -> dict[int, list[tuple]]:
    """Per catalog entry: its partition's kind and children (name, kind, server, node table)."""
    with psycopg.connect(url) as c:
        out = {}
        for (cid,) in c.execute("select catalog_id from raster.catalog order by 1").fetchall():
            kind = c.execute("select relkind::text from pg_class where oid = %s::regclass",
                             (f"raster.tiles_{cid}",)).fetchone()[0]
            out[cid] = [kind, *c.execute(
                "select c.relname::text, c.relkind::text, fs.srvname::text, ft.ftoptions::text "
                "from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "left join pg_foreign_table ft on ft.ftrelid = c.oid "
                "left join pg_foreign_server fs on fs.oid = ft.ftserver "
                "where i.inhparent = %s::regclass order by 1", (f"raster.tiles_{cid}",))]
        return out


def test_rebalance_spreads_every_entry_over_all_nodes(node_clusters, server_url, template_db,
                                                      tmp_path) -> None:
    lc = land_cover()
    paths = {e: write_raster(tmp_path / f"lc_{e}.tif", a, nodata=255) for e, a in lc.items()}
    (tmp_path / "legend.csv").write_text(LEGEND)
    with coordinator_db(server_url, template_db, node_clusters, 0) as (url, node_urls):
        # 2000 loaded on the coordinator alone, 2015 with one node, then a second node added
        with psycopg.connect(url) as conn:
            create_region(conn, "small", footprint(tmp_path, paths["2000"]),
                          align_to=str(paths["2000"]), tile_size=16, allow_non_equal_area=True)
            load_legend(conn, "small", tmp_path / "legend.csv")
            load_raster(conn, "small", "landcover", paths["2000"], epoch="2000", legend="small",
                        show_progress=False)
        nodemod.add_node(url, "n1", node_urls[0])
        with psycopg.connect(url) as conn:
            load_raster(conn, "small", "landcover", paths["2015"], epoch="2015", legend="small",
                        show_progress=False)
        nodemod.add_node(url, "n2", node_urls[1])
        with psycopg.connect(url) as c:
            ids = [r[0] for r in c.execute("select catalog_id from raster.catalog order by 1")]
            tiles = [c.execute("select count(*) from raster.tiles where catalog_id = %s",
                               (i,)).fetchone()[0] for i in ids]
            # not co-located: counted here through postgres_fdw, still numpy's counts
            assert c.execute("select raster.node_placement(%s)", (ids,)).fetchone()[0] is None
            assert c.execute("select raster.node_placement(%s)", (ids[1:],)).fetchone()[0] == [
                "ecorest_node_n1"]
            assert trajectories(c, ids, None) == {
                ("region", a, b): n for (a, b), n in numpy_transitions().items()}
        before = layout(url), node_tiles(node_urls[0]), node_tiles(node_urls[1])
        assert before[0][ids[0]] == ["r"] and before[1] == {f"tiles_{ids[1]}": tiles[1]}
        # a node down: a clear error naming it, nothing changed
        node_clusters[1].stop()
        try:
            with pytest.raises(nodemod.NodeError, match="nothing was changed: data node n2 "):
                nodemod.rebalance(url)
        finally:
            node_clusters[1].start()
        assert (layout(url), node_tiles(node_urls[0]), node_tiles(node_urls[1])) == before
        # a node failing in the middle of the copy: nothing changed either
        _fail_inserts_on(node_urls[1])
        with pytest.raises(nodemod.NodeError, match="n2.*nothing was changed"):
            nodemod.rebalance(url)
        with psycopg.connect(node_urls[1], autocommit=True) as c:
            c.execute("drop event trigger arm")
        assert (layout(url), node_tiles(node_urls[0]), node_tiles(node_urls[1])) == before
        # rebalanced: both entries over n1 and n2, verified, the old layouts gone
        report = nodemod.rebalance(url)
        assert [(r["catalog_id"], r["tiles"], r["from"], r["to"]) for r in report] == [
            (ids[0], tiles[0], "coordinator", "n1, n2"), (ids[1], tiles[1], "n1", "n1, n2")]
        per_node = [node_tiles(u) for u in node_urls]
        for i, n in zip(ids, tiles, strict=True):
            on = [p.get(f"tiles_{i}_r1", 0) for p in per_node]
            assert all(x > 0 for x in on) and sum(on) == n
        assert sorted(per_node[0]) == [f"tiles_{i}_r1" for i in ids]  # old tables dropped
        with psycopg.connect(url) as c:
            assert c.execute("select raster.node_placement(%s)", (ids,)).fetchone()[0] == [
                "ecorest_node_n1", "ecorest_node_n2"]
            assert [c.execute("select count(*) from raster.tiles where catalog_id = %s",
                              (i,)).fetchone()[0] for i in ids] == tiles
            calls = [node_calls(u, "node_trajectories", 0) for u in node_urls]
            got = {(v1, v2): n for v1, v2, n in c.execute(
                "select * from raster.np_node_crosstab(%s, %s)", ids)}
            assert got == numpy_transitions()
            assert trajectories(c, ids, None) == {
                ("region", a, b): n for (a, b), n in numpy_transitions().items()}
        # ... counted on the nodes
        assert [node_calls(u, "node_trajectories", k + 1) for u, k in
                zip(node_urls, calls, strict=True)] == [k + 1 for k in calls]
        assert nodemod.rebalance(url) == []  # nothing left to move
        # a session keeps its node connections open between calls (one node backend serves all
        # its calls) and opens a broken one again, once (the node restarted between two calls)
        assert [node_sessions(u, 0) for u in node_urls] == [[], []]
        region = {("region", a, b): n for (a, b), n in numpy_transitions().items()}
        with psycopg.connect(url) as c:
            assert trajectories(c, ids, None) == region
            kept = [node_sessions(u, 1) for u in node_urls]
            assert all(len(p) == 1 for p in kept)
            assert trajectories(c, ids, None) == region
            assert [node_sessions(u, 1) for u in node_urls] == kept
            node_clusters[0].stop()
            node_clusters[0].start()
            assert trajectories(c, ids, None) == region
            again = [node_sessions(u, 1) for u in node_urls]
            assert again[1] == kept[1] and len(again[0]) == 1 and again[0] != kept[0]
        # ... until the session ends
        assert [node_sessions(u, 0) for u in node_urls] == [[], []]


def test_remove_node_refuses_while_it_holds_tiles_and_drain_moves_them(
        built, coordinator, node_clusters, tmp_path) -> None:
    one_url, built_coord, _, _ = built
    url, node_urls = coordinator
    build_region(url, tmp_path, zones=True, ndvi=True, projects=True)
    with psycopg.connect(url) as c:
        ids = [r[0] for r in c.execute("select catalog_id from raster.catalog order by 1")]
        lc = [r[0] for r in c.execute(LANDCOVER_IDS)]
        tiles = [c.execute("select count(*) from raster.tiles where catalog_id = %s",
                           (i,)).fetchone()[0] for i in ids]
    held = node_tiles(node_urls[1])
    assert set(held) == {f"tiles_{i}" for i in ids} and 0 < sum(held.values()) < sum(tiles)
    # holding tiles: refused, naming the node, its tiles and catalog entries
    with pytest.raises(nodemod.NodeError, match=(
            rf"data node n2 \(127\.0\.0\.1:\d+/\w+\) holds {sum(held.values())} tiles of "
            rf"{len(ids)} catalog entries \({', '.join(map(str, ids))}\)"
            r".*remove-node n2 --drain")):
        nodemod.remove_node(url, "n2")
    refused = CliRunner().invoke(cli, ["--dsn", url, "db", "remove-node", "n2"])
    assert refused.exit_code == 1 and "--drain" in refused.output
    both = CliRunner().invoke(cli, ["--dsn", url, "db", "remove-node", "n2", "--drain",
                                    "--force"])
    assert both.exit_code == 2 and "exclude each other" in both.output

    def state() -> tuple:
        with psycopg.connect(url) as c:
            names = [n.name for n in nodemod.list_nodes(c)]
        return names, layout(url), node_tiles(node_urls[0]), node_tiles(node_urls[1])

    before = state()
    assert before[0] == ["n1", "n2"]
    # the node to drain down: a clear error naming it, nothing changed
    node_clusters[1].stop()
    try:
        with pytest.raises(nodemod.NodeError, match="nothing was changed: data node n2 "):
            nodemod.remove_node(url, "n2", drain=True)
        with pytest.raises(nodemod.NodeError, match="n2 .*holds an unknown number of tiles "
                           f"of {len(ids)} catalog entries"):
            nodemod.remove_node(url, "n2")
    finally:
        node_clusters[1].start()
    assert state() == before
    # the remaining node failing in the middle of the copy: nothing changed either
    _fail_inserts_on(node_urls[0])
    with pytest.raises(nodemod.NodeError, match=rf"data node n1 .* failed while catalog entry "
                       rf"{ids[0]} was copied, nothing was changed"):
        nodemod.remove_node(url, "n2", drain=True)
    with psycopg.connect(node_urls[0], autocommit=True) as c:
        c.execute("drop event trigger arm")
    assert state() == before
    # drained (by the command): every tile on n1, verified, n2 unregistered and its tables
    # dropped
    drained = CliRunner().invoke(cli, ["--dsn", url, "db", "remove-node", "n2", "--drain"])
    assert drained.exit_code == 0, drained.output
    names, _, on_n1, on_n2 = state()
    assert names == ["n1"] and on_n2 == {}
    assert on_n1 == {f"tiles_{i}_r1": n for i, n in zip(ids, tiles, strict=True)}
    with psycopg.connect(url) as c:
        assert c.execute("select raster.node_placement(%s)", (ids,)).fetchone()[0] == [
            "ecorest_node_n1"]
        assert c.execute("select count(*) from pg_foreign_server where srvname = "
                         "'ecorest_node_n2'").fetchone()[0] == 0
        assert trajectories(c, lc, "basin") == numpy_zone_transitions()
    # a run after draining gives the marts of the same region on the undrained coordinator and
    # on one server, counted on n1 alone
    calls = node_calls(node_urls[0], "node_trajectories", 1)  # the zone call above
    assert calls == 1
    with psycopg.connect(url) as conn:
        run_assessment(conn, url, "small", work_dir=tmp_path / "dbt", dbt_vars=RUN_VARS)
    after = marts(url)
    assert_same_marts(marts(built_coord), after)
    assert_same_marts(marts(one_url), after)
    assert transitions(url) == numpy_transitions()
    assert zone_transitions(url) == numpy_zone_transitions()
    assert node_calls(node_urls[0], "node_trajectories", calls + 2) == calls + 2
    assert node_calls(node_urls[0], "node_ndvi_trend", 1) == 1
    # nothing left to drain: a node without tiles is removed at once
    nodemod.add_node(url, "n3", node_urls[1])
    assert nodemod.remove_node(url, "n3") == []
    # the last node drained: every tile back in the coordinator's own tables, verified, the
    # node unregistered and its tables dropped; the counts are numpy's
    report = nodemod.remove_node(url, "n1", drain=True)
    assert [(r["catalog_id"], r["tiles"], r["to"]) for r in report] == [
        (i, n, "coordinator") for i, n in zip(ids, tiles, strict=True)]
    assert node_tiles(node_urls[0]) == {}
    with psycopg.connect(url) as c:
        assert nodemod.list_nodes(c) == []
        for i, n in zip(ids, tiles, strict=True):
            assert c.execute("select relkind::text from pg_class where oid = %s::regclass",
                             (f"raster.tiles_{i}",)).fetchone()[0] == "r"
            assert c.execute("select count(*) from raster.tiles where catalog_id = %s",
                             (i,)).fetchone()[0] == n
        assert c.execute("select raster.node_placement(%s)", (ids,)).fetchone()[0] is None
        got = {(v1, v2): n for v1, v2, n in c.execute(
            "select * from raster.np_node_crosstab(%s, %s)", lc)}
        assert got == numpy_transitions()
        assert trajectories(c, lc, "basin") == numpy_zone_transitions()
        # the NDVI trend the last run kept on n1 went with it: its table is empty, and a run
        # on the one server again (forced: the inputs are the same) computes it here
        assert c.execute("select count(*) from pg_inherits "
                         "where inhparent = 'raster.derived_ndvi_trend'::regclass"
                         ).fetchone()[0] == 0
    with psycopg.connect(url) as conn:
        run_assessment(conn, url, "small", work_dir=tmp_path / "dbt", dbt_vars=RUN_VARS,
                       force=True)
    assert trend_classes(url) == numpy_trend_classes()
    with psycopg.connect(url) as c:
        assert c.execute("select relkind::text from pg_class "
                         "where oid = 'intermediate.int_ndvi_trend_tiles'::regclass"
                         ).fetchone()[0] == "r"
