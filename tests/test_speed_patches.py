"""Restoration patches and zone scores from one pass over the priority tiles: patches are the
edge-connected components of one grade merged across tile borders (raster.np_patch_parts,
raster.np_components), checked against a plain flood fill of the grade raster written here;
zone scores per grade and mean score against numpy on the same grid."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from psycopg import sql
from test_identification import WEIGHTS, _on_file_grid

from ecorest.etl.params import load_params
from ecorest.etl.rasters import load_raster
from ecorest.etl.regions import create_region
from ecorest.run import run_assessment
from helpers import footprint, write_raster

N = 96          # pixels a side, 16-px tiles: 36 tiles, patches crossing many tile borders


def flood_fill(grade: np.ndarray, max_grade: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """4-connected components of equal grade 1..max_grade: [(grade, [(row, col), ...]), ...]."""
    seen = np.zeros(grade.shape, bool)
    out = []
    for r0 in range(grade.shape[0]):
        for c0 in range(grade.shape[1]):
            g = grade[r0, c0]
            if seen[r0, c0] or not (1 <= g <= max_grade):
                continue
            seen[r0, c0] = True
            todo, pix = deque([(r0, c0)]), []
            while todo:
                r, c = todo.popleft()
                pix.append((r, c))
                for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                    if (0 <= rr < grade.shape[0] and 0 <= cc < grade.shape[1]
                            and not seen[rr, cc] and grade[rr, cc] == g):
                        seen[rr, cc] = True
                        todo.append((rr, cc))
            out.append((int(g), pix))
    return out


def blob_region(conn: psycopg.Connection, tmp_path: Path) -> Path:
    """Region 'quad': N x N px of 30 m in 16-px tiles, two blocky factor layers with speckle
    (grades form blobs of every size, many across tile borders, and a spiral of grade-1 cells
    crossing several tiles), one pixel without data; returns the erosion file (the grid)."""
    rng = np.random.default_rng(3)
    erosion = np.kron(rng.random((8, 8)) * 10, np.ones((12, 12)))
    erosion[rng.random((N, N)) < 0.15] = rng.random() * 10
    habitat = np.kron(rng.random((6, 6)) * 100, np.ones((16, 16)))
    erosion[40:44, 5:90] = 10
    erosion[44:80, 86:90] = 10
    erosion[76:80, 20:90] = 10
    habitat[40:80, 5:90] = np.maximum(habitat[40:80, 5:90], 90)
    erosion[0, 0] = np.nan
    e = write_raster(tmp_path / "erosion.tif", erosion.astype(np.float32), nodata=-9999)
    h = write_raster(tmp_path / "habitat.tif", habitat.astype(np.float32), nodata=-9999)
    create_region(conn, "quad", footprint(tmp_path, e), align_to=str(e),
                  allow_non_equal_area=True, tile_size=16)
    load_raster(conn, "quad", "factor_erosion", e, epoch="2020", show_progress=False)
    load_raster(conn, "quad", "factor_habitat", h, epoch="2020", show_progress=False)
    (tmp_path / "weights.csv").write_text(WEIGHTS)
    load_params(conn, tmp_path / "weights.csv", name="quad weights", kind="weights",
                source_text="test")
    return e


def test_patches_and_zone_scores_equal_a_flood_fill(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        e = blob_region(conn, tmp_path)
        run_id = run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")
        tiles = sql.SQL("(select rast from marts.priority_tiles where run_id = {}) as p").format(
            sql.Literal(run_id))
        with rasterio.open(e) as src:
            grade = _on_file_grid(conn, tiles, 1, src.transform, (N, N))
            composite = _on_file_grid(conn, tiles, 2, src.transform, (N, N))
            degradation = _on_file_grid(conn, tiles, 3, src.transform, (N, N))
        patches = conn.execute(
            "select patch_no, grade, area_ha, mean_composite, mean_degradation, "
            "st_area(st_transform(geom, 26910)) from marts.restoration_patches "
            "where run_id = %s order by patch_no", (run_id,)).fetchall()
        zone = conn.execute(
            "select assessed_ha, priority_restoration_ha, restoration_ha, improvement_ha, "
            "protection_ha, general_ha, mean_composite, mean_degradation "
            "from marts.zone_scores where run_id = %s and zone_set = 'region'",
            (run_id,)).fetchone()
    g = np.where(np.isnan(grade), 0, grade).astype(int)
    comps = [(gr, pix) for gr, pix in flood_fill(g, 3) if len(pix) * 0.09 >= 1]
    # patch numbers: by grade, then by area, largest first (equal areas: by mean score here)
    comps.sort(key=lambda x: (x[0], -len(x[1]), composite[tuple(np.array(x[1]).T)].mean()))
    assert len(comps) >= 5 and max(len(p) for _, p in comps) > 16 * 16  # spans tiles
    assert [(p[1], round(p[2] / 0.09)) for p in patches] == [(gr, len(pix)) for gr, pix
                                                             in comps]
    patches.sort(key=lambda p: (p[1], -p[2], p[3]))
    for (_, _, area, mc, md, polygon_m2), (_, pix) in zip(patches, comps, strict=True):
        rows, cols = np.array(pix).T
        assert area == pytest.approx(len(pix) * 0.09, rel=1e-9)
        assert polygon_m2 == pytest.approx(len(pix) * 900, rel=1e-6)  # one polygon, no gaps
        assert mc == pytest.approx(composite[rows, cols].mean(), rel=1e-9)
        assert md == pytest.approx(degradation[rows, cols].mean(), rel=1e-9)
    valid = g > 0
    want = [valid.sum() * 0.09] + [(g == k).sum() * 0.09 for k in range(1, 6)]
    assert zone[:6] == pytest.approx(want, rel=1e-9)
    assert zone[6] == pytest.approx(np.nanmean(composite[valid]), rel=1e-9)
    assert zone[7] == pytest.approx(np.nanmean(degradation[valid]), rel=1e-9)


@pytest.mark.slow
def test_quantile_breaks_from_the_histograms_of_the_scores(db_url: str, tmp_path: Path) -> None:
    """grading_method=quantile: the breaks come from 1000-bin histograms of the scores (one
    pass, raster.np_histograms), so each lies within a bin (0.001) of numpy's quantile of the
    scores, and the scored pixels are counted; with fixed breaks no pass is made."""
    with psycopg.connect(db_url) as conn:
        e = blob_region(conn, tmp_path)
        run_id = run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt",
                                dbt_vars={"grading_method": "quantile"})
        breaks = {s: (p, b) for s, p, b in conn.execute(
            "select score, pixels, breaks from intermediate.int_score_breaks")}
        tiles = sql.SQL("(select rast from marts.priority_tiles where run_id = {}) as p").format(
            sql.Literal(run_id))
        with rasterio.open(e) as src:
            scores = {name: _on_file_grid(conn, tiles, band, src.transform, (N, N))
                      for name, band in (("composite", 2), ("degradation", 3),
                                         ("importance", 4))}
        run_assessment(conn, db_url, "quad", work_dir=tmp_path / "dbt")   # fixed breaks
        fixed = conn.execute("select score, pixels, breaks from intermediate.int_score_breaks "
                             "order by score").fetchall()
    for name, x in scores.items():
        x = x[np.isfinite(x)]
        pixels, got = breaks[name]
        k = 5 if name == "composite" else 3
        assert pixels == x.size >= N * N - 1      # the pixel without erosion: no D, no C
        want = np.quantile(x, [q / k for q in range(1, k)])
        assert np.abs(np.asarray(got) - want).max() <= 0.001 + 1e-9
    assert fixed == [("composite", None, [0.2, 0.4, 0.6, 0.8]),
                     ("degradation", None, [0.3333, 0.6667]),
                     ("importance", None, [0.3333, 0.6667])]
