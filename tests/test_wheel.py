"""The wheel works outside the checkout: built from the source tree, installed into a fresh
virtual environment in a temporary folder, and run from another working directory through the
whole chain — migrate, status, region create, load, run, report, export — on the public sample
data, with its own embedded cluster.

The fresh environment is made without pip and gets the wheel alone (``--no-deps``); the
wheel's dependencies are borrowed from the test environment through a ``.pth`` line placed after
the fresh site-packages. The checkout's own editable install is a ``.pth`` hook in the test
environment's site-packages, which a borrowed path does not run, so ``ecorest`` can only come
from the wheel (asserted).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT, SAMPLE

pytestmark = pytest.mark.slow


def _sh(args: list, cwd: Path, env: dict | None = None, timeout: int = 900,
        ) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    proc = _sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, ROOT],
               cwd=dist)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = dist.glob("ecorest-*.whl")
    return whl


def test_wheel_carries_one_import_root_and_the_database_assets(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"ecorest"}, top
    for needed in ("ecorest/py.typed", "ecorest/db/env.py", "ecorest/db/script.py.mako",
                   "ecorest/db/versions/0001_initial_schema.py", "ecorest/sql/030_kernels.sql",
                   "ecorest/dbt_project/dbt_project.yml", "ecorest/dbt_project/profiles.yml",
                   "ecorest/dbt_project/models/marts/carbon_stocks.sql",
                   "ecorest/dbt_project/seeds/ipcc_soc_reference.csv",
                   "ecorest/etl/builtin_legends/clcd.csv", "ecorest/etl/rasters.py",
                   "ecorest/cli/__init__.py", "ecorest/report/export.py"):
        assert needed in names, needed
    # every dbt model, macro, seed and sql file of the tree is in the wheel
    for folder, package in (("dbt_project", "ecorest/dbt_project"), ("sql", "ecorest/sql"),
                            ("db/versions", "ecorest/db/versions")):
        for f in (ROOT / folder).rglob("*"):
            if f.is_file() and f.suffix in (".sql", ".yml", ".csv", ".py") \
                    and "__pycache__" not in f.parts and f.name != "__init__.py":
                rel = f.relative_to(ROOT / folder).as_posix()
                assert f"{package}/{rel}" in names, rel


def test_wheel_runs_the_chain_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert _sh([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path) \
        .returncode == 0
    py = venv / "bin" / "python"
    site = Path(_sh([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    cwd=tmp_path).stdout.strip())
    proc = _sh([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--quiet",
                wheel], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed = {p.name for p in site.iterdir()} - {"__pycache__"}
    assert installed == {"ecorest", wheel.name.split("-py3")[0] + ".dist-info"}, installed
    # the dependencies: the test environment's site-packages, after the fresh one
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ECOREST_", "PG", "PYTHON", "VIRTUAL_ENV"))}
    env.update(ECOREST_HOME=str(tmp_path / "home"), ECOREST_SAMPLE_DATA=str(SAMPLE), COLUMNS="250",
               PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    where = _sh([py, "-c", "import ecorest, ecorest.assets as a; print(ecorest.__file__); "
                           "print(a.path('dbt_project'))"], cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert line.startswith(str(site)), where.stdout
        assert not line.startswith(str(ROOT)), where.stdout

    ansai = SAMPLE / "china_admin_loess_plateau" / "ansai_610603.geojson"
    ndvi = sorted((SAMPLE / "vhp_ndvi_annual_global_1982_2023").glob("VHP_SMN_*.tif"))[-12:]
    out = tmp_path / "out"
    ecorest = venv / "bin" / "ecorest"
    steps = [
        ["db", "migrate"],
        ["db", "status"],
        ["region", "create", "small", "--boundary", ansai, "--pixel-size", "1000",
         "--ipcc-climate", "cold_temperate_dry", "--ipcc-soil", "HAC"],
        ["load", "zones", "small", ansai, "--code", "610603", "--name", "Ansai"],
        ["load", "raster", "small", "--layer", "ndvi", "--epoch-from", "filename", *ndvi],
        ["run", "small"],
        ["report", "small", "--lang", "en", "--format", "md", "--out", out],
        ["export", "small", "--format", "csv,gpkg", "--out", out / "exports"],
    ]
    try:
        for args in steps:
            proc = _sh([ecorest, *args], cwd=work, env=env)
            said = proc.stdout + proc.stderr
            assert proc.returncode == 0, f"ecorest {args[:2]}: {said[-3000:]}"
            assert "Traceback" not in said
            if args[:2] == ["db", "status"]:
                assert "up to date" in said and str(tmp_path / "home") in said, said
        report = next(out.glob("report_small_run*_en.md")).read_text()
        assert "NDVI" in report
        assert any(out.joinpath("exports").glob("small_run*_zone_scores.csv"))
        # code version from the package metadata, not from git
        status = _sh([py, "-c", "from ecorest.run import code_version; print(code_version())"],
                     cwd=work, env=env)
        assert status.stdout.strip() == wheel.name.split("-")[1]
    finally:
        _sh([ecorest, "db", "destroy", "--yes"], cwd=work, env=env)
