"""Carbon stage benchmark: transition cross-tab and stocks for a pair of land-cover epochs.

ecorest: `ecorest run` (dbt build: crosstab kernel over the tiles in the server, stocks and
changes per pool for the region) and, separately, the bare crosstab query. Baseline: numpy
reading both files and counting class pairs with bincount, then stocks per pool.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from .load import CODES, _drop, aligned_region_db
from .memory import server_peak

DENSITY = {int(c): (10.0 + i * 7, 2.0 + i, 50.0 + i * 3, 1.0 + i * 0.5)
           for i, c in enumerate(CODES)}


def second_epoch(path: Path) -> Path:
    """The same map with a quarter of its 64-px blocks changed to another class."""
    out = path.with_name(path.stem + "_t2.tif")
    if out.exists():
        return out
    rng = np.random.default_rng(7)
    with rasterio.open(path) as src:
        profile = src.profile
        a = src.read(1)
    n = a.shape[0] // 64 + 1
    change = np.kron(rng.random((n, n)) < 0.25, np.ones((64, 64), bool))[:a.shape[0], :a.shape[1]]
    codes = np.sort(CODES)
    shifted = codes[(np.searchsorted(codes, np.where(a == 255, codes[0], a)) + 1) % len(codes)]
    b = np.where(change & (a != 255), shifted, a).astype(np.uint8)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(b, 1)
    return out


def step_baseline(path: str, path2: str) -> dict:
    t0 = time.perf_counter()
    with rasterio.open(path) as s1, rasterio.open(path2) as s2:
        a, b = s1.read(1), s2.read(1)
    valid = (a != 255) & (b != 255)
    pairs = np.bincount(a[valid].astype(np.int32) * 256 + b[valid], minlength=65536)
    lut = np.zeros((4, 256))
    for c, d in DENSITY.items():
        lut[:, c] = d
    idx = np.nonzero(pairs)[0]
    c1, c2, n = idx // 256, idx % 256, pairs[idx]
    change = ((lut[:, c2] - lut[:, c1]) * n * 0.09).sum(axis=1)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "pixels": int(a.size), "change_t": change.tolist()}


def step_ecorest(path: str, path2: str, url: str) -> dict:
    from ecorest.etl.legends import load_legend
    from ecorest.etl.params import load_params
    from ecorest.etl.rasters import load_raster
    from ecorest.run import run_assessment

    tmp = Path(tempfile.mkdtemp(prefix="ecorest-bench-carbon-"))
    name, dburl, conn = aligned_region_db(url, path)
    try:
        legend = tmp / "legend.csv"
        # one IPCC land category: a change between its classes takes the new density at once
        # (biomass), and with 1-year SOC and dead-organic-matter transitions (below) the
        # model's change over the 10-year period is the plain stock difference the numpy
        # baseline computes
        legend.write_text("class_code,name_en,ipcc_category\n"
                          + "".join(f"{c},c{c},grassland\n" for c in CODES))
        load_legend(conn, "bench", legend)
        pools = tmp / "pools.csv"
        pools.write_text("lucode,C_above,C_below,C_soil,C_dead\n" + "".join(
            f"{c},{d[0]},{d[1]},{d[2]},{d[3]}\n" for c, d in DENSITY.items()))
        load_params(conn, pools, region="bench", name="bench", kind="carbon_pools",
                    source_text="bench")
        for p, epoch in ((path, "2000"), (path2, "2010")):
            load_raster(conn, "bench", "landcover", p, epoch=epoch, legend="bench",
                        show_progress=False)
        t0 = time.perf_counter()
        conn.execute("""
            select sum(x.pixels) from raster.catalog c1
            join raster.catalog c2 on c2.epoch_label = '2010'
            join raster.tiles a on a.catalog_id = c1.catalog_id
            join raster.tiles b on b.catalog_id = c2.catalog_id and b.tile_x = a.tile_x
                               and b.tile_y = a.tile_y
            cross join lateral raster.crosstab(null, a.rast, b.rast) x
            where c1.epoch_label = '2000'""").fetchone()
        crosstab_s = time.perf_counter() - t0
        conn.rollback()
        t0 = time.perf_counter()
        with server_peak(name) as server:
            run_id = run_assessment(conn, dburl, "bench", work_dir=tmp / "dbt",
                                    dbt_vars={"soc_transition_years": 1,
                                              "dom_transition_years": 1, "dom_loss_years": 1})
        run_s = time.perf_counter() - t0
        # a second run with nothing changed: found, not rebuilt
        t0 = time.perf_counter()
        again = run_assessment(conn, dburl, "bench", work_dir=tmp / "dbt",
                               dbt_vars={"soc_transition_years": 1,
                                         "dom_transition_years": 1, "dom_loss_years": 1})
        noop_s = time.perf_counter() - t0
        assert again == run_id
        models = model_timings(tmp / "dbt")
        change = [r[0] for r in conn.execute(
            "select change_t from marts.carbon_stock_changes where run_id = %s and "
            "zone_set = 'region' order by array_position(array['agb','bgb','soc','dead_wood'], "
            "pool)", (run_id,))]
        conn.close()
    finally:
        _drop(url, name)
    return {"crosstab_s": crosstab_s, "run_s": run_s, "change_t": change, "models": models,
            "noop_s": noop_s, "server_peak_mb": server["peak_mb"],
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def model_timings(work_dir: Path) -> dict[str, float]:
    """Seconds per dbt node of the last dbt invocation under ``work_dir`` (run_results.json)."""
    f = work_dir / "target" / "run_results.json"
    if not f.exists():
        return {}
    res = json.loads(f.read_text())["results"]
    # unique ids: model.<package>.<name>, test.<package>.<name>.<hash>
    return {r["unique_id"].split(".")[2]: round(r["execution_time"], 2) for r in res}


if __name__ == "__main__":
    step, args = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"baseline": step_baseline, "ecorest": step_ecorest}[step](**args)))
