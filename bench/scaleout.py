"""Scale-out benchmark: one server vs a coordinator with data nodes (local clusters).

    python -m bench.scaleout                    kernel part (1 server, 1 -> 2 -> 4 nodes) and
                                                the run part (1 server vs coordinator + 2 nodes)
    python -m bench.scaleout --size 1024        edge length of the generated land cover
    python -m bench.scaleout --size 256 --run-size 128 --repeat 1    a quick look
    python -m bench.scaleout --parts kernel     only one part (kernel, run)

The clusters live under ``.ecorest-bench-scaleout/`` (a coordinator and four node clusters on
127.0.0.1, started when needed and left running); every case uses fresh databases.

* kernel: two land-cover epochs of SIZE² px in 128-px tiles are loaded (timed: the tiles go
  straight to the nodes), then the cross-tab of the two epochs, their trajectories and the
  trajectories of 4 zones are computed — on one server by the local kernels; on a coordinator
  node-side (raster.np_node_crosstab / np_node_trajectories: each node over its own tiles,
  counts summed on the coordinator) with the session's node connections kept open, node-side
  with them closed before every call (a login and a PL/Python start on every node per call, as
  before they were kept), and by the same SQL over the foreign tables (every tile shipped to
  the coordinator). Medians of --repeat calls in one session, after one untimed call. All
  counts must be equal; the benchmark stops otherwise.
* run: a region with four zones loaded and assessed (ecorest run, all models, --repeat times)
  on one server and on a coordinator with two nodes: the run's median time and the median time
  of the model that counts the land-cover cross-tabs (int_landcover_trajectories: the local
  kernel over the stacked tiles on one server, raster.np_node_trajectories on the nodes with
  them) and the three slowest models; the marts' row counts, carbon total and transition rows
  (region and zones) must be equal.

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


def write_raster(path: Path, data: np.ndarray, nodata: int = 255) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype.name, crs="EPSG:26910", nodata=nodata,
                       tiled=True,
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


#: the NDVI years of the kernel part (8: the trend's minimum of valid years)
NDVI_YEARS = list(range(2011, 2019))


def generate_ndvi(work: Path, n: int) -> list[Path]:
    """Eight annual NDVI grids (int16, scale 1e-4) of the generated region: a greening half, a
    browning quarter and noise."""
    rng = np.random.default_rng(2)
    out = []
    for k, year in enumerate(NDVI_YEARS):
        v = 0.5 + 0.03 * rng.standard_normal((n, n), dtype=np.float32)
        v[: n // 2] += 0.01 * k
        v[n // 2:, : n // 2] -= 0.015 * k
        out.append(write_raster(work / f"ndvi_{year}.tif", np.round(v * 1e4).astype(np.int16),
                                nodata=-32768))
    return out


def load_ndvi(url: str, paths: list[Path]) -> list[int]:
    with psycopg.connect(url) as conn:
        return [load_raster(conn, "bench", "ndvi", path, epoch=str(year), scale=1e-4,
                            show_progress=False)[0]
                for year, path in zip(NDVI_YEARS, paths, strict=True)]


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


#: the trajectories as the model computes them without node-side kernels (the present SQL):
#: the tile stacks of the epochs read on the coordinator (over postgres_fdw with nodes)
FDW_TRAJECTORIES = """
with stacks as (
    select p.tile_x, p.tile_y, array_agg(t.rast::bytea order by e.no) as tiles
      from (select distinct t.tile_x, t.tile_y from raster.tiles t
             where t.catalog_id = any(%(ids)s)) as p
     cross join unnest(%(ids)s::bigint[]) with ordinality as e(catalog_id, no)
      left join raster.tiles t on t.catalog_id = e.catalog_id
            and t.tile_x = p.tile_x and t.tile_y = p.tile_y
     group by p.tile_x, p.tile_y)
select x.zone_id, x.classes, sum(x.pixels)::bigint
  from stacks s cross join lateral raster.trajectories(null, s.tiles) x
 group by 1, 2 order by 1, 2"""

FDW_ZONE_TRAJECTORIES = """
with stacks as (
    select p.tile_x, p.tile_y, array_agg(t.rast::bytea order by e.no) as tiles
      from (select distinct t.tile_x, t.tile_y from raster.tiles t
             where t.catalog_id = any(%(ids)s)) as p
     cross join unnest(%(ids)s::bigint[]) with ordinality as e(catalog_id, no)
      left join raster.tiles t on t.catalog_id = e.catalog_id
            and t.tile_x = p.tile_x and t.tile_y = p.tile_y
     group by p.tile_x, p.tile_y)
select x.zone_id, x.classes, sum(x.pixels)::bigint
  from raster.zone_tiles((%(ids)s::bigint[])[1], 'quadrant') zt
  join stacks s on s.tile_x = zt.tile_x and s.tile_y = zt.tile_y
 cross join lateral raster.trajectories(zt.rast::bytea, s.tiles) x
 where x.zone_id <> 0
 group by 1, 2 order by 1, 2"""


#: the NDVI trend as the model computes it on one server (int_ndvi_trend_tiles: each tile
#: position's stack read through raster.tile_stack, over postgres_fdw with nodes); rows: a
#: digest of every trend tile
FDW_TREND = """
select p.tile_x, p.tile_y,
       md5(st_rastfromwkb(raster.np_ndvi_trend(k.tiles, %(years)s, %(scales)s, %(offsets)s,
                                               'max', 8, 0.0005, 0.05, 0.1))::bytea)
  from (select distinct tile_x, tile_y from raster.tiles
         where catalog_id = any(%(ids)s)) as p
 cross join lateral raster.tile_stack(%(ids)s, p.tile_x, p.tile_y, %(years)s, 3) as k (tiles)
 order by 1, 2"""

#: the same on the data nodes, kept there (raster.np_node_ndvi_trend), then the digests of the
#: tiles it wrote (read through raster.derived_ndvi_trend, computed on the nodes)
NODE_TREND = """
select raster.np_node_ndvi_trend(%(ids)s, %(years)s, %(scales)s, %(offsets)s, 'max', 8,
                                 0.0005, 0.05, 0.1)"""
NODE_TREND_TILES = """
select tile_x, tile_y, md5(rast::bytea) from raster.derived_ndvi_trend order by 1, 2"""


def timed(conn: psycopg.Connection, query: str, args: tuple | dict, repeat: int = 3,
          reconnect: bool = False) -> tuple[float, list]:
    """Median seconds of ``repeat`` calls in one session (after one untimed call that opens the
    session's node connections and starts PL/Python); ``reconnect``: the session's dblink
    connections to the nodes closed before each call, so that every call logs in to every node
    again and the node backends load PL/Python and numpy again (how the node-side kernels
    worked before they kept their connections open)."""
    rows = conn.execute(query, args).fetchall()
    times = []
    for _ in range(repeat):
        if reconnect:
            conn.execute("select public.dblink_disconnect(c) "
                         "from unnest(public.dblink_get_connections()) as c")
        t0 = time.perf_counter()
        rows = conn.execute(query, args).fetchall()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), rows


def kernel_part(bench: Bench, size: int, work: Path, repeat: int = 3) -> None:
    from ecorest.etl.vector_loads import load_zones

    files = generate(work, size)
    zones = write_zones(work, size)
    ndvi = generate_ndvi(work, size)
    print(f"\nkernel part: two land-cover epochs and {len(ndvi)} NDVI years of {size}² px "
          f"(128-px tiles), medians of "
          f"{repeat} calls in one session: the cross-tab, the trajectories of the region and of "
          "4 zones — node-side with the session's node connections kept open ('node kept'), "
          "node-side logging in to every node again on every call ('node login', as before "
          "they were kept), and the same SQL over postgres_fdw ('FDW'; on one server: local); "
          "the NDVI trend written on the nodes and kept there against computed on the "
          "coordinator from the tiles read over postgres_fdw")
    print(f"{'setup':26} {'kernel':16} {'node kept s':>11} {'node login s':>12} {'FDW s':>7}"
          f"   (load of both epochs)")
    reference = None
    kernels = (
        ("cross-tab", "select * from raster.np_node_crosstab(%s, %s)", FDW_CROSSTAB),
        ("trajectories", "select zone_id, classes, pixels from "
         "raster.np_node_trajectories(%s, null) order by 1, 2", FDW_TRAJECTORIES),
        ("zone traj.", "select zone_id, classes, pixels from "
         "raster.np_node_trajectories(%s, 'quadrant') order by 1, 2", FDW_ZONE_TRAJECTORIES))
    for k in (0, 1, 2, 4):
        url = bench.coordinator(k) if k else bench.new_db(bench.server.url(), "bench_one")
        if not k:
            dbmod.migrate(url)
        load_s = load_region(url, files, 128, work)
        label = "1 server" if not k else f"coordinator + {k} node(s)"
        results = []
        with psycopg.connect(url) as conn:
            load_zones(conn, "bench", zones, zone_set="quadrant")
            a, b = [r[0] for r in conn.execute("select catalog_id from raster.catalog "
                                               "order by 1")]
            for name, node_q, fdw_q in kernels:
                node_args = (a, b) if name == "cross-tab" else ([a, b],)
                fdw_args = (a, b) if name == "cross-tab" else {"ids": [a, b]}
                kept_s, kept = timed(conn, node_q, node_args, repeat)
                login_s, login = (timed(conn, node_q, node_args, repeat, reconnect=True)
                                  if k else (float("nan"), kept))
                fdw_s, fdw = timed(conn, fdw_q, fdw_args, repeat)
                rows = [sorted(tuple(tuple(f) if isinstance(f, list) else f for f in row)
                               for row in result) for result in (kept, login, fdw)]
                if not rows[0] == rows[1] == rows[2]:
                    raise SystemExit(f"{label}, {name}: node-side and FDW counts differ")
                results.append(rows[0])
                print(f"{label:26} {name:16} {kept_s if k else float('nan'):11.2f} "
                      f"{login_s:12.2f} {fdw_s:7.2f}" + (f"   ({load_s:.2f} s)" if
                                                          name == "cross-tab" else ""))
            ids = load_ndvi(url, ndvi)
            conn.commit()
            trend_args = {"ids": ids, "years": NDVI_YEARS, "scales": [1e-4] * len(ids),
                          "offsets": [0.0] * len(ids)}
            # (each in its own transaction: postgres_fdw reads a node in a repeatable-read
            # transaction, which would not see node tables written after its first read)
            kept_s = login_s = float("nan")
            if k:
                kept_s, _ = timed(conn, NODE_TREND, trend_args, repeat)
                conn.commit()
                login_s, _ = timed(conn, NODE_TREND, trend_args, repeat, reconnect=True)
                conn.commit()
                on_nodes = conn.execute(NODE_TREND_TILES).fetchall()
                conn.commit()
            fdw_s, fdw = timed(conn, FDW_TREND, trend_args, repeat)
            if k and on_nodes != fdw:
                raise SystemExit(f"{label}, NDVI trend: the nodes' tiles differ from FDW's")
            results.append(fdw)
            print(f"{label:26} {'NDVI trend':16} {kept_s:11.2f} {login_s:12.2f} {fdw_s:7.2f}")
        if reference is None:
            reference = results
        elif results != reference:
            raise SystemExit(f"{label}: the counts differ from one server's")
    px = sum(r[2] for r in reference[0])
    zpx = sum(r[2] for r in reference[2])
    print(f"counts equal in every setup ({px} pixels in {len(reference[0])} class pairs; "
          f"{zpx} pixels in {len(reference[2])} zone trajectories); the {len(reference[3])} "
          "NDVI trend tiles equal bit for bit")


def write_zones(work: Path, n: int) -> Path:
    """Four quadrant zones of the generated SIZE² region (a zone set 'quadrant')."""
    h = 30.0 * n / 2
    feats = []
    for k, (cx, cy) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1)), start=1):
        x0, y1 = 450_000.0 + cx * h, 4_950_000.0 - cy * h
        ring = [[x0, y1 - h], [x0 + h, y1 - h], [x0 + h, y1], [x0, y1], [x0, y1 - h]]
        feats.append({"type": "Feature", "properties": {"zone_code": f"Q{k}", "name": f"Q{k}"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    path = work / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {
        "type": "name", "properties": {"name": "EPSG:26910"}}, "features": feats}))
    return path


#: the models that read land-cover tiles for the carbon cross-tabs (node-side with nodes)
CROSSTAB_MODELS = ("int_landcover_trajectories",)


def model_times(work: Path) -> dict[str, float]:
    """Seconds per model of the last dbt build in ``work`` (its run_results.json)."""
    results = json.loads((work / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results["results"]
            if r["unique_id"].startswith("model.")}


def run_part(bench: Bench, size: int, work: Path, repeat: int) -> None:
    from ecorest.etl.vector_loads import load_zones

    files = generate(work, size)
    zones = write_zones(work, size)
    print(f"\nrun part: ecorest run (all models) on a {size}² region with 4 zones, 64-px "
          f"tiles; medians of {repeat} runs (--force)")
    print(f"{'setup':26} {'load s':>7} {'run s':>7} {'cross-tab s':>12} {'slowest models (s)':<40}")
    results = []
    for k in (0, 2):
        url = bench.coordinator(k) if k else bench.new_db(bench.server.url(), "bench_one")
        if not k:
            dbmod.migrate(url)
        load_s = load_region(url, files, 64, work)
        runs, per_model = [], []
        with psycopg.connect(url) as conn:
            load_zones(conn, "bench", zones, zone_set="quadrant")
            for _ in range(repeat):
                t0 = time.perf_counter()
                run_assessment(conn, url, "bench", work_dir=work / f"dbt{k}", force=True)
                runs.append(time.perf_counter() - t0)
                per_model.append(model_times(work / f"dbt{k}"))
            tables = [r[0] for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = "
                "'marts' and table_type = 'BASE TABLE'")]
            last = conn.execute("select max(run_id) from etl.assessment_runs").fetchone()[0]
            rows = sum(conn.execute(sql.SQL(
                "select count(*) from marts.{} where run_id = %s").format(sql.Identifier(t)),
                (last,)).fetchone()[0] for t in tables if t != "assessment_runs"
                if conn.execute("select 1 from information_schema.columns where table_schema = "
                                "'marts' and table_name = %s and column_name = 'run_id'",
                                (t,)).fetchone())
            carbon = conn.execute("select sum(carbon_t) from marts.carbon_stocks "
                                  "where run_id = %s", (last,)).fetchone()[0]
            transitions = conn.execute(
                "select zone_set, zone_code, class_t1, class_t2, pixels from "
                "marts.landcover_transitions where run_id = %s order by 1, 2, 3, 4",
                (last,)).fetchall()
        med = {m: float(np.median([p[m] for p in per_model])) for m in per_model[0]}
        crosstab = sum(med.get(m, 0.0) for m in CROSSTAB_MODELS)
        slowest = ", ".join(f"{m.removeprefix('int_')} {s:.1f}" for m, s in
                            sorted(med.items(), key=lambda x: -x[1])[:3])
        results.append((rows, carbon, transitions))
        label = "1 server" if not k else f"coordinator + {k} nodes"
        print(f"{label:26} {load_s:7.2f} {float(np.median(runs)):7.1f} {crosstab:12.2f} "
              f"{slowest:<40}")
    if results[0] != results[1]:
        raise SystemExit("the marts of the coordinator differ from one server's")
    print(f"marts equal ({results[0][0]} rows of the last run, carbon total, "
          f"{len(results[0][2])} transition rows of the region and the zones)")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048, help="Kernel part: edge length in px.")
    ap.add_argument("--run-size", type=int, default=256, help="Run part: edge length in px.")
    ap.add_argument("--parts", default="kernel,run", help="kernel, run (comma-separated).")
    ap.add_argument("--repeat", type=int, default=3,
                    help="Calls per kernel and runs per setup (medians).")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench = Bench()
    parts = set(args.parts.split(","))
    try:
        with tempfile.TemporaryDirectory(prefix="ecorest-scaleout-") as tmp:
            if "kernel" in parts:
                kernel_part(bench, args.size, Path(tmp) / "kernel", args.repeat)
            if "run" in parts:
                run_part(bench, args.run_size, Path(tmp) / "run", args.repeat)
    finally:
        bench.drop_all()
    host = conninfo_to_dict(bench.server.url()).get("host")
    print(f"\n(clusters under {HOME} on {host}, left running: `ecorest --home {HOME} db stop`)")


if __name__ == "__main__":
    main()
