"""The command line: help texts, status, URL masking, refusal messages."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from ecorest.cli import cli
from ecorest.store import db as dbmod


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", [(), *list(_commands(cli))], ids=lambda p: " ".join(p) or "root")
def test_every_command_explains_itself(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: ecorest" in result.output
    cmd = cli
    for name in path:
        cmd = cmd.commands[name]
    # a real description, not just the usage line
    assert cmd.help and len(cmd.help.split()) >= 5
    assert cmd.help.split("\n")[0].strip()[:20] in " ".join(result.output.split())


def test_status_reports_versions(db_url: str) -> None:
    result = CliRunner().invoke(cli, ["--dsn", db_url, "db", "status"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert re.search(r"PostgreSQL\s*│\s*1[5-9]\.\d+", text), text
    assert re.search(r"PostGIS\s*│\s*3\.\d+\.\d+", text), text
    assert "numpy" in text
    assert "up to date" in text
    password = dbmod.psycopg.conninfo.conninfo_to_dict(db_url).get("password")
    if password:
        assert password not in text


def test_status_says_when_schema_is_behind(empty_db_url: str) -> None:
    result = CliRunner().invoke(cli, ["--dsn", empty_db_url, "db", "status"])
    assert result.exit_code == 0, result.output
    assert "behind" in result.output and "ecorest db migrate" in result.output


@pytest.mark.xdist_group("migrations")  # beside no other migration (cluster-wide roles)
def test_migrate_then_status_up_to_date(empty_db_url: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--dsn", empty_db_url, "db", "migrate"]).exit_code == 0
    result = runner.invoke(cli, ["--dsn", empty_db_url, "db", "status"])
    assert "up to date" in result.output


def test_cluster_commands_refuse_external_server(db_url: str) -> None:
    result = CliRunner().invoke(cli, ["--dsn", db_url, "db", "stop"])
    assert result.exit_code == 1
    assert "embedded cluster" in result.output


def test_url_is_masked_unless_asked() -> None:
    url = "postgresql://etl:s3cret@db.example:5432/eco"
    masked = CliRunner().invoke(cli, ["--dsn", url, "db", "url"])
    assert masked.output.strip() == "postgresql://etl:***@db.example:5432/eco"
    shown = CliRunner().invoke(cli, ["--dsn", url, "db", "url", "--show-password"])
    assert shown.output.strip() == url


@pytest.mark.parametrize("given,expected", [
    ("postgresql://u:p@h/db", "postgresql://u:***@h/db"),
    ("postgresql+psycopg://u:p%40x@h:1/db", "postgresql+psycopg://u:***@h:1/db"),
    ("host=h user=u password=p dbname=d", "host=h user=u password=*** dbname=d"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
])
def test_mask_url(given: str, expected: str) -> None:
    assert dbmod.mask_url(given) == expected


def test_unreachable_server_gives_one_clear_line() -> None:
    result = CliRunner().invoke(cli, ["--dsn", "postgresql://u:pw@127.0.0.1:1/db", "db",
                                      "status"])
    assert result.exit_code == 1
    assert "cannot connect to postgresql://u:***@127.0.0.1:1/db" in result.output
    assert "pw@" not in result.output
