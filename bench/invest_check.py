"""A verifier's check of the ecosystem-service models against InVEST 3.20.2:
``python -m bench.invest_check``.

It runs InVEST 3.20.2 on the bundled Willamette inputs (the files the demo's service regions
load): SDR with threshold flow accumulation 1000, k_b 2, IC0 0.5, SDR_max 0.8, l_max 122, MFD
and D8; annual water yield with Z 5; habitat quality with the access polygons, k 0.05 and 0.5;
each on the current (~1990) and the future (2050) land cover. Then it reads ecorest's results
of the demo regions willamette_services and willamette_habitat (marts.ecosystem_services) from
a database: the embedded cluster of --home, or --dsn. The regions' inputs are loaded as the
demo loads them when missing, and `ecorest run` runs with the matching settings unless a run
with those settings and inputs exists already. It prints, per region and watershed, soil loss
(USLE) and avoided erosion (t/yr), water-yield volume (m³/yr: InVEST's mean x polygon area
against ecorest's mean x area and ecorest's pixel sum) and mean habitat quality, with the
relative difference and PASS where it is within 0.5 %.

InVEST is a checking tool outside ecorest, run by the interpreter of --invest-python (default:
this one) in a child process. Exit status: 0 all PASS, 1 some FAIL, 2 InVEST or the sample data
missing.

    python -m bench.invest_check --home /tmp/check-home --invest-python /opt/invest/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

INVEST_VERSION = "3.20.2"
TOLERANCE = 0.005
EPOCHS = {"1990": "cur", "2050": "fut"}
SDR_SETTINGS = {"threshold_flow_accumulation": 1000, "sdr_k_b": 2, "sdr_ic_0": 0.5,
                "sdr_max": 0.8, "l_max": 122}
HQ_K = (0.05, 0.5)
ZHANG_Z = 5

BUILD_HELP = f"""natcap.invest {INVEST_VERSION} is not importable by {{python}}.
Build it in a virtual environment of its own (it is a checking tool, not part of ecorest):
  apt-get install libgdal-dev python3-dev g++
  python3 -m venv /opt/invest && . /opt/invest/bin/activate
  pip install --upgrade pip setuptools wheel setuptools_scm "cython<3.1" "numpy<2.3"
  pip install --no-build-isolation "gdal==$(gdal-config --version)"  # the system GDAL's version
  pip install scipy shapely pandas rtree psutil taskgraph pint
  pip install --no-build-isolation pygeoprocessing
  pip install --no-build-isolation natcap.invest=={INVEST_VERSION}
then: python -m bench.invest_check --invest-python /opt/invest/bin/python"""


# ------------------------------------------------------------------------------------------------
# InVEST (runs in the child process, with the interpreter that has natcap.invest)
# ------------------------------------------------------------------------------------------------

def _invest_runs(sample: Path, ws: Path) -> list[tuple[str, str, dict]]:
    w = sample / "invest_willamette"
    es = w / "ecosystem_services"
    wy, hq = es / "water_yield", es / "habitat_quality"
    runs = []
    for label, tag in EPOCHS.items():
        lulc = str(es / f"derived_lulc_{tag}_demgrid.tif")
        for algo in ("mfd", "d8"):
            runs.append(("sdr", f"sdr_{algo}_{label}", {
                "dem_path": str(w / "dem_30m.tif"),
                "erosivity_path": str(es / "sdr" / "derived_erosivity_const_demgrid.tif"),
                "erodibility_path": str(es / "sdr" / "derived_erodibility_demgrid.tif"),
                "lulc_path": lulc, "watersheds_path": str(w / "watersheds.shp"),
                "biophysical_table_path": str(es / "sdr" / "biophysical_table_sdr.csv"),
                "drainage_path": "", "flow_dir_algorithm": algo,
                "threshold_flow_accumulation": SDR_SETTINGS["threshold_flow_accumulation"],
                "k_param": SDR_SETTINGS["sdr_k_b"], "ic_0_param": SDR_SETTINGS["sdr_ic_0"],
                "sdr_max": SDR_SETTINGS["sdr_max"], "l_max": SDR_SETTINGS["l_max"]}))
        runs.append(("awy", f"awy_{label}", {
            "lulc_path": lulc,
            "depth_to_root_rest_layer_path":
                str(wy / "derived_depth_root_restricting_const_demgrid.tif"),
            "precipitation_path": str(wy / "derived_precip_demgrid.tif"),
            "pawc_path": str(wy / "derived_pawc_const_demgrid.tif"),
            "eto_path": str(wy / "derived_eto_const_demgrid.tif"),
            "watersheds_path": str(w / "watersheds.shp"),
            "sub_watersheds_path": str(w / "subwatersheds.shp"),
            "biophysical_table_path": str(wy / "biophysical_table_awy.csv"),
            "seasonality_constant": ZHANG_Z, "demand_table_path": "",
            "valuation_table_path": ""}))
    for k in HQ_K:
        runs.append(("hq", f"hq_k{k}", {
            "lulc_cur_path": str(w / "hq_epochs_subarea" / "lc_samp_cur_b.tif"),
            "lulc_fut_path": str(w / "hq_epochs_subarea" / "lc_samp_fut_b.tif"),
            "lulc_bas_path": "",
            "threats_table_path": str(hq / "threats_willamette_local.csv"),
            "access_vector_path": str(hq / "access_samp.shp"),
            "sensitivity_table_path": str(hq / "sensitivity_willamette.csv"),
            "half_saturation_constant": k}))
    for _, name, args in runs:
        args.update(workspace_dir=str(ws / name), results_suffix="", n_workers=-1)
    return runs


def _features(path: Path, key: str) -> dict[str, dict]:
    from osgeo import ogr

    ds = ogr.Open(str(path))
    layer = ds.GetLayer()
    return {str(f.GetField(key)): f.items() for f in layer}


def _raster_mean(path: Path) -> tuple[float, int]:
    import numpy as np
    from osgeo import gdal

    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    a = band.ReadAsArray().astype(np.float64)
    nd = band.GetNoDataValue()
    ok = np.isfinite(a) if nd is None else (a != nd) & np.isfinite(a)
    return float(a[ok].mean()), int(ok.sum())


def invest_child(sample: str, workspace: str) -> dict:
    """Run the InVEST models whose outputs are missing under ``workspace``; their numbers."""
    import logging

    import natcap.invest
    from natcap.invest.annual_water_yield import annual_water_yield
    from natcap.invest.habitat_quality import habitat_quality
    from natcap.invest.sdr import sdr

    logging.basicConfig(level=logging.WARNING)
    ws = Path(workspace)
    models = {"sdr": sdr, "awy": annual_water_yield, "hq": habitat_quality}
    done = {"sdr": "watershed_results_sdr.shp", "awy": "output/watershed_results_wyield.shp",
            "hq": "quality_f.tif"}
    out = {"version": natcap.invest.__version__, "seconds": {}, "sdr": {}, "awy": {}, "hq": {}}
    for model, name, args in _invest_runs(Path(sample), ws):
        run_dir = Path(args["workspace_dir"])
        took = run_dir / "seconds.txt"
        if not (run_dir / done[model]).exists():
            t0 = time.perf_counter()
            models[model].execute(args)
            took.write_text(f"{time.perf_counter() - t0:.1f}\n")
        if took.exists():
            out["seconds"][name] = float(took.read_text())
        if model == "sdr":
            out["sdr"][name] = {ws_id: {"usle": f["usle_tot"], "avoided": f["avoid_eros"]}
                                for ws_id, f in _features(
                                    run_dir / "watershed_results_sdr.shp", "ws_id").items()}
        elif model == "awy":
            res = {}
            for zone_set, stem, key in (("watershed", "watershed", "ws_id"),
                                        ("subwatershed", "subwatershed", "subws_id")):
                for zid, f in _features(run_dir / "output" / f"{stem}_results_wyield.shp",
                                        key).items():
                    res[f"{zone_set}:{zid}"] = {"mean": f["wyield_mn"], "vol": f["wyield_vol"]}
            out["awy"][name] = res
        else:
            out["hq"][name] = {label: _raster_mean(run_dir / f"quality_{tag[0]}.tif")[0]
                               for label, tag in EPOCHS.items()}
    return out


# ------------------------------------------------------------------------------------------------
# ecorest (the project's API: loads as the demo does, runs, marts.ecosystem_services)
# ------------------------------------------------------------------------------------------------

SERVICES, HABITAT = "willamette_services", "willamette_habitat"


def _ensure_regions(conn, sample: Path, derived: Path) -> None:
    """Load the service regions' inputs as `ecorest demo` does (each load is idempotent)."""
    from ecorest import demo, samples

    have = {r for (r,) in conn.execute(
        "select name from registry.regions where name = any(%s)",
        ([SERVICES, HABITAT],))}
    conn.rollback()
    if have == {SERVICES, HABITAT}:
        return
    samples.derive(sample, derived)
    wanted = [(n, s) for n, s in demo.steps(sample, derived)
              if n == "legend willamette" or n in {m for m, _ in demo.services_steps(
                  sample, derived, lambda *a, **k: None)}]
    print(f"loading the inputs of {SERVICES} and {HABITAT} ({len(wanted)} steps)", flush=True)
    for _name, step in wanted:
        step(conn)
        conn.rollback()


def ecorest_results(settings, sample: Path, configs: dict[str, tuple[str, dict]]) -> dict:
    """{config: (run id, {(zone_set, zone_code, epoch): mart row}, model seconds)}."""
    from ecorest.errors import RunError
    from ecorest.run import run_assessment
    from ecorest.store import db as dbmod
    from ecorest.store.cluster import EmbeddedCluster

    if settings.uses_embedded_cluster:
        EmbeddedCluster(settings.home).start()
    dbmod.migrate(dbmod.resolve_url(settings, create=True))
    url = dbmod.resolve_url(settings)
    out = {}
    with dbmod.session(settings) as conn:
        _ensure_regions(conn, sample, settings.home / "sample-derived")
        for config, (region, dbt_vars) in configs.items():
            t0 = time.perf_counter()
            try:
                run_id = run_assessment(conn, url, region, work_dir=settings.home / "dbt",
                                        dbt_vars=dbt_vars)
            except RunError as exc:
                conn.rollback()
                out[config] = _from_tiles(conn, settings.home / "dbt", region, exc)
                continue
            took = time.perf_counter() - t0
            rows = conn.execute("""
                select zone_set, zone_code, epoch_label, soil_loss_t_per_yr,
                       soil_retention_t_per_yr, water_yield_m3, water_yield_m3_by_area,
                       habitat_quality_mean
                from marts.ecosystem_services where run_id = %s""", (run_id,)).fetchall()
            timings = conn.execute(
                "select coalesce(timings -> 'models_s', '{}'::jsonb) from etl.assessment_runs "
                "where run_id = %s", (run_id,)).fetchone()[0] or {}
            conn.rollback()
            models = dict(timings.items() if isinstance(timings, dict) else timings)
            out[config] = (run_id, {(r[0], str(r[1]), r[2]): r[3:] for r in rows},
                           {"run_s": took, **{k: v for k, v in models.items() if k in (
                               "int_soil_tiles", "int_water_tiles", "int_habitat_tiles")}})
    return out


def _from_tiles(conn, work_dir: Path, region: str, exc: Exception) -> tuple:
    """A run that failed after building its service tiles (a later dbt test failed): its mart
    rows are removed, but the int_soil/int_water/int_habitat tiles it built are still there
    (until the next run) and are summed here by zone as marts.ecosystem_services sums them."""
    results = work_dir / "target" / "run_results.json"
    built = {r["unique_id"].split(".")[-1]: r["execution_time"]
             for r in json.loads(results.read_text())["results"]
             if r["status"] == "success"} if results.exists() else {}
    need = {"int_soil_tiles", "int_water_tiles", "int_habitat_tiles", "int_ident_zone_tiles"}
    if not need <= set(built):
        raise exc
    first = " ".join(str(exc).splitlines()[:2])[:300]
    print(f"ecorest run of {region} failed ({first}); the service tiles it built before the "
          "failure are summed instead of reading the mart", flush=True)
    rows = conn.execute("""
        with tiles as (
            select 'soil' as src, epoch_label, tile_x, tile_y, rast
            from intermediate.int_soil_tiles
            union all
            select 'water', epoch_label, tile_x, tile_y, rast from intermediate.int_water_tiles
            union all
            select 'habitat', epoch_label, tile_x, tile_y, rast
            from intermediate.int_habitat_tiles
        ), sums as (
            select t.src, t.epoch_label, 'region' as zone_set, 0 as zone_id, z.band,
                   sum(z.pixels)::float8 as px, sum(z.total)::float8 as tot
            from tiles as t cross join lateral raster.np_zonal(null, t.rast::bytea) as z
            group by 1, 2, 3, 4, 5
            union all
            select t.src, t.epoch_label, zt.zone_set, z.zone_id, z.band, sum(z.pixels)::float8,
                   sum(z.total)::float8
            from intermediate.int_ident_zone_tiles as zt
            join tiles as t on t.tile_x = zt.tile_x and t.tile_y = zt.tile_y
            cross join lateral raster.np_zonal(zt.rast::bytea, t.rast::bytea) as z
            where z.zone_id <> 0
            group by 1, 2, 3, 4, 5
        )
        select s.src, s.epoch_label, s.zone_set, coalesce(zn.zone_code, r.name), s.band, s.px,
               s.tot, st_area(st_transform(coalesce(zn.geom, r.boundary), r.srid))::float8,
               r.pixel_size_m::float8
        from sums as s
        cross join registry.regions as r
        left join registry.zones as zn
          on zn.zone_id = s.zone_id and zn.zone_set = s.zone_set and zn.region_id = r.region_id
        where r.name = %s""", (region,)).fetchall()
    conn.rollback()
    acc: dict = {}
    for src, label, zone_set, code, band, px, tot, area_m2, cell in rows:
        ha = cell * cell / 1e4
        v = acc.setdefault((zone_set, str(code), label), [None] * 5)
        if src == "soil" and band in (2, 3):
            v[band - 2] = tot * ha
        elif src == "water" and band == 1:
            v[2] = tot * ha * 10.0
            v[3] = tot / px * area_m2 / 1000.0 if px else None
        elif src == "habitat" and band == 1:
            v[4] = tot / px if px else None
    failed = re.search(r"assessment run (\d+) failed", str(exc))
    return (f"{failed.group(1)} (failed; tiles)" if failed else "failed",
            {k: tuple(v) for k, v in acc.items()},
            {k: built[k] for k in ("int_soil_tiles", "int_water_tiles", "int_habitat_tiles")})


CONFIGS = {
    "mfd": (SERVICES, {"flow_direction": "mfd", "zhang_z": ZHANG_Z, **SDR_SETTINGS}),
    "d8": (SERVICES, {"flow_direction": "d8", "zhang_z": ZHANG_Z, **SDR_SETTINGS}),
    **{f"k{k}": (HABITAT, {"hq_half_saturation": k}) for k in HQ_K},
}


# ------------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------------

def compare(inv: dict, eco: dict) -> list[tuple]:
    """Rows (check, epoch, zone, InVEST, ecorest, relative difference)."""
    rows = []

    def add(check, epoch, zone, a, b, gated=True):
        rel = (b - a) / a if a and b is not None else float("nan")
        rows.append((check, epoch, zone, a, b, rel, gated))

    for label in EPOCHS:
        for algo in ("mfd", "d8"):
            sdr_ws = inv["sdr"][f"sdr_{algo}_{label}"]
            _, mart, _ = eco[algo]
            for what, col, key in (("soil loss (USLE) t/yr", 0, "usle"),
                                   ("avoided erosion t/yr", 1, "avoided")):
                name = f"{what}, {algo.upper()}"
                for ws_id in sorted(sdr_ws, key=int):
                    got = mart.get(("watershed", ws_id, label))
                    add(name, label, f"watershed {ws_id}", sdr_ws[ws_id][key],
                        got[col] if got else None)
                got = mart.get(("region", SERVICES, label))
                add(name, label, "region", sum(v[key] for v in sdr_ws.values()),
                    got[col] if got else None)
        awy = inv["awy"][f"awy_{label}"]
        _, mart, _ = eco["mfd"]
        for col, what in ((3, "water yield m³/yr, mean x area"),
                          (2, "water yield m³/yr, pixel sum")):
            for key in sorted(awy, key=lambda s: (s.split(":")[0], int(s.split(":")[1]))):
                zone_set, zid = key.split(":")
                got = mart.get((zone_set, zid, label))
                add(what, label, f"{zone_set} {zid}", awy[key]["vol"],
                    got[col] if got else None, gated=col == 3)
            got = mart.get(("region", SERVICES, label))
            add(what, label, "region (Σ watersheds)",
                sum(v["vol"] for k, v in awy.items() if k.startswith("watershed:")),
                got[col] if got else None, gated=col == 3)
        for k in HQ_K:
            _, mart, _ = eco[f"k{k}"]
            got = mart.get(("region", HABITAT, label))
            add(f"mean habitat quality, k {k}", label, "region",
                inv["hq"][f"hq_k{k}"][label], got[4] if got else None)
    return rows


def _num(x) -> str:
    if x is None:
        return "—"
    x = float(x)
    return f"{x:,.6f}" if abs(x) < 10 else f"{x:,.1f}"


def _pct(rel: float) -> str:
    if not math.isfinite(rel):
        return "—"
    return f"{rel * 100:+.4f}" if abs(rel) >= 1e-6 else f"{rel * 100:+.1e}"


def print_table(rows: list[tuple], markdown: bool = False) -> int:
    """The table; returns the number of FAILs (rows of another definition do not count)."""
    fails = 0
    if markdown:
        print("| check | epoch | zone | InVEST 3.20.2 | ecorest | Δ % | |")
        print("|---|---|---|---:|---:|---:|---|")
    else:
        print(f"{'check':34} {'epoch':5} {'zone':22} {'InVEST 3.20.2':>16} {'ecorest':>16} "
              f"{'Δ %':>9}")
    for check, epoch, zone, a, b, rel, gated in rows:
        ok = math.isfinite(rel) and abs(rel) <= TOLERANCE
        fails += gated and not ok
        verdict = ("PASS" if ok else "FAIL") if gated else "(other definition)"
        if markdown:
            print(f"| {check} | {epoch} | {zone} | {_num(a)} | {_num(b)} | {_pct(rel)} | "
                  f"{verdict} |")
        else:
            print(f"{check:34} {epoch:5} {zone:22} {_num(a):>16} {_num(b):>16} "
                  f"{_pct(rel):>9} {verdict}")
    return fails


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.invest_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=os.environ.get("ECOREST_HOME"),
                    help="Data folder of the embedded cluster holding (or to hold) the demo "
                         "regions.")
    ap.add_argument("--dsn", default=os.environ.get("ECOREST_DATABASE_URL"),
                    help="Use this PostgreSQL+PostGIS server instead.")
    ap.add_argument("--invest-python", default=sys.executable,
                    help="Interpreter with natcap.invest 3.20.2 (default: this one).")
    ap.add_argument("--workspace", default=None,
                    help="InVEST's workspace (default: invest-check/ in the data folder); "
                         "models whose outputs are there are not run again.")
    ap.add_argument("--markdown", action="store_true", help="Print the table as Markdown.")
    args = ap.parse_args(argv)

    probe = subprocess.run([args.invest_python, "-c",
                            "import natcap.invest; print(natcap.invest.__version__)"],
                           capture_output=True, text=True, check=False)
    version = probe.stdout.strip()
    if probe.returncode != 0 or version != INVEST_VERSION:
        print(BUILD_HELP.format(python=args.invest_python)
              + (f"\n(found natcap.invest {version})" if probe.returncode == 0 else ""),
              file=sys.stderr)
        return 2

    from ecorest import samples
    from ecorest.settings import Settings

    try:
        sample = samples.locate()
    except Exception as exc:  # noqa: BLE001 - the message says where it looked
        print(f"sample data not found: {exc}", file=sys.stderr)
        return 2
    if not (sample / "invest_willamette" / "ecosystem_services").is_dir():
        print(f"{sample} has no invest_willamette/ecosystem_services", file=sys.stderr)
        return 2
    settings = Settings.from_env(dsn=args.dsn, home=args.home)
    workspace = Path(args.workspace or settings.home / "invest-check")
    workspace.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    child = subprocess.run([args.invest_python, "-m", "bench.invest_check", "--invest-child",
                            str(sample), str(workspace)], capture_output=True, text=True,
                           check=False, cwd=Path(__file__).resolve().parents[1])
    if child.returncode != 0:
        print(f"InVEST failed:\n{child.stderr[-4000:]}", file=sys.stderr)
        return 2
    inv = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"InVEST {inv['version']} under {workspace} ({time.perf_counter() - t0:.0f} s now; "
          "each model's own run: "
          + ", ".join(f"{k} {v:.0f} s" for k, v in inv["seconds"].items()) + ")", flush=True)
    eco = ecorest_results(settings, sample, CONFIGS)
    for config, (run_id, _, timing) in eco.items():
        print(f"ecorest {CONFIGS[config][0]} {config}: run {run_id} ("
              + ", ".join(f"{k} {v:.1f} s" for k, v in timing.items() if v == v) + ")")
    fails = print_table(compare(inv, eco), markdown=args.markdown)
    print(f"PASS within {TOLERANCE * 100:g} %: {'all' if not fails else f'{fails} FAIL'}. "
          "Water yield: InVEST's volume is the polygon's mean depth x its area (pixels without "
          "land cover count with the mean), as ecorest's water_yield_m3_by_area; ecorest's "
          "pixel sum (water_yield_m3) counts only pixels with a result, so it is smaller where "
          "a polygon holds pixels without land cover (shown, not judged)")
    return 1 if fails else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--invest-child":
        print(json.dumps(invest_child(sys.argv[2], sys.argv[3])))
    else:
        sys.exit(main())
