"""Ctrl-C during `ecorest run`: one line, exit 130, the run marked failed, and its work on the
server stopped (no dbt session of the command left behind)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psycopg
from test_carbon import tiny_region


def test_ctrl_c_stops_the_run_on_the_server(db_url: str, tmp_path) -> None:
    with psycopg.connect(db_url) as conn:
        tiny_region(conn, tmp_path, {"2000": np.full((64, 64), 1), "2010": np.full((64, 64), 2)},
                    "class_code,name_en,ipcc_category\n1,grass,grassland\n2,crop,cropland\n",
                    "lucode,C_above,C_below,C_soil,C_dead\n1,5,5,60,0\n2,5,0,40,0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOREST_")}
    env.update(COLUMNS="300", ECOREST_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, "-m", "ecorest", "--dsn", db_url, "run", "tiny"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    app = f"ecorest-dbt-{proc.pid}"
    with psycopg.connect(db_url, autocommit=True) as watch:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if watch.execute("select count(*) from pg_stat_activity where application_name = %s",
                             (app,)).fetchone()[0]:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before dbt connected"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in out + err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "cancelled by the user" in errors[0], err
        left = watch.execute("select count(*) from pg_stat_activity where application_name = %s",
                             (app,)).fetchone()[0]
        assert left == 0
        assert watch.execute("select status, message from etl.assessment_runs").fetchall() == [
            ("failed", "cancelled by the user (Ctrl-C)")]
