"""dbt, run in this process: the connection it gets (a least-privilege login, through
dbt_project/profiles.yml), its session settings, Ctrl-C, progress, and the parsed project that
the dbt calls of a run share.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ecorest import assets
from ecorest.progress import StepBar

log = logging.getLogger(__name__)

DBT_DIR = assets.path("dbt_project")

#: dbt's sessions notice within this many ms that the client is gone and stop their work
CLIENT_CHECK_MS = 2000


#: Planner settings of dbt's sessions. The kernels are declared parallel safe with a high cost
#: (sql/030_kernels.sql), so a model that calls one per tile runs in PostgreSQL's parallel
#: workers as well as its own process when there are enough tiles to pay for starting them;
#: a tile table's heap is small (the rasters are TOASTed), hence no minimum scan size. The
#: number of workers is the server's max_parallel_workers_per_gather. The tiles the models
#: write are compressed with lz4 (PostgreSQL's default, pglz, took as long as the kernels).
#: No JIT: the kernels' high cost made PostgreSQL compile every model's query with LLVM
#: (seconds each), for expressions that are not where the time goes. The session's own process
#: only gathers what the workers send (parallel_leader_participation off): a tile model's rows
#: are megabytes that pass through 64 kB queues, and a leader busy in a kernel of its own held
#: the workers back (256 tiles went 212 to the leader and 22 to each worker; the NDVI trend
#: model took 9.7 s with it, 7.1-7.5 s without, on 2 cores). No parallel index builds: with no
#: minimum scan size PostgreSQL planned a parallel worker for the index of every new table's
#: TOAST table, empty as it is, and every model that creates a table waited for one to start
#: and stop (about 0.2 s a model, half the server time of a run of a small region); the
#: models' own indexes are on tables of one row a tile.
DBT_SESSION_OPTIONS = ("-c min_parallel_table_scan_size=0 -c min_parallel_index_scan_size=0 "
                       "-c parallel_setup_cost=10000 -c default_toast_compression=lz4 "
                       "-c jit=off -c parallel_leader_participation=off "
                       "-c max_parallel_maintenance_workers=0")


@contextmanager
def dbt_environment(url: str):
    """Expose the connection to dbt's profiles.yml through ECOREST_DBT_* variables.

    dbt never gets a superuser session: for a superuser URL it connects as a temporary login
    that is a member of ecorest_etl only (``ecorest.store.roles.least_privilege_url``); any
    other login must be an ordinary member of ecorest_etl (e.g. ecorest_runner)."""
    from ecorest.store.roles import least_privilege_url

    with least_privilege_url(url) as login_url:
        p = conninfo_to_dict(login_url)
        values = {"ECOREST_DBT_HOST": p.get("host") or "localhost",
                  "ECOREST_DBT_PORT": str(p.get("port") or 5432),
                  "ECOREST_DBT_USER": p.get("user") or os.environ.get("USER", ""),
                  "ECOREST_DBT_PASSWORD": p.get("password") or os.environ.get("PGPASSWORD", ""),
                  "ECOREST_DBT_DBNAME": p.get("dbname") or "",
                  # this process's dbt sessions, so that Ctrl-C stops exactly them
                  "ECOREST_DBT_APPLICATION_NAME": dbt_application_name(),
                  # libpq's session options for dbt's connections (after the user's own)
                  "PGOPTIONS": f"{os.environ.get('PGOPTIONS', '')} {DBT_SESSION_OPTIONS}".strip()}
        old = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def dbt_application_name() -> str:
    return f"ecorest-dbt-{os.getpid()}"


@contextmanager
def stop_server_work_on_interrupt(url: str):
    """While dbt runs, Ctrl-C ends this process's dbt sessions on the server (the same login
    may end its own sessions) instead of letting dbt try to cancel them itself; once dbt has
    returned, KeyboardInterrupt is raised so that the run is marked failed and the command
    exits 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = {"interrupted": False, "done": threading.Event()}

    def end_sessions() -> None:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10,
                                 application_name="ecorest-interrupt") as conn:
                while not state["done"].wait(0.3):
                    conn.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                                 "where datname = current_database() and application_name = %s",
                                 (dbt_application_name(),))
        except psycopg.Error as exc:  # the server went away meanwhile: nothing left to stop
            log.debug("stopping the dbt sessions: %s", exc)

    def on_interrupt(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        if not state["interrupted"]:
            state["interrupted"] = True
            log.warning("interrupted: stopping the run's work on the server")
            threading.Thread(target=end_sessions, daemon=True).start()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        state["done"].set()
        signal.signal(signal.SIGINT, previous)
    if state["interrupted"]:
        raise KeyboardInterrupt


def dbt(args: list[str], url: str, work_dir: Path, *, bar: StepBar | None = None,
        label: str = "dbt", timings: dict | None = None,
        manifest: object | None = None) -> tuple[bool, str]:
    """Invoke dbt in-process; returns (success, summary of failures). Ctrl-C stops the work on
    the server and raises KeyboardInterrupt once dbt has returned. ``bar`` shows the models
    and tests done out of all, under ``label``, and those under way; ``timings`` receives the
    seconds of each model (name -> s). ``manifest``: the project as :func:`parsed_project`
    gave it (dbt parses it itself when None)."""
    res = _invoke(args, url, work_dir, callbacks=[_progress_events(bar, label)] if bar else None,
                  manifest=manifest)
    failures = []
    if res.result is not None and hasattr(res.result, "results"):
        for r in res.result.results:
            if timings is not None and getattr(r.node, "resource_type", None) == "model":
                timings[r.node.name] = round(float(r.execution_time or 0), 2)
            if str(r.status) in ("error", "fail"):
                line = f"{r.node.name}: {r.status}: {(r.message or '').strip()[:500]}"
                stored = getattr(r.node, "relation_name", None)
                if stored and getattr(r.node.config, "store_failures", False):
                    line += f" (the rows at fault are stored in {stored})"
                failures.append(line)
    if res.exception is not None:
        failures.append(str(res.exception))
    return res.success, "\n".join(failures)


def _invoke(args: list[str], url: str, work_dir: Path, *, callbacks=None, manifest=None):
    """dbt's result of ``args`` on the database of ``url`` (dbt prints nothing itself: the
    callers report its failures once)."""
    from dbt.cli.main import dbtRunner

    from ecorest.dbt_sessions import keep_sessions

    keep_sessions()
    work_dir.mkdir(parents=True, exist_ok=True)
    common = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
              "--target-path", str(work_dir / "target")]
    with dbt_environment(url), stop_server_work_on_interrupt(url), _client_check(url):
        os.environ["DBT_LOG_PATH"] = str(work_dir / "logs")
        os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"  # no network calls
        runner = dbtRunner(manifest=manifest, callbacks=callbacks)
        return runner.invoke([args[0], *common, "--log-level", "none", *args[1:]])


#: dbt's parses of the project kept for the later runs of this process (parsed_project)
_PARSED: dict[tuple, object] = {}
_PARSED_LOCK = threading.Lock()
_PARSED_KEEP = 4


def parsed_project(url: str, run_vars: dict, work_dir: Path, digest: str) -> object | None:
    """The project parsed by dbt for a run with the dbt variables ``run_vars`` on the database
    of ``url`` (``digest``: of the project's files), as a copy of its own for one dbt call
    (dbt writes each node's compiled SQL into it); None when dbt cannot parse it (the call then
    parses it itself and reports why).

    A parse takes seconds of CPU (3.4-3.8 s for this project on 2 cores), and dbt's own
    partial parsing starts over whenever a variable changes, so at every run (its id is one).
    The parse is therefore done once per run and kept, per project files, server and the run's
    variables but its id, for the later runs of this process, on any database of the server
    (each copy names its relations in the database of ``url``: _in_database). Leaving the run
    id out of the key is sound because the models, tests and hooks read it only in SQL that
    dbt renders as the node runs, never in a configuration fixed at parse time; the other
    variables can change a configuration (``derived_on_nodes`` makes int_slope_tiles a view)
    and are part of the key."""
    p = conninfo_to_dict(url)
    dbname = p.get("dbname") or ""
    key = (digest, p.get("host"), str(p.get("port")),
           json.dumps({k: v for k, v in run_vars.items() if k != "run_id"}, sort_keys=True))
    with _PARSED_LOCK:
        manifest = _PARSED.get(key)
    if manifest is None:
        res = _invoke(["parse", "--no-partial-parse", "--no-write-json",
                       "--vars", json.dumps(run_vars)], url, work_dir)
        if not res.success or res.result is None:
            return None
        manifest = res.result
        with _PARSED_LOCK:
            _PARSED[key] = manifest
            while len(_PARSED) > _PARSED_KEEP:
                _PARSED.pop(next(iter(_PARSED)))
    # dbt's own copy: its lookups are rebuilt on the copy
    return _in_database(manifest.deepcopy(), dbname)


def _in_database(manifest, dbname: str):
    """``manifest`` (a copy of a parse) with every relation in the database ``dbname``: dbt
    fixes each node's and source's database, and the relation name it renders from it
    (``"db"."schema"."name"``), at parse time; nothing else of a parse depends on the
    database. None when a relation name is not of that form (the call then parses)."""
    if not dbname:
        return None
    for node in (*manifest.nodes.values(), *manifest.sources.values()):
        old = getattr(node, "database", None)
        if old is None or old == dbname:
            continue
        node.database = dbname
        name = getattr(node, "relation_name", None)
        if name:
            prefix = f'"{old}".'
            if not name.startswith(prefix):   # dbt quotes every part of a postgres relation
                return None
            node.relation_name = f'"{dbname}".' + name[len(prefix):]
    return manifest


def _progress_events(bar: StepBar, label: str):
    """A dbt event callback that moves ``bar``: the node count when dbt knows it, each node's
    start and finish (dbt calls it from its worker threads)."""
    def on_event(event) -> None:
        name = event.info.name
        if name == "ConcurrencyLine":
            bar.reset(int(event.data.node_count), label)
        elif name == "NodeStart":
            bar.begin(event.data.node_info.node_name)
        elif name == "NodeFinished":
            bar.end(event.data.node_info.node_name)
    return on_event


@contextmanager
def _client_check(url: str):
    """dbt's sessions check every CLIENT_CHECK_MS that this process is still there while a
    query runs (``client_connection_check_interval``, through libpq's PGOPTIONS), so that the
    server stops a killed run's work instead of computing on for minutes; and they compress
    what they store with lz4 where the server has it (``default_toast_compression``: tiles of
    the factor, score and priority rasters are written 2-3x faster than with pglz, and read as
    fast)."""
    old = os.environ.get("PGOPTIONS")
    options = [old, f"-c client_connection_check_interval={CLIENT_CHECK_MS}"]
    if _has_lz4(url):
        options.append("-c default_toast_compression=lz4")
    os.environ["PGOPTIONS"] = " ".join(filter(None, options))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = old


_LZ4: dict[str, bool] = {}


def _has_lz4(url: str) -> bool:
    """Whether the server was built with lz4 (asked once per URL)."""
    if url not in _LZ4:
        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                _LZ4[url] = bool(conn.execute(
                    "select 'lz4' = any(enumvals) from pg_settings "
                    "where name = 'default_toast_compression'").fetchone()[0])
        except psycopg.Error:
            _LZ4[url] = False
    return _LZ4[url]
