"""No traceback reaches a user: every command, given a bad option, a missing file or a stopped
server, says what is wrong in one line and exits with the documented code (2 usage, 1 failure).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ecorest.cli import cli
from helpers import DERIVED, SAMPLE, WILLAMETTE

STOPPED = "postgresql://u:pw@127.0.0.1:1/db"  # nothing listens on port 1
MISSING = "/nonexistent/ecorest/input.file"
BOUNDARY = str(DERIVED / "willamette_region.geojson")
RASTER = str(WILLAMETTE / "lulc_samp_cur.tif")
TABLE = str(WILLAMETTE / "carbon_pools_willamette.csv")
#: where `db backup` would write (never reached: every use here fails before writing)
BACKUP = str(Path(tempfile.gettempdir()) / "ecorest-test-cli-errors.backup")

#: every command with arguments that pass the command line's own checks; the input file
#: comes last so that a missing-file variant can replace it
COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("db", "start"): [],
    ("db", "stop"): [],
    ("db", "destroy"): ["--yes"],
    ("db", "url"): [],
    ("db", "migrate"): [],
    ("db", "status"): [],
    ("db", "backup"): [BACKUP],
    ("db", "restore"): [TABLE],
    ("db", "add-node"): ["postgresql://postgres@127.0.0.1:9/ecorest"],
    ("db", "remove-node"): ["n1"],
    ("db", "nodes"): [],
    ("region", "create"): ["r", "--boundary", BOUNDARY],
    ("region", "set-ipcc"): ["r", "--climate", "boreal"],
    ("region", "set-legend"): ["r", "clcd"],
    ("region", "list"): [],
    ("load", "raster"): ["r", "--layer", "landcover", "--epoch", "2000", RASTER],
    ("load", "legend"): ["n", TABLE],
    ("load", "zones"): ["r", BOUNDARY],
    ("load", "samples"): ["r", TABLE],
    ("load", "projects"): ["r", BOUNDARY],
    ("load", "plots"): ["r", TABLE],
    ("load", "params"): ["--global", "--name", "n", "--kind", "weights", "--source", "s", TABLE],
    ("params", "activate"): ["r", "n@1"],
    ("run",): ["r"],
    ("report",): ["r"],
    ("export",): ["r"],
    ("qgis",): ["r"],
    ("demo",): [],
}
#: commands that manage the embedded cluster and refuse a server given by --dsn
EMBEDDED_ONLY = {("db", "start"), ("db", "stop"), ("db", "destroy")}
#: commands that need no server at all
NO_SERVER = {("db", "url")}


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _leaves(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


def test_the_table_covers_every_command() -> None:
    assert set(_leaves(cli)) == set(COMMANDS)


def _invoke(args: list[str], monkeypatch=None) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["-q", *args], env={"COLUMNS": "400",
                                                         "ECOREST_SAMPLE_DATA": str(SAMPLE)})
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    text = result.output
    assert "Traceback" not in text, text
    return result.exit_code, [line for line in text.splitlines() if line.strip()]


def _one_error_line(lines: list[str]) -> str:
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_bad_option(path: tuple[str, ...]) -> None:
    code, lines = _invoke([*path, *COMMANDS[path], "--no-such-option"])
    assert code == 2
    line = _one_error_line(lines)
    assert "--no-such-option" in line and f"ecorest {' '.join(path)} --help" in line


@pytest.mark.parametrize("path", [p for p, a in COMMANDS.items()
                                  if a and a[-1] in (BOUNDARY, RASTER, TABLE)], ids=" ".join)
def test_missing_file(path: tuple[str, ...]) -> None:
    args = COMMANDS[path]
    code, lines = _invoke(["--dsn", STOPPED, *path, *args[:-1], MISSING])
    assert code == 2
    line = _one_error_line(lines)
    assert MISSING in line and "does not exist" in line


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_stopped_server(path: tuple[str, ...], tmp_path) -> None:
    code, lines = _invoke(["--dsn", STOPPED, "--home", str(tmp_path), *path, *COMMANDS[path]])
    if path in NO_SERVER:
        assert code == 0 and lines == ["postgresql://u:***@127.0.0.1:1/db"]
        return
    assert code == 1
    line = _one_error_line(lines)
    if path in EMBEDDED_ONLY:
        assert "manages the embedded cluster" in line
    else:
        assert "cannot connect to postgresql://u:***@127.0.0.1:1/db" in line
    assert "pw@" not in line


def test_options_after_the_command_count(tmp_path, monkeypatch) -> None:
    """--home and --dsn work after the command name too, and the command's own win."""
    from ecorest.cli._common import out

    # the whole temporary path on one line (under pytest-xdist it is longer than 80 columns)
    monkeypatch.setattr(out, "width", 400)
    code, lines = _invoke(["--home", "/elsewhere", "db", "status", "--home", str(tmp_path)])
    assert code == 0
    assert any(str(tmp_path) in line for line in lines), lines
    assert not any("/elsewhere" in line for line in lines), lines


def test_no_second_database_from_another_folder(tmp_path) -> None:
    """A command other than migrate/start/demo never creates an embedded cluster."""
    code, lines = _invoke(["region", "list", "--home", str(tmp_path / "new")])
    assert code == 1
    assert "no embedded cluster under" in _one_error_line(lines)
    assert not (tmp_path / "new" / "cluster.json").exists()


@pytest.mark.parametrize("args,code,expected", [
    (["report", "r", "--lang", "fr"], 2, "unknown language 'fr'"),
    (["export", "r", "--format", "foo"], 2, "unknown format 'foo'"),
    (["region", "list", "--dsn", STOPPED], 1, "cannot connect"),
])
def test_the_installed_command_prints_no_traceback(args, code, expected) -> None:
    """The same through a real process (the console script's own entry point)."""
    proc = subprocess.run([sys.executable, "-m", "ecorest", *args], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "COLUMNS": "400"},
                          timeout=120, check=False)
    assert proc.returncode == code
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
