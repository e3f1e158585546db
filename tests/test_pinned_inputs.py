"""Runs compute what they record: the models read the raster catalog entries the run pinned at
its start (etl.assessment_runs.input_catalog_ids), not what is current when a model runs; the
export of a run whose inputs were replaced since says which are gone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
from test_run_isolation import alpha_run, forest_to_grass, small_region, stocks

from ecorest.etl.rasters import load_raster
from ecorest.report.export import export_run
from ecorest.run import build_run, inputs_gone, record_run, run_assessment, run_slot
from helpers import write_raster


def dem(tmp: Path, name: str, metres_per_pixel: float) -> Path:
    """A plane rising eastwards by ``metres_per_pixel`` per 30 m pixel."""
    z = np.tile(np.arange(64, dtype=np.float32) * metres_per_pixel, (64, 1))
    return write_raster(tmp / f"{name}.tif", z, nodata=-9999.0)


def factors(conn: psycopg.Connection, run_id: int) -> list[tuple]:
    rows = conn.execute(
        "select factor, pixels, round(min_value::numeric, 6), round(max_value::numeric, 6), "
        "round(mean_value::numeric, 6) from marts.factor_summaries where run_id = %s "
        "order by factor", (run_id,)).fetchall()
    conn.rollback()
    return rows


@pytest.mark.slow
def test_a_dem_loaded_after_the_run_started_is_not_read(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        small_region(conn, tmp_path, "alpha", forest_to_grass(0.5))
        load_raster(conn, "alpha", "dem", dem(tmp_path, "gentle", 3.0), epoch="2015",
                    show_progress=False)
        reference = run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt")
        expected = factors(conn, reference)
        slope = [r for r in expected if r[0] == "slope"]
        # atan(3 m / 30 m) = 5.71 degrees inside the plane
        assert slope and abs(float(slope[0][3]) - 5.710593) < 0.01
        region_id, edition, param_ids, options = conn.execute(
            "select region_id, ipcc_edition, parameter_set_ids, options "
            "from etl.assessment_runs where run_id = %s", (reference,)).fetchone()
        conn.rollback()
        with run_slot(db_url) as slot:
            run_id = record_run(slot, region_id, edition, param_ids, options)
            # a steeper DEM, a newer epoch, arrives after the run recorded its inputs
            load_raster(conn, "alpha", "dem", dem(tmp_path, "steep", 20.0), epoch="2020",
                        show_progress=False)
            assert build_run(conn, db_url, run_id, work_dir=tmp_path / "dbt") == run_id
        assert factors(conn, run_id) == expected
        # the next run reads the new DEM: the numbers would have changed
        later = run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt")
        assert later > run_id
        steep = [r for r in factors(conn, later) if r[0] == "slope"]
        assert float(steep[0][3]) > 30


@pytest.mark.slow
@pytest.mark.xdist_group("prebuilt_alpha")  # with the other tests starting from alpha
def test_a_layer_replaced_while_the_run_computes_never_changes_its_numbers(
        prebuilt, tmp_path: Path) -> None:
    """A corrected 2010 land cover replaces the one the run recorded, after the run started:
    the run computes with the recorded layer (the loader keeps the tiles a recorded run uses;
    were they gone, the run would fail naming them: see inputs_gone below)."""
    # region alpha and its reference run (built once per test run) in a database of its own
    with prebuilt("alpha", alpha_run) as (db_url, reference), psycopg.connect(db_url) as conn:
        expected = stocks(conn, reference)
        region_id, edition, param_ids, options = conn.execute(
            "select region_id, ipcc_edition, parameter_set_ids, options "
            "from etl.assessment_runs where run_id = %s", (reference,)).fetchone()
        conn.rollback()
        with run_slot(db_url) as slot:
            run_id = record_run(slot, region_id, edition, param_ids, options)
            corrected = forest_to_grass(0.25)["2010"].astype(np.uint8)
            load_raster(conn, "alpha", "landcover",
                        write_raster(tmp_path / "lc_2010_fixed.tif", corrected, nodata=255),
                        epoch="2010", legend="alpha", show_progress=False)
            assert build_run(conn, db_url, run_id, work_dir=tmp_path / "dbt") == run_id
        assert stocks(conn, run_id) == expected
        # the next run reads the corrected layer: its numbers differ
        later = run_assessment(conn, db_url, "alpha", work_dir=tmp_path / "dbt")
        assert later > run_id and stocks(conn, later) != expected


@pytest.mark.xdist_group("prebuilt_alpha")
def test_export_of_a_run_whose_layer_was_replaced_names_what_is_gone(prebuilt,
                                                                     tmp_path: Path) -> None:
    # region alpha and its run (built once per test run) in a database of its own
    with prebuilt("alpha", alpha_run) as (db_url, run_id), psycopg.connect(db_url) as conn:
        complete = export_run(conn, "alpha", tmp_path / "before", run_id=run_id,
                              formats=("tif",))
        assert {f"alpha_run{run_id}_carbon_density_2000.tif",
                f"alpha_run{run_id}_carbon_density_2010.tif",
                f"alpha_run{run_id}_carbon_density_change.tif"} <= {p.name for p in complete}
        # a corrected 2010 land cover replaces the one the run read
        corrected = forest_to_grass(0.25)["2010"].astype(np.uint8)
        load_raster(conn, "alpha", "landcover",
                    write_raster(tmp_path / "lc_2010_fixed.tif", corrected, nodata=255),
                    epoch="2010", legend="alpha", show_progress=False)
        after = export_run(conn, "alpha", tmp_path / "after", run_id=run_id, formats=("tif",))
        assert sorted(p.name for p in after) == sorted(p.name for p in complete)
        # tiles of replaced layers were dropped by earlier versions of the loader
        old_id = conn.execute(
            "select catalog_id from raster.catalog where layer = 'landcover' "
            "and epoch_label = '2010' and not is_current").fetchone()[0]
        conn.execute("select raster.drop_tile_partition(%s)", (old_id,))
        conn.commit()
        gone = export_run(conn, "alpha", tmp_path / "gone", run_id=run_id, formats=("tif",))
        # a run whose inputs vanish while it computes fails naming them
        missing = inputs_gone(conn, run_id)
        assert len(missing) == 1 and missing[0].startswith("landcover 2010 (")
        assert missing[0].endswith("lc_2010.tif)")
    names = sorted(p.name for p in gone)
    note = tmp_path / "gone" / f"alpha_run{run_id}_MISSING_INPUTS.txt"
    assert note in gone
    text = note.read_text()
    assert "landcover 2010" in text and "lc_2010.tif" in text and "lc_2010_fixed.tif" in text
    assert "landcover 2000" not in text
    assert f"alpha_run{run_id}_carbon_density_2010.tif" not in names
    assert f"alpha_run{run_id}_carbon_density_2000.tif" in names
