"""Scale-out benchmark: one server vs a coordinator with data nodes (local clusters).

    python -m bench.scaleout                    kernel part (1 server, 1 -> 2 -> 4 nodes) and
                                                the run part (1 server vs coordinator + 2 nodes)
    python -m bench.scaleout --size 1024        edge length of the generated land cover
    python -m bench.scaleout --parts kernel     only one part (kernel, run)

The clusters live under ``.ecorest-bench-scaleout/`` (a coordinator and four node clusters on
127.0.0.1, started when needed and left running); every case uses fresh databases.

* kernel: two land-cover epochs of SIZE² px in 128-px tiles are loaded (timed: the tiles go
  straight to the nodes), then the cross-tab of the two epochs is computed three ways — the local
  kernel on one server, raster.np_node_crosstab (each node over its own tiles, counts summed on
  the coordinator), and the same SQL over the foreign tables (every tile shipped to the
  coordinator). All counts must be equal; the benchmark stops otherwise.
* run: a small region loaded and assessed (ecorest run, all models) on one server and on a
  coordinator with two nodes; the marts' row counts and carbon totals must be equal.

On one machine the nodes share its cores and disk: the numbers show the overhead and the
parallelism of the mechanism, not what separate machines would give.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ecorest.etl import nodes as nodemod
from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from ecorest.store import db as dbmod
from ecorest.store.cluster import EmbeddedCluster
from ecorest.store.nodes import local_node_homes, start_local_nodes

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".ecorest-bench-scaleout"
LEGEND = ("class_code,name_en,ipcc_category\n1,forest,forest_land\n2,grassland,grassland\n"
          "3,cropland,cropland\n")
POOLS = "lucode,C_above,C_below,C_soil,C_dead\n1,100,20,50,5\n2,10,3,80,0\n3,5,1,60,0\n"


def write_raster(path: Path, data: np.ndarray) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype="uint8", crs="EPSG:26910", nodata=255, tiled=True,
                       transform=from_origin(450_000.0, 4_950_000.0, 30.0, 30.0)) as dst:
        dst.write(data, 1)
    return path


def generate(work: Path, n: int) -> tuple[Path, Path, Path]:
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    a = rng.integers(1, 4, (n, n), dtype=np.uint8)
    a[: n // 2] = 1
    b = a.copy()
    flip = rng.random((n, n)) < 0.2
    b[flip] = rng.integers(2, 4, int(flip.sum()), dtype=np.uint8)
    fp = work / "footprint.geojson"
    x1, y1 = 450_000.0 + 30.0 * n, 4_950_000.0 - 30.0 * n
    ring = [[450_000.0, 4_950_000.0], [x1, 4_950_000.0], [x1, y1], [450_000.0, y1],
            [450_000.0, 4_950_000.0]]
    fp.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "EPSG:26910"}}, "features": [{
            "type": "Feature", "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    return write_raster(work / "lc_2000.tif", a), write_raster(work / "lc_2015.tif", b), fp


class Bench:
    """The coordinator cluster and four node clusters, fresh databases per case."""

    def __init__(self) -> None:
        self.server = EmbeddedCluster(HOME)
        self.server.start()
        dbmod.migrate(self.server.url())  # sql/ files up to date in the template below
        self.nodes = [EmbeddedCluster(h) for h in local_node_homes(HOME, 4)]
        start_local_nodes(HOME, 4)
        self.dbs: list[tuple[str, str]] = []

    def new_db(self, admin: str, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        self.dbs.append((admin, name))
        return make_conninfo(admin, dbname=name)

    def coordinator(self, k: int) -> str:
        url = self.new_db(self.server.url(), "bench_c")
        dbmod.migrate(url)
        for j in range(k):
            nodemod.add_node(url, f"n{j + 1}", self.new_db(self.nodes[j].url(), "bench_n"))
        return url

    def drop_all(self) -> None:
        for admin, name in self.dbs:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(sql.SQL("drop database if exists {} with (force)").format(
                    sql.Identifier(name)))


def load_region(url: str, files: tuple[Path, Path, Path], tile: int, work: Path) -> float:
    a, b, fp = files
    (work / "legend.csv").write_text(LEGEND)
    (work / "pools.csv").write_text(POOLS)
    with psycopg.connect(url) as conn:
        create_region(conn, "bench", fp, align_to=str(a), tile_size=tile,
                      allow_non_equal_area=True)
        load_legend(conn, "bench", work / "legend.csv")
        load_params(conn, work / "pools.csv", name="bench", kind="carbon_pools",
                    source_text="benchmark")
        t0 = time.perf_counter()
        for epoch, path in (("2000", a), ("2015", b)):
            load_raster(conn, "bench", "landcover", path, epoch=epoch, legend="bench",
                        show_progress=False)
        return time.perf_counter() - t0


FDW_CROSSTAB = """
select c.v1, c.v2, sum(c.pixels)::bigint
  from raster.tiles a join raster.tiles b using (tile_x, tile_y),
       lateral raster.crosstab(null::bytea, a.rast::bytea, b.rast::bytea) c
 where a.catalog_id = %s and b.catalog_id = %s
 group by 1, 2 order by 1, 2"""


def timed(conn: psycopg.Connection, query: str, args: tuple, repeat: int = 3) -> tuple[float,
                                                                                         list]:
    best, rows = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = conn.execute(query, args).fetchall()
        best = min(best, time.perf_counter() - t0)
    return best, rows


def kernel_part(bench: Bench, size: int, work: Path) -> None:
    files = generate(work, size)
    print(f"\nkernel part: cross-tab of two {size}² land-cover epochs (128-px tiles), best of 3")
    print(f"{'setup':28} {'load s':>7} {'node-side s':>12} {'via FDW s':>10} {'local s':>8}")
    reference = None
    for k in (0, 1, 2, 4):
        url = bench.coordinator(k) if k else bench.new_db(bench.server.url(), "bench_one")
        if not k:
            dbmod.migrate(url)
        load_s = load_region(url, files, 128, work)
        with psycopg.connect(url) as conn:
            a, b = [r[0] for r in conn.execute("select catalog_id from raster.catalog "
                                               "order by 1")]
            node_s, rows = timed(conn, "select * from raster.np_node_crosstab(%s, %s)", (a, b))
            fdw_s, rows2 = timed(conn, FDW_CROSSTAB, (a, b))
        rows, rows2 = [tuple(r) for r in rows], [tuple(r) for r in rows2]
        if reference is None:
            reference = rows
        if rows != reference or rows2 != reference:
            raise SystemExit(f"{k} node(s): the cross-tab differs from one server's")
        label = "1 server" if not k else f"coordinator + {k} node(s)"
        print(f"{label:28} {load_s:7.2f} {node_s if k else float('nan'):12.2f} "
              f"{fdw_s if k else float('nan'):10.2f} {fdw_s if not k else float('nan'):8.2f}")
    px = sum(r[2] for r in reference)
    print(f"counts equal in every setup ({px} pixels in {len(reference)} class pairs)")


def run_part(bench: Bench, size: int, work: Path) -> None:
    files = generate(work, size)
    print(f"\nrun part: ecorest run (all models) on a {size}² region, 64-px tiles")
    print(f"{'setup':28} {'load s':>7} {'run s':>7} {'mart rows':>10} {'carbon t':>14}")
    results = []
    for k in (0, 2):
        url = bench.coordinator(k) if k else bench.new_db(bench.server.url(), "bench_one")
        if not k:
            dbmod.migrate(url)
        load_s = load_region(url, files, 64, work)
        with psycopg.connect(url) as conn:
            t0 = time.perf_counter()
            run_assessment(conn, url, "bench", work_dir=work / f"dbt{k}")
            run_s = time.perf_counter() - t0
            tables = [r[0] for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = "
                "'marts' and table_type = 'BASE TABLE'")]
            rows = sum(conn.execute(sql.SQL("select count(*) from marts.{}").format(
                sql.Identifier(t))).fetchone()[0] for t in tables)
            carbon = conn.execute("select sum(carbon_t) from marts.carbon_stocks").fetchone()[0]
        results.append((rows, carbon))
        label = "1 server" if not k else f"coordinator + {k} nodes"
        print(f"{label:28} {load_s:7.2f} {run_s:7.1f} {rows:10d} {carbon:14.3f}")
    if results[0] != results[1]:
        raise SystemExit("the marts of the coordinator differ from one server's")
    print("marts equal (row counts and carbon total)")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048, help="Kernel part: edge length in px.")
    ap.add_argument("--run-size", type=int, default=256, help="Run part: edge length in px.")
    ap.add_argument("--parts", default="kernel,run", help="kernel, run (comma-separated).")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench = Bench()
    parts = set(args.parts.split(","))
    try:
        with tempfile.TemporaryDirectory(prefix="ecorest-scaleout-") as tmp:
            if "kernel" in parts:
                kernel_part(bench, args.size, Path(tmp) / "kernel")
            if "run" in parts:
                run_part(bench, args.run_size, Path(tmp) / "run")
    finally:
        bench.drop_all()
    host = conninfo_to_dict(bench.server.url()).get("host")
    print(f"\n(clusters under {HOME} on {host}, left running: `ecorest --home {HOME} db stop`)")


if __name__ == "__main__":
    main()
