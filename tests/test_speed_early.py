"""Checks that can fail without per-pixel work run before any of it: a run whose
identification parameters are unusable fails naming the check, and no per-pixel model (factor
tiles, scores, land-cover trajectories) nor any mart was built (docs/OPERATIONS.md)."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from test_identification import WEIGHTS, quadrant_region

from ecorest.errors import RunError
from ecorest.run import run_assessment


def test_unusable_identification_parameters_fail_before_any_per_pixel_model(
        db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        quadrant_region(conn, tmp_path, WEIGHTS)
        # a judgement written 'a-b' that the loader would refuse, put there by plain SQL
        conn.execute("insert into registry.parameter_values (parameter_set_id, parameter, "
                     "stratum, value, unit) select parameter_set_id, 'ahp_pairwise', "
                     "'factor_erosion-factor_habitat', 3, '1' from registry.parameter_sets "
                     "where name = 'quad weights'")
        conn.commit()
        t0 = time.monotonic()
        with pytest.raises(RunError, match="assert_identification_parameters_are_valid"):
            run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        seconds = time.monotonic() - t0
        built = conn.execute(
            "select to_regclass('intermediate.int_factor_tiles'), "
            "to_regclass('intermediate.int_priority_scores'), "
            "to_regclass('intermediate.int_landcover_trajectories')").fetchone()
        marts = conn.execute("select count(*) from pg_tables where schemaname = 'marts'"
                             ).fetchone()[0]
        status, message = conn.execute("select status, message "
                                       "from etl.assessment_runs").fetchone()
    assert status == "failed" and "assert_identification_parameters_are_valid" in message
    # nothing per-pixel was built, and no mart exists: the check ran first
    assert built == (None, None, None) and marts == 0
    print(f"failed after {seconds:.1f} s")
