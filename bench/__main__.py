"""Run the benchmarks: ``python -m bench`` (or ``./dev bench``).

    python -m bench                      load benchmark at full size (10000² land cover,
                                         10 x 5000² NDVI stack)
    python -m bench --scale 0.25         the same at a quarter of the edge length (quick look)
    python -m bench --tile-sizes 128,256,512   also compare tile sizes
    python -m bench --parts identification     only some parts (scenario: the whole assessment
                                         stage by stage, bench/scenario.py; load, carbon,
                                         identification, services: the service kernels,
                                         bench/services.py; scaleout: one server vs data
                                         nodes, bench/scaleout.py, then the scenario on one
                                         server and on a coordinator with 2 nodes)

Each measured step runs in a fresh child process, which reports its wall time and its peak
resident memory; the baseline is rasterio's own read + warp of the same file onto the same grid.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import load as load_bench


def child(step: str, module: str = "bench.load", **kwargs) -> dict:
    """Run one step in a fresh interpreter; returns its JSON report."""
    cmd = [sys.executable, "-m", module, step, json.dumps(kwargs)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(),
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step {step} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="Edge-length factor of the generated rasters (1.0 = full size).")
    ap.add_argument("--tile-sizes", default="256", help="Comma-separated tile sizes to try.")
    ap.add_argument("--parts", default="scenario,load,carbon,identification",
                    help="Comma-separated parts to run: scenario, load, carbon, identification, "
                         "services, scaleout (the last two not run by default).")
    ap.add_argument("--workdir", default=None, help="Where to write the generated rasters.")
    ap.add_argument("--dsn", default=os.environ.get("ECOREST_DATABASE_URL"),
                    help="Server to use (default: an embedded cluster under .ecorest-bench/).")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ecorest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.dsn or load_bench.bench_cluster_url()
    n_lc = int(10_000 * args.scale)
    n_ndvi = int(5_000 * args.scale)
    t0 = time.monotonic()
    files = load_bench.generate(work, n_lc, n_ndvi)
    print(f"generated inputs in {time.monotonic() - t0:.0f} s under {work}")
    parts = set(args.parts.split(","))
    if "load" in parts:
        print(f"{'case':34} {'Mpx':>8} {'baseline s':>11} {'ecorest s':>10} {'Mpx/s':>8} "
              f"{'ratio':>6} {'peak MB':>8}")
    for tile in [int(t) for t in args.tile_sizes.split(",")] if "load" in parts else []:
        for case, path, layer, extra in (
                (f"land cover {n_lc}² (tile {tile})", files["landcover"], "landcover", {}),
                (f"NDVI 10 x {n_ndvi}² (tile {tile})", files["ndvi"], "ndvi",
                 {"epoch_from": "band", "scale": 0.0001})):
            base = child("baseline", path=str(path), url=url, tile=tile, layer=layer)
            ours = child("load", path=str(path), url=url, tile=tile, layer=layer, **extra)
            mpx = ours["pixels"] / 1e6
            print(f"{case:34} {mpx:8.1f} {base['seconds']:11.2f} {ours['seconds']:10.2f} "
                  f"{mpx / ours['seconds']:8.1f} {ours['seconds'] / base['seconds']:6.2f} "
                  f"{ours['peak_mb']:8.0f}")
    if "load" in parts:
        print("ratio = ecorest load (validate + warp + tile + COPY, committed) / rasterio read "
              "+ warp of the same file onto the same grid; peak MB = the loading process's "
              "maximum resident memory")
    if "scenario" in parts:             # bench/scenario.py (its own generated inputs)
        from . import scenario
        scenario.main(["--size", str(n_lc), "--workdir", str(work / "scenario"), "--dsn", url])
    if "carbon" in parts:
        carbon(files, url, n_lc)
    if "identification" in parts:
        identification(files, url, n_ndvi)
    if "services" in parts:             # bench/services.py (its own generated inputs)
        from . import services
        soil = ",".join(str(max(64, int(n * args.scale))) for n in (1000, 2000, 4000))
        services.main(["--size", str(n_lc), "--soil-sizes", soil, "--workdir", str(work),
                       "--dsn", url])
    if "scaleout" in parts:             # bench/scaleout.py (its own local clusters)
        size = str(max(256, int(2048 * args.scale)))
        subprocess.run([sys.executable, "-m", "bench.scaleout", "--size", size], check=True)
        # the whole scenario (10^8 px at full scale) on one server and on a coordinator with
        # two data nodes (local clusters beside the benchmark's), compared
        from . import scenario
        scenario.main(["--size", str(n_lc), "--workdir", str(work / "scenario"), "--dsn", url,
                       "--skip-baselines", "--nodes", "2"])


def carbon(files: dict, url: str, n_lc: int) -> None:
    from . import carbon as carbon_bench

    t2 = carbon_bench.second_epoch(files["landcover"])
    base = child("baseline", "bench.carbon", path=str(files["landcover"]), path2=str(t2))
    ours = child("ecorest", "bench.carbon", path=str(files["landcover"]), path2=str(t2),
                 url=url)
    agree = all(abs(a - b) <= 1e-6 * max(1.0, abs(a))
                for a, b in zip(base["change_t"], ours["change_t"], strict=True))
    mpx = base["pixels"] / 1e6
    b = base["seconds"]
    print(f"\ncarbon and identification, two land-cover epochs of {n_lc}² ({mpx:.0f} Mpx each; "
          "the identification grades the carbon density):")
    print(f"  {'step':52} {'s':>8} {'ratio':>6}")
    print(f"  {'numpy: read both, bincount of class pairs, change':52} {b:8.2f} {1:6.2f}")
    print(f"  {'ecorest raster.crosstab over all tile pairs':52} {ours['crosstab_s']:8.2f} "
          f"{ours['crosstab_s'] / b:6.2f}")
    print(f"  {'ecorest run (checks, carbon, identification, tests)':52} {ours['run_s']:8.2f} "
          f"{ours['run_s'] / b:6.2f}")
    print(f"  {'ecorest run again, nothing changed':52} {ours['noop_s']:8.2f}")
    print(f"  changes per pool agree with numpy: {agree}; peak memory: the run's client "
          f"{ours['peak_mb']:.0f} MB, one server process {ours['server_peak_mb']:.0f} MB")
    slow = sorted(ours["models"].items(), key=lambda kv: -kv[1])[:8]
    print("  slowest models (s): " + ", ".join(f"{k} {v:.1f}" for k, v in slow))


def identification(files: dict, url: str, n_ndvi: int) -> None:
    base = child("baseline", "bench.identification", path=str(files["ndvi"]))
    ours = child("ecorest", "bench.identification", path=str(files["ndvi"]), url=url)
    mpx = base["pixels"] / 1e6
    same = base["grade_counts"] == ours["grade_counts"]
    print(f"\nidentification, NDVI 10 x {n_ndvi}² ({mpx:.0f} Mpx): trend (Theil-Sen + "
          f"Mann-Kendall) numpy {base['trend_s']:.2f} s, ecorest kernel {ours['trend_s']:.2f} s "
          f"(ratio {ours['trend_s'] / base['trend_s']:.2f}); overlay + grading numpy "
          f"{base['overlay_s']:.2f} s, ecorest kernel {ours['overlay_s']:.2f} s (ratio "
          f"{ours['overlay_s'] / base['overlay_s']:.2f}); whole `ecorest run` "
          f"{ours['run_s']:.1f} s; grade areas agree: {same}")


if __name__ == "__main__":
    main()
