"""What a person sees when a load fails: messages printed verbatim (the `[rule …]` tags that
docs/LOADING.md promises, file names with brackets), one line for a lost connection, and the
`ecorest params activate` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner

from ecorest.cli import cli
from ecorest.errors import LoadError
from ecorest.etl.rasters import load_raster
from helpers import SAMPLE, snapshot, willamette_region, write_raster


def _invoke(args: list[str]) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["-q", *args], env={"COLUMNS": "400",
                                                         "ECOREST_SAMPLE_DATA": str(SAMPLE)})
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    assert "Traceback" not in result.output, result.output
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def test_rule_tags_and_brackets_are_printed_verbatim(db_url: str, tmp_path: Path) -> None:
    """Rich markup once swallowed `[rule …]` and crashed on a `[/]` in a file name."""
    (tmp_path / "x[").mkdir()
    bad = tmp_path / "x[" / "]v[bold]2.csv"  # the path holds '[/]' and '[bold]'
    assert "[/]" in str(bad)
    bad.write_text("parameter,class_code,pool,value,unit\ncarbon_density,1,agb,-50,t C/ha\n"
                   "carbon_densty,1,bgb,20,t C/ha\n")
    code, lines = _invoke(["--dsn", db_url, "load", "params", "--global", str(bad), "--name",
                           "p", "--kind", "carbon_pools", "--source", "test"])
    assert code == 1
    assert lines[0] == (f"error: {bad}, row 2: carbon_density = -50.0 is outside the valid "
                        "range [0, 1500] t C/ha — a carbon density cannot be negative, and "
                        "more than 1500 t C/ha is not a real stock [rule value.range]")
    assert lines[1].startswith(f"  {bad}, row 3: parameter 'carbon_densty' is not a parameter")
    assert lines[1].endswith("[rule params.parameter]")
    assert len(lines) == 2


def test_output_names_are_printed_verbatim(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "[red]p[").mkdir()
    good = tmp_path / "[red]p[" / "].csv"
    good.write_text("parameter,class_code,pool,value,unit\ncarbon_density,1,agb,50,t C/ha\n")
    code, lines = _invoke(["--dsn", db_url, "load", "params", "--global", str(good), "--name",
                           "[b]p[/]", "--kind", "carbon_pools", "--source", "test"])
    assert code == 0, lines
    assert lines == [f"{good}: parameter set [b]p[/] (global) version 1 (id 1)"]


@pytest.mark.parametrize("option,value,expected", [
    ("--scale", "nan", "--scale nan must be a finite number [rule option.value]"),
    ("--scale", "0", "--scale 0.0 would turn every stored value into 0"),
    ("--nodata", "70000", "--nodata 70000.0 is not a value of the file's data type uint8"),
    ("--epoch", "2016-02-30", "'2016-02-30' is not a date (month 02, day 30 of 2016 does not "
                              "exist) [rule raster.epoch]"),
])
def test_numeric_options_and_dates_give_one_line(db_url: str, tmp_path: Path, option: str,
                                                 value: str, expected: str) -> None:
    with psycopg.connect(db_url) as conn:
        willamette_region(conn)
    path = write_raster(tmp_path / "lc.tif", np.full((64, 64), 54, np.uint8), nodata=255)
    args = ["--dsn", db_url, "load", "raster", "willamette", "--layer", "landcover",
            "--legend", "willamette", str(path), option, value]
    if option != "--epoch":
        args += ["--epoch", "2000"]
    code, lines = _invoke(args)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}, "), lines
    assert expected in lines[0], lines


def _terminate_mid_load(monkeypatch, db_url: str) -> dict:
    """Kill the loading session after its first band was written (as a lost network or a
    restarted server would)."""
    import ecorest.etl.rasters as rasters

    real = rasters._finish_band
    seen = {}

    def finish_then_die(job, band):
        ok = real(job, band)
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (job.conn.info.backend_pid,))
        seen["killed"] = True
        return ok

    monkeypatch.setattr(rasters, "_finish_band", finish_then_die)
    return seen


def test_lost_connection_mid_load_is_one_line(db_url: str, tmp_path: Path,
                                              monkeypatch) -> None:
    with psycopg.connect(db_url) as conn:
        willamette_region(conn)
        conn.rollback()
        before = snapshot(conn)
    path = write_raster(tmp_path / "lc.tif", np.full((64, 64), 54, np.uint8), nodata=255)
    seen = _terminate_mid_load(monkeypatch, db_url)
    with psycopg.connect(db_url) as conn, pytest.raises(LoadError) as err:
        load_raster(conn, "willamette", "landcover", path, epoch="2000", legend="willamette",
                    show_progress=False)
    assert seen == {"killed": True}
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: the connection to the database server was lost "
                              "during the load (")
    assert message.endswith("nothing was stored — load the file again when the server is "
                            "reachable [rule db.connection]")
    with psycopg.connect(db_url) as conn:
        assert snapshot(conn) == before
    # and through the command line: one line, exit 1
    seen.clear()
    code, lines = _invoke(["--dsn", db_url, "load", "raster", "willamette", "--layer",
                           "landcover", "--legend", "willamette", "--epoch", "2000", str(path)])
    assert seen == {"killed": True}
    assert code == 1 and len(lines) == 1, lines
    assert "the connection to the database server was lost during the load" in lines[0]


def test_params_activate_command(db_url: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("parameter,class_code,pool,value,unit\ncarbon_density,1,agb,10,t C/ha\n")
    b.write_text("parameter,class_code,pool,value,unit\ncarbon_density,1,agb,20,t C/ha\n")
    for f in (a, b):
        code, lines = _invoke(["--dsn", db_url, "load", "params", "--global", str(f), "--name",
                               "pools", "--kind", "carbon_pools", "--source", "test"])
        assert code == 0, lines
    code, lines = _invoke(["--dsn", db_url, "params", "activate", "--global", "pools@1"])
    assert (code, lines) == (0, ["parameter set pools (global, kind carbon_pools): version 1 "
                                 "is now active (was version 2)"])
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select version from registry.parameter_sets where is_active"
                            ).fetchall() == [(1,)]
    code, lines = _invoke(["--dsn", db_url, "params", "activate", "--global", "pools@1"])
    assert (code, lines) == (0, ["parameter set pools (global): version 1 is the active "
                                 "version already, nothing changed"])
    code, lines = _invoke(["--dsn", db_url, "params", "activate", "--global", "pools@3"])
    assert code == 1 and lines == ["error: params activate 'pools@3': parameter set 'pools' "
                                   "(global) has no version 3; its versions are 1, 2"]
    code, lines = _invoke(["--dsn", db_url, "params", "activate", "--global", "pools@x"])
    assert code == 2 and "the version after @ must be a whole number" in lines[0]
    code, lines = _invoke(["--dsn", db_url, "params", "activate", "pools@1"])
    assert code == 2 and "give REGION NAME[@VERSION]" in lines[0]
