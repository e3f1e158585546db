"""Test fixtures: a real PostgreSQL + PostGIS server, a template database built once from the
migrations, and a fresh clone of it for every test that needs one.

The server is ``ECOREST_TEST_DATABASE_URL`` when set (a superuser URL), otherwise an embedded
cluster under ``.ecorest-test/`` (``ECOREST_TEST_HOME``), started for the session and stopped
at its end.

With pytest-xdist (``./dev test`` runs ``-n 2 --dist loadgroup``) the workers share the server
and the template: the controlling process starts the embedded cluster before the workers and
stops it after them; the first worker that needs the template builds it (the others wait on a
lock file in the test home) and the controlling process drops it at the end. Every test still
gets its own clone. Tests that must not run beside one another's migrations share an
``xdist_group``.

``prebuilt`` does the same for a database filled by a test module's builder (regions, loads
and an `ecorest run`): built once per test run, cloned for each test that starts from it.
"""

from __future__ import annotations

import json
import os
import pickle
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.janitor import DatabaseJanitor

from ecorest.store import db as dbmod
from ecorest.store.cluster import EmbeddedCluster
from helpers import file_lock, testing_home

ROOT = Path(__file__).resolve().parent.parent
#: names this test run (the controlling process's id), inherited by pytest-xdist's workers
RUN_ENV = "ECOREST_TEST_RUN"
#: databases built once per test run by a test's builder (the fixture ``prebuilt``)
PREBUILT = "ecorest_pb_"


def url_for(base_url: str, dbname: str) -> str:
    return make_conninfo(base_url, dbname=dbname)


def _janitor(base_url: str, dbname: str, **kwargs) -> DatabaseJanitor:
    p = conninfo_to_dict(base_url)
    return DatabaseJanitor(user=p["user"], password=p.get("password"), host=p["host"],
                           port=p["port"], dbname=dbname, **kwargs)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _distributes(config: pytest.Config) -> bool:
    """This is the controlling process of pytest-xdist workers."""
    return not _is_worker(config) and bool(getattr(config.option, "numprocesses", None)) \
        and getattr(config.option, "dist", "no") != "no"


def _run_name() -> str:
    return str(os.environ.get(RUN_ENV, os.getpid()))


def _template_name() -> str:
    return f"ecorest_tmpl_{_run_name()}"


def _start_cluster() -> tuple[EmbeddedCluster, bool]:
    """The embedded cluster of the test home, started; whether it was running before."""
    cluster = EmbeddedCluster(testing_home())
    with file_lock("cluster"):
        was_running = cluster.is_running()
        cluster.start()
    return cluster, was_running


#: the embedded cluster the controlling process started, and whether it was running before
_STARTED = pytest.StashKey[tuple]()


class _SlowFirst:
    """On a pytest-xdist worker the tests marked ``slow`` come first in the collection, which
    the scheduler hands out in that order after the groups (largest first): no long test
    starts last while the other worker has nothing left to do."""

    @pytest.hookimpl(trylast=True)   # after pytest's own reordering by fixture scope
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config: pytest.Config) -> None:
    if not _is_worker(config):
        os.environ[RUN_ENV] = str(os.getpid())
    else:
        config.pluginmanager.register(_SlowFirst(), "ecorest-slow-first")


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _distributes(config) and not os.environ.get("ECOREST_TEST_DATABASE_URL"):
        cluster, was_running = _start_cluster()
        config.stash[_STARTED] = (cluster, was_running)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if not _distributes(config):
        return
    started = config.stash.get(_STARTED, None)
    url = os.environ.get("ECOREST_TEST_DATABASE_URL") or (
        started[0].url("postgres") if started else None)
    if url:
        _drop_prebuilt(url, f"{PREBUILT}{_run_name()}_")
        _janitor(url, _template_name(), as_template=True).drop()
        (testing_home() / f"{_template_name()}.lock").unlink(missing_ok=True)
    _groups_file().unlink(missing_ok=True)
    if started and not started[1]:
        started[0].stop()


#: fixtures that clone a ``prebuilt`` database -> its key: the tests using one run on one
#: pytest-xdist worker, one after another, so that no worker waits while another builds it
PREBUILT_FIXTURES = {"willamette_run": "willamette", "reported": "reported",
                     "exported": "exported", "one_run": "bi_tiny", "alpha": "alpha"}


def _groups_file() -> Path:
    return testing_home() / f"xdist_groups_{_run_name()}.json"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test's xdist group: its xdist_group marks and the prebuilt databases it clones.
    pytest-xdist 3.8 cannot attach groups to test ids under pytest 9 (it sets the no longer
    read ``Item._nodeid``), so the workers write them to a file in the test home that the
    scheduler below reads."""
    groups = {}
    for item in items:
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                 for m in item.iter_markers("xdist_group")}
        names |= {f"prebuilt_{key}" for name, key in PREBUILT_FIXTURES.items()
                  if name in getattr(item, "fixturenames", ())}
        if names:
            groups[item.nodeid] = "_".join(sorted(names))
    if _is_worker(config):
        path = _groups_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(path)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # without pytest-xdist: never called
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """--dist loadgroup with the groups of pytest_collection_modifyitems: the tests of one
    group are one unit of work (the largest units first), every other test its own."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FileGroupScheduling(LoadGroupScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if "@" in nodeid:
                return super()._split_scope(nodeid)
            if self.groups is None:
                path = _groups_file()
                self.groups = json.loads(path.read_text()) if path.exists() else {}
            group = self.groups.get(nodeid)
            return f"group:{group}" if group else nodeid

    return FileGroupScheduling(config, log)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """Superuser URL of the test server (any database name)."""
    given = os.environ.get("ECOREST_TEST_DATABASE_URL")
    if given:
        yield given
        return
    cluster, was_running = _start_cluster()
    yield cluster.url("postgres")
    if not was_running:
        cluster.stop()


@pytest.fixture(scope="session")
def template_db(server_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """Name of a template database migrated to head (built once per test run)."""
    name = _template_name()
    shared = _is_worker(request.config)
    with file_lock(name):
        with psycopg.connect(url_for(server_url, "postgres"), autocommit=True) as conn:
            ready = conn.execute("select datistemplate from pg_database where datname = %s",
                                 (name,)).fetchone()
        if not (shared and ready and ready[0]):
            janitor = _janitor(server_url, name, as_template=bool(ready and ready[0]))
            janitor.drop()
            janitor.as_template = False
            janitor.init()
            dbmod.migrate(url_for(server_url, name))
            with psycopg.connect(url_for(server_url, "postgres"), autocommit=True) as conn:
                conn.execute(psycopg.sql.SQL("alter database {} with is_template true")
                             .format(psycopg.sql.Identifier(name)))
    yield name
    if not shared:  # the workers' template is dropped by the controlling process
        _janitor(server_url, name, as_template=True).drop()
        (testing_home() / f"{name}.lock").unlink(missing_ok=True)


@contextmanager
def fresh_database(server_url: str, template: str) -> Iterator[str]:
    """URL of a new database cloned from ``template``, dropped afterwards."""
    name = f"ecorest_t_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(server_url, name, template_dbname=template)
    janitor.init()
    try:
        yield url_for(server_url, name)
    finally:
        janitor.drop()


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh database cloned from the migrated template, dropped after the test."""
    with fresh_database(server_url, template_db) as url:
        yield url


@pytest.fixture
def empty_db_url(server_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh empty database (no extensions, no schema). It waits for the template
    (its migrations must not run beside those of the template's)."""
    name = f"ecorest_e_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(server_url, name, template_dbname="template0")
    janitor.init()
    try:
        yield url_for(server_url, name)
    finally:
        janitor.drop()


def _drop_prebuilt(server_url: str, prefix: str) -> None:
    """Drop the prebuilt databases whose names start with ``prefix``."""
    with psycopg.connect(url_for(server_url, "postgres"), autocommit=True) as admin:
        names = [r[0] for r in admin.execute(
            "select datname from pg_database where starts_with(datname, %s)", (prefix,))]
    for name in names:
        _janitor(server_url, name, as_template=True).drop()
        for suffix in (".pickle", ".lock"):
            (testing_home() / f"{name}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def prebuilt(server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest):
    """``prebuilt(key, build)``: a context manager giving (URL, value) of a fresh database
    cloned from one that ``build(connection, url, folder)`` filled once per test run, and the
    value ``build`` returned (e.g. a run id and the files it wrote). For tests that need the
    same expensive `ecorest run` on the same inputs: it is built once (by the first worker
    that needs it; the others wait on its lock file) and each test gets its own copy, so a
    test may change it."""
    shared = _is_worker(request.config)

    @contextmanager
    def clone(key: str, build: Callable[[psycopg.Connection, str, Path], object]
              ) -> Iterator[tuple[str, object]]:
        name = f"{PREBUILT}{_run_name()}_{key}"
        saved = testing_home() / f"{name}.pickle"
        with file_lock(name):
            with psycopg.connect(url_for(server_url, "postgres"), autocommit=True) as admin:
                ready = admin.execute("select datistemplate from pg_database where datname = %s",
                                      (name,)).fetchone()
            if not (ready and ready[0] and saved.exists()):
                janitor = _janitor(server_url, name, as_template=bool(ready and ready[0]))
                janitor.drop()
                janitor = _janitor(server_url, name, template_dbname=template_db)
                janitor.init()
                url = url_for(server_url, name)
                with psycopg.connect(url) as connection:
                    value = build(connection, url, tmp_path_factory.mktemp(key))
                    connection.commit()
                saved.write_bytes(pickle.dumps(value))
                with psycopg.connect(url_for(server_url, "postgres"), autocommit=True) as admin:
                    admin.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                                  "where datname = %s", (name,))
                    admin.execute(psycopg.sql.SQL("alter database {} with is_template true")
                                  .format(psycopg.sql.Identifier(name)))
            value = pickle.loads(saved.read_bytes())
        with fresh_database(server_url, name) as url:
            yield url, value

    yield clone
    if not shared:  # the workers' are dropped by the controlling process
        _drop_prebuilt(server_url, f"{PREBUILT}{_run_name()}_")


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """A superuser connection to a fresh migrated database."""
    with psycopg.connect(db_url) as connection:
        yield connection

