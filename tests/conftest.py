"""Test fixtures: a real PostgreSQL + PostGIS server, a template database built once from the
migrations, and a fresh clone of it for every test that needs one.

The server is ``ECOREST_TEST_DATABASE_URL`` when set (a superuser URL), otherwise an embedded
cluster under ``.ecorest-test/`` (``ECOREST_TEST_HOME``), started for the session and stopped
at its end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from ecorest.store import db as dbmod
from ecorest.store.cluster import EmbeddedCluster

ROOT = Path(__file__).resolve().parent.parent


def url_for(base_url: str, dbname: str) -> str:
    return make_conninfo(base_url, dbname=dbname)


def _janitor(base_url: str, dbname: str, **kwargs) -> DatabaseJanitor:
    p = conninfo_to_dict(base_url)
    return DatabaseJanitor(user=p["user"], password=p.get("password"), host=p["host"],
                           port=p["port"], dbname=dbname, **kwargs)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """Superuser URL of the test server (any database name)."""
    given = os.environ.get("ECOREST_TEST_DATABASE_URL")
    if given:
        yield given
        return
    home = Path(os.environ.get("ECOREST_TEST_HOME", ROOT / ".ecorest-test")).resolve()
    cluster = EmbeddedCluster(home)
    was_running = cluster.is_running()
    cluster.start()
    yield cluster.url("postgres")
    if not was_running:
        cluster.stop()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """Name of a template database migrated to head (built once per session)."""
    name = f"ecorest_tmpl_{os.getpid()}"
    janitor = _janitor(server_url, name, as_template=False)
    janitor.drop()
    janitor.init()
    dbmod.migrate(url_for(server_url, name))
    with psycopg.connect(url_for(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("alter database {} with is_template true")
                     .format(psycopg.sql.Identifier(name)))
    janitor.as_template = True
    yield name
    janitor.drop()


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh database cloned from the migrated template, dropped after the test."""
    name = f"ecorest_t_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(server_url, name, template_dbname=template_db)
    janitor.init()
    try:
        yield url_for(server_url, name)
    finally:
        janitor.drop()


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """URL of a fresh empty database (no extensions, no schema)."""
    name = f"ecorest_e_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(server_url, name, template_dbname="template0")
    janitor.init()
    try:
        yield url_for(server_url, name)
    finally:
        janitor.drop()


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection to a fresh migrated database."""
    with psycopg.connect(db_url) as connection:
        yield connection
