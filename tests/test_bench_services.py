"""The numpy baselines of bench/services.py against hand computations (no database): the
benchmark's agreement figures compare the kernels with these baselines, so they must be right."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # bench/ is not installed
from bench import services  # noqa: E402

N = 40


def _write(path, a, nodata):
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=1,
                       dtype=a.dtype, crs="EPSG:26910", nodata=nodata,
                       transform=from_origin(440_000, 4_960_000, 30, 30)) as dst:
        dst.write(a, 1)
    return str(path)


@pytest.fixture()
def plane(tmp_path):
    """A plane rising 0.85 m a pixel eastwards, one class (54), constant inputs."""
    cols = np.arange(N, dtype=np.float32)[None, :].repeat(N, axis=0)
    const = lambda v: np.full((N, N), v, np.float32)  # noqa: E731
    files = {"landcover": _write(tmp_path / "lc.tif", np.full((N, N), 54, np.uint8), 255),
             "dem": _write(tmp_path / "dem.tif", cols * np.float32(0.85) + 100, -9999.0)}
    for layer, v in (("erosivity", 500.0), ("erodibility", 0.03), ("precip", 1000.0),
                     ("et0", 1200.0), ("pawc", 0.2), ("soil_depth", 800.0)):
        files[layer] = _write(tmp_path / f"{layer}.tif", const(v), -9999.0)
    return files


def test_soil_baseline_by_hand(plane):
    """D8 on the plane: every pixel drains west (0.85 m against 0.85 / sqrt 2 diagonally), so
    the accumulation of column c is N - c; LS, USLE and retention of every column by hand."""
    out = services.numpy_soil(plane)
    assert out["pixels"] == N * N and out["streams"] == 0
    c, p = services.PARAMS[54][4:6]
    pct = 0.85 / 30 * 100                                    # 2.8333 %: m = 0.3
    theta = math.atan(pct / 100)
    s = 10.8 * math.sin(theta) + 0.03
    x = abs(math.sin(theta)) + abs(math.cos(theta))
    total = 0.0
    for col in range(N):          # a plane keeps its gradient at the edges (the fallbacks)
        a = math.sqrt((N - col - 1) * 900.0)
        lf = ((a + 900.0) ** 1.3 - a ** 1.3) / (30.0 ** 2.3 * x ** 0.3 * 22.13 ** 0.3)
        total += min(lf, 122.0) * s * 500.0 * 0.03 * c * p * N
    assert out["usle"] == pytest.approx(total, rel=1e-5)
    assert out["retention"] == pytest.approx(total / (c * p) - total, rel=1e-5)


def test_water_baseline_by_hand(plane):
    """Budyko-Zhang of one vegetated class with constant inputs, by hand."""
    kc, root = services.PARAMS[54][0], services.PARAMS[54][1]
    p, et0, depth = 1000.0, 1200.0, 800.0
    pawc = float(np.float32(0.2))                 # as stored in the float32 file
    phi = kc * et0 / p
    w = min(services.ZHANG_Z * min(root, depth) * pawc / p + 1.25, 5.0)   # 2.05
    frac = min(phi, 1 + phi - (1 + phi ** w) ** (1 / w))
    out = services.numpy_water(plane)
    assert out["pixels"] == N * N
    assert out["sum"] == pytest.approx((1 - frac) * p * N * N, rel=1e-9)
