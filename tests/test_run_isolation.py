"""Runs do not corrupt each other: one run at a time per database (the run slot, an advisory
lock held by the `ecorest run` process); a second run waits, saying which run it waits for, and
both give the results each gives alone. A run computes with the raster layers it recorded at
its start, whatever is loaded meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ecorest.etl.legends import load_legend
from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import RUN_LOCK, run_assessment
from helpers import footprint, write_raster

LEGEND = "class_code,name_en,ipcc_category\n1,forest,forest_land\n2,grassland,grassland\n"
DENSITIES = "lucode,C_above,C_below,C_soil,C_dead\n1,100,0,50,0\n2,10,0,80,0\n"
#: 64 x 64 pixels of 0.09 ha
HA = 64 * 64 * 0.09


def small_region(conn: psycopg.Connection, tmp: Path, name: str,
                 epochs: dict[str, np.ndarray]) -> None:
    """Region ``name`` on the small UTM test grid with its own legend, land-cover epochs and
    carbon_pools parameter set (forest 150 t C/ha, grassland 90 t C/ha)."""
    folder = tmp / name
    folder.mkdir()
    paths = {e: write_raster(folder / f"lc_{e}.tif", a.astype(np.uint8), nodata=255)
             for e, a in epochs.items()}
    first = next(iter(paths.values()))
    (folder / "legend.csv").write_text(LEGEND)
    (folder / "params.csv").write_text(DENSITIES)
    create_region(conn, name, footprint(folder, first), align_to=str(first),
                  allow_non_equal_area=True)
    load_legend(conn, name, folder / "legend.csv")
    for epoch, path in paths.items():
        load_raster(conn, name, "landcover", path, epoch=epoch, legend=name, show_progress=False)
    load_params(conn, folder / "params.csv", region=name, name=name, kind="carbon_pools",
                source_text="test")


def forest_to_grass(share: float) -> dict[str, np.ndarray]:
    """All forest in 2000; the first ``share`` of the columns grassland in 2010."""
    t2 = np.full((64, 64), 1)
    t2[:, : int(64 * share)] = 2
    return {"2000": np.full((64, 64), 1), "2010": t2}


def alpha_run(conn: psycopg.Connection, db_url: str, tmp: Path) -> int:
    """Region alpha (forest turning half to grassland) with one succeeded run; its id (the
    builder of the fixture ``prebuilt`` for the tests that start from it)."""
    small_region(conn, tmp, "alpha", forest_to_grass(0.5))
    return run_assessment(conn, db_url, "alpha", work_dir=tmp / "dbt")


def stocks(conn: psycopg.Connection, run_id: int) -> list[tuple]:
    """A run's region-wide stocks per epoch, class and pool (t C, rounded)."""
    rows = conn.execute(
        "select epoch_label, class_code, pool, round(sum(carbon_t)::numeric, 3) "
        "from marts.carbon_stocks where run_id = %s and zone_set = 'region' "
        "group by 1, 2, 3 order by 1, 2, 3", (run_id,)).fetchall()
    conn.rollback()
    return rows


def cli_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOREST_")}
    env.update(COLUMNS="300", ECOREST_HOME=str(tmp / "home"))
    return env


def start_run(db_url: str, tmp: Path, region: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ecorest", "--dsn", db_url, "run", region,
                             "--force"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(tmp), cwd=tmp)


def wait_for(conn: psycopg.Connection, query: str, params: tuple, proc: subprocess.Popen,
             what: str, timeout: float = 300):
    """Poll ``query`` until it returns a row with a true first column, while ``proc`` runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = conn.execute(query, params).fetchone()
        if row and row[0]:
            return row
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_two_regions_at_once_are_serialised_and_both_right(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        small_region(conn, tmp_path, "alpha", forest_to_grass(0.5))
        small_region(conn, tmp_path, "beta", {"2000": np.full((64, 64), 2),
                                              "2010": np.full((64, 64), 2)})
        # each region alone: the reference
        alone = {r: stocks(conn, run_assessment(conn, db_url, r, work_dir=tmp_path / "dbt"))
                 for r in ("alpha", "beta")}
    # hand check of the 2000 stocks: forest 150 t C/ha, grassland 90 t C/ha
    assert float(sum(t for e, _, _, t in alone["alpha"] if e == "2000")) == \
        round(HA * 150, 3)
    assert float(sum(t for e, _, _, t in alone["beta"] if e == "2000")) == round(HA * 90, 3)
    with psycopg.connect(db_url, autocommit=True) as watch:
        first = start_run(db_url, tmp_path, "alpha")
        # alpha has recorded its run (and holds the slot) before beta starts
        run_a = wait_for(watch, "select run_id from etl.assessment_runs a join registry.regions "
                         "g using (region_id) where g.name = 'alpha' and a.status = 'running'",
                         (), first, "alpha's run was recorded")[0]
        second = start_run(db_url, tmp_path, "beta")
        # beta waits for the slot while alpha computes
        wait_for(watch, "select count(*) from pg_locks l join pg_stat_activity s using (pid) "
                 "where l.locktype = 'advisory' and not l.granted and l.classid::bigint = %s "
                 "and s.application_name = %s", (RUN_LOCK, f"ecorest-run-{second.pid}"),
                 second, "beta waited for the run slot")
        out_a, err_a = first.communicate(timeout=600)
        out_b, err_b = second.communicate(timeout=600)
    assert first.returncode == 0, err_a
    assert second.returncode == 0, err_b
    assert f"waiting for run {run_a} (region alpha, started" in " ".join(err_b.split())
    with psycopg.connect(db_url) as conn:
        runs = dict(conn.execute(
            "select g.name, max(a.run_id) from etl.assessment_runs a join registry.regions g "
            "using (region_id) where a.status = 'succeeded' group by 1").fetchall())
        assert runs["alpha"] == run_a and runs["beta"] > run_a
        assert f"assessment run {runs['beta']} of beta: succeeded" in out_b
        # both right: the same numbers as alone, each under its own region
        assert stocks(conn, runs["alpha"]) == alone["alpha"]
        assert stocks(conn, runs["beta"]) == alone["beta"]
        shown = conn.execute("select region_name, run_id, round(sum(carbon_t)::numeric, 3) "
                             "from bi.carbon_stocks where zone_set = 'region' and "
                             "epoch_label = '2000' group by 1, 2 order by 1").fetchall()
        assert [(r, i, float(t)) for r, i, t in shown] == [
            ("alpha", runs["alpha"], round(HA * 150, 3)),
            ("beta", runs["beta"], round(HA * 90, 3))]
        assert conn.execute("select count(*) from etl.assessment_runs "
                            "where status <> 'succeeded'").fetchone() == (0,)


def test_a_second_run_of_the_same_region_waits_then_reuses_the_first(
        db_url: str, tmp_path: Path, caplog) -> None:
    """Started while the first run computes, a run of the same region with the same inputs
    waits for it, saying so, and then finds nothing new to compute."""
    with psycopg.connect(db_url) as conn, psycopg.connect(db_url, autocommit=True) as watch:
        small_region(conn, tmp_path, "alpha", forest_to_grass(0.5))
        first = start_run(db_url, tmp_path, "alpha")
        run_a = wait_for(watch, "select run_id from etl.assessment_runs "
                         "where status = 'running'", (), first, "the first run was recorded")[0]
        with caplog.at_level("INFO", logger="ecorest.run"):
            second = run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt")
        out, err = first.communicate(timeout=600)
        assert first.returncode == 0, err
        assert second == run_a
        assert any(r.getMessage().startswith(f"waiting for run {run_a} (region alpha, started")
                   for r in caplog.records), caplog.text
        assert conn.execute("select run_id, status from etl.assessment_runs").fetchall() == [
            (run_a, "succeeded")]
