"""The factor statistics the patches' scores are normalised with (int_factor_stats, shown in
marts.factor_summaries): valid pixels, min, max and mean of each factor over the region, and
its 2nd / 98th percentile bounds from a 1000-bin histogram over [min, max] (the first bin
whose cumulative count reaches the share, linear inside it), computed here with numpy from
the factor files themselves. Both passes over the factor tiles (raster.np_band_stats, then
raster.np_histogram) run in parallel workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from test_speed_patches import blob_region

from ecorest.run import run_assessment


def histogram_quantile(x: np.ndarray, lo: float, hi: float, q: float, bins: int = 1000) -> float:
    width = (hi - lo) / bins
    idx = np.clip(((x - lo) / width).astype(np.int64), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    cum = np.cumsum(counts)
    i = int(np.argmax(cum >= q * x.size))            # 0-based bin that crosses the share
    before = cum[i] - counts[i]
    return lo + width * (i + (q * x.size - before) / counts[i])


def test_factor_statistics_equal_numpy(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        blob_region(conn, tmp_path)
        run_id = run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        got = {r[0]: r[1:] for r in conn.execute(
            "select source_layer, pixels, min_value, max_value, mean_value, normalise_low, "
            "normalise_high from marts.factor_summaries where run_id = %s", (run_id,))}
    assert set(got) == {"factor_erosion", "factor_habitat"}
    for layer, name in (("factor_erosion", "erosion"), ("factor_habitat", "habitat")):
        with rasterio.open(tmp_path / f"{name}.tif") as src:
            x = src.read(1, masked=True).compressed().astype(np.float64)
        x = x[np.isfinite(x)]                         # erosion's pixel (0, 0) is NaN
        pixels, lo, hi, mean, p_low, p_high = got[layer]
        assert pixels == x.size == (96 * 96 - 1 if name == "erosion" else 96 * 96)
        assert (lo, hi) == (x.min(), x.max())
        assert mean == pytest.approx(x.mean(), rel=1e-12)
        assert p_low == pytest.approx(histogram_quantile(x, lo, hi, 0.02), rel=1e-12)
        assert p_high == pytest.approx(histogram_quantile(x, lo, hi, 0.98), rel=1e-12)
        assert lo <= p_low < p_high <= hi


def test_factor_statistics_passes_run_in_parallel_workers(db_url: str, tmp_path: Path) -> None:
    """The compiled int_factor_stats planned as dbt's sessions plan it: a Gather above each
    kernel, and the same rows serially."""
    with psycopg.connect(db_url) as conn:
        blob_region(conn, tmp_path)
        run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        compiled = next((tmp_path / "dbt").rglob("run/**/int_factor_stats.sql")).read_text()
        query = compiled[compiled.index("(", compiled.index(" as\n")) + 1:compiled.rindex(")")]
        conn.execute("set min_parallel_table_scan_size = 0")
        conn.execute("set parallel_setup_cost = 10000")
        conn.execute("set max_parallel_workers_per_gather = 2")
        plan = "\n".join(r[0] for r in conn.execute("explain (costs off) " + query))
        assert plan.count("Gather") >= 2, plan
        par = sorted(conn.execute(query).fetchall())
        conn.execute("set max_parallel_workers_per_gather = 0")
        assert sorted(conn.execute(query).fetchall()) == par
        stored = sorted(conn.execute("select * from intermediate.int_factor_stats").fetchall())
    assert par == stored and len(par) == 2
