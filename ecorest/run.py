"""Assessment runs: ``dbt build`` of the models for one region, recorded in etl.assessment_runs.

A run gets an id first (status ``running``), with the code version, the parameter sets and the
raster catalog entries it reads; the parameter sets are chosen here, one per kind (pinned with
``params``, else the region's active set, else an active global set), and dbt reads them from
the run's record (macro ``active_parameter_set``). dbt then builds staging -> intermediate ->
marts, the marts keeping every run's rows under its run id. A failed run is marked ``failed``
with dbt's message and the previous runs' results stay as they were.

One run at a time per database: a run holds the database's run slot (a session-level advisory
lock, ``RUN_LOCK``) on a connection of its own for its whole life, and a second run waits for it,
saying which run it waits for. The run's own lock (``RUN_LOCK``, run id), taken in the
transaction that records the run, shows that its process is alive: a run recorded ``running``
whose lock is free was killed, and the next run (or export) marks it failed and removes its
partial mart rows (``mark_dead_runs``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ecorest import assets
from ecorest.dbt_invoke import DBT_DIR, dbt, parsed_project
from ecorest.errors import LoadError, RunError
from ecorest.etl.loadlog import use_loader_role
from ecorest.etl.regions import get_region
from ecorest.progress import StepBar

log = logging.getLogger(__name__)

#: first key of the run advisory locks (two int4 keys): (RUN_LOCK, 0) is the database's run slot,
#: held by the process running a run; (RUN_LOCK, run id) by the process running that run
RUN_LOCK = 0x65636F72  # "ecor"
#: the message of a run found dead
DEAD_RUN = ("the process running it ended without finishing (killed?); its partial results "
            "were removed")
#: the message of a run stopped with Ctrl-C
CANCELLED = "cancelled by the user (Ctrl-C)"


def code_version() -> str:
    """The installed package's version (from its metadata, stamped when it was built)."""
    return version("ecorest")


def models_sha256() -> str:
    """A digest of everything that defines the results: dbt models, macros, tests, seeds, sql/."""
    h = hashlib.sha256()
    sql_dir = assets.path("sql")
    files = sorted([*(("dbt_project", f) for suffix in ("*.sql", "*.yml", "*.csv")
                      for f in DBT_DIR.rglob(suffix)),
                    *(("sql", f) for f in sql_dir.glob("*.sql"))])
    for name, f in files:
        rel = f.relative_to(DBT_DIR if name == "dbt_project" else sql_dir)
        if rel.parts[0] in ("target", "logs"):
            continue
        h.update(f"{name}/{rel}".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


# the typed schema of the settings lives in ecorest/store/run_settings.py
from ecorest.store.run_settings import SETTING_CHOICES, check_settings  # noqa: E402, F401


def parse_pin(spec: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@VERSION`` of a pinned parameter set -> (name, version or None)."""
    name, sep, ver = spec.strip().rpartition("@")
    if not sep:
        name, ver = ver, ""
    elif not (ver.isdigit() and int(ver) >= 1):
        raise LoadError(f"--params {spec!r}: the version after @ must be a whole number "
                        "(1, 2, ...)")
    if not name.strip():
        raise LoadError(f"--params {spec!r}: give the parameter set's name, as NAME or "
                        "NAME@VERSION")
    return name.strip(), int(ver) if sep else None


def resolve_pins(conn: psycopg.Connection, region_id: int, region_name: str,
                 pins: list[str]) -> dict[str, int]:
    """The sets pinned by ``NAME[@VERSION]``: the region's own set of that name, else the global
    one; without a version its newest. Returns {"name@version": parameter_set_id}; an unknown
    name or version, or two pins of one kind, fail naming it."""
    out: dict[str, int] = {}
    kinds: dict[str, str] = {}
    for spec in pins:
        name, version = parse_pin(spec)
        rows = conn.execute(
            "select region_id is not null, version, parameter_set_id, kind "
            "from registry.parameter_sets where name = %s "
            "and (region_id = %s or region_id is null) order by 1 desc, 2",
            (name, region_id)).fetchall()
        if not rows:
            raise LoadError(f"--params {spec!r}: no parameter set named {name!r} for region "
                            f"{region_name!r} or global (load it with `ecorest load params`)")
        own = rows[0][0]
        series = {v: (set_id, kind) for o, v, set_id, kind in rows if o == own}
        owner = f"region {region_name!r}" if own else "global"
        if version is None:
            version = max(series)
        elif version not in series:
            raise LoadError(f"--params {spec!r}: parameter set {name!r} ({owner}) has no version "
                            f"{version}; its versions are {', '.join(map(str, sorted(series)))}")
        set_id, kind = series[version]
        if kind in kinds and kinds[kind] != f"{name}@{version}":
            raise LoadError(f"--params {spec!r}: {kinds[kind]} is pinned for kind {kind} "
                            "already; pin one set per kind")
        kinds[kind] = f"{name}@{version}"
        out[f"{name}@{version}"] = set_id
    return out


def select_parameter_sets(conn: psycopg.Connection, region_id: int,
                          pinned: dict[str, int]) -> list[int]:
    """The run's parameter sets, one per kind: a pinned set, else the region's active set (the
    newest when several are active), else the newest active global set."""
    rows = conn.execute(
        """with pinned as (
               select parameter_set_id, kind from registry.parameter_sets
               where parameter_set_id = any(%(pinned)s::int[])
           ), chosen as (
               select distinct on (kind) parameter_set_id, kind
               from registry.parameter_sets
               where is_active and (region_id = %(region)s or region_id is null)
                 and kind not in (select kind from pinned)
               order by kind, region_id is null, created_at desc, parameter_set_id desc
           )
           select parameter_set_id from pinned
           union all
           select parameter_set_id from chosen
           order by 1""", {"pinned": list(pinned.values()), "region": region_id}).fetchall()
    return [r[0] for r in rows]


# ---- one run at a time per database; runs whose process died ---------------------------

def live_run_ids(conn: psycopg.Connection) -> set[int]:
    """The runs whose process is alive in this database: those whose own lock is held. Read
    it after the rows of the runs it is compared with (a run's row becomes visible with its
    lock already held)."""
    return {r[0] for r in conn.execute(
        "select objid::bigint from pg_locks where locktype = 'advisory' and granted "
        "and objsubid = 2 and classid::bigint = %s and objid <> 0 "
        "and database = (select oid from pg_database where datname = current_database())",
        (RUN_LOCK,))}


def slot_application_name() -> str:
    return f"ecorest-run-{os.getpid()}"


def runs_in_progress(conn: psycopg.Connection) -> list[tuple[int, str, object]]:
    """Runs whose process is alive: (run id, region name, started at)."""
    rows = conn.execute(
        "select a.run_id, g.name, a.started_at from etl.assessment_runs as a "
        "join registry.regions as g on g.region_id = a.region_id "
        "where a.status = 'running' order by a.run_id").fetchall()
    live = live_run_ids(conn)
    return [r for r in rows if r[0] in live]


@contextmanager
def run_slot(url: str):
    """The database's run slot, held until the block ends on a connection of its own (which
    is yielded): one run at a time per database, since runs share dbt's staging and
    intermediate relations. When another run holds it, this says which run it waits for and
    waits (Ctrl-C stops waiting). The slot is freed when the process ends, however it ends."""
    slot = psycopg.connect(url, autocommit=True, connect_timeout=10,
                           application_name=slot_application_name())
    try:
        if not slot.execute("select pg_try_advisory_lock(%s, 0)", (RUN_LOCK,)).fetchone()[0]:
            busy = runs_in_progress(slot)
            holder = ", ".join(f"run {r} (region {g}, started {t:%Y-%m-%d %H:%M:%S %Z})"
                               for r, g, t in busy) or "another ecorest run (starting)"
            log.warning("waiting for %s to finish: one run at a time per database", holder)
            slot.execute("select pg_advisory_lock(%s, 0)", (RUN_LOCK,))
            log.info("the run before has finished: starting")
        yield slot
    finally:
        slot.close()


def mark_dead_runs(conn: psycopg.Connection) -> list[int]:
    """Runs recorded ``running`` whose process has ended without finishing (killed, crashed,
    its machine gone: the run's lock is free) are marked ``failed`` with DEAD_RUN, whatever
    their dbt sessions still compute on the server is stopped, and their rows are deleted from
    every mart. Returns their ids. Any command may call it: a live run is never touched.
    ``conn`` must not be inside a transaction that should stay open."""
    running = [r[0] for r in conn.execute(
        "select run_id from etl.assessment_runs where status = 'running'")]
    live = live_run_ids(conn)
    dead = [r for r in running if r not in live]
    if not conn.autocommit:
        conn.commit()
    if not dead:
        return []
    _stop_orphan_sessions(conn)
    with conn.transaction():
        use_loader_role(conn)
        # a run that finished meanwhile is no longer running: the update skips it
        marked = [r[0] for r in conn.execute(
            "update etl.assessment_runs set status = 'failed', finished_at = now(), "
            "message = %s where run_id = any(%s) and status = 'running' returning run_id",
            (DEAD_RUN, dead))]
        _delete_run_rows(conn, marked)
    for run_id in marked:
        log.warning("run %d had been left running: %s", run_id, DEAD_RUN)
    return marked


def _stop_orphan_sessions(conn: psycopg.Connection) -> None:
    """End the dbt sessions of processes that have ended (a process's dbt sessions are named
    after its pid, and its run slot connection too while it runs): the server would otherwise
    go on computing, and writing, for the dead run. Waits until they are gone."""
    orphans = conn.execute(
        "select d.pid from pg_stat_activity as d "
        "where d.datname = current_database() and d.application_name like 'ecorest-dbt-%' "
        "and not exists (select 1 from pg_stat_activity as r where r.datname = d.datname "
        "                and r.application_name = 'ecorest-run-' || substr(d.application_name,"
        "                                                                   13))"
    ).fetchall()
    for (pid,) in orphans:
        try:
            with conn.transaction():
                conn.execute("select pg_terminate_backend(%s, 30000)", (pid,))
        except psycopg.Error as exc:  # another login's session: it stops on its own
            log.warning("could not stop server session %d of a dead run: %s", pid,
                        str(exc).strip())
    if not conn.autocommit:
        conn.commit()


def _delete_run_rows(conn: psycopg.Connection, run_ids: list[int]) -> None:
    """Delete the rows of these runs from every mart having a run_id column."""
    if not run_ids:
        return
    marts = [r[0] for r in conn.execute(
        "select c.relname from pg_class as c "
        "join pg_namespace as n on n.oid = c.relnamespace "
        "join pg_attribute as a on a.attrelid = c.oid and a.attname = 'run_id' "
        "  and not a.attisdropped "
        "where n.nspname = 'marts' and c.relkind in ('r', 'p') order by 1")]
    for name in marts:
        conn.execute(sql.SQL("delete from {} where run_id = any(%s)").format(
            sql.Identifier("marts", name)), (run_ids,))


def run_assessment(conn: psycopg.Connection, url: str, region_name: str, *,
                   work_dir: Path, ipcc_edition: str = "2006", force: bool = False,
                   dbt_vars: dict | None = None, params: list[str] | None = None) -> int:
    """Build every model for ``region_name`` as one recorded run; returns the run id.

    ``dbt_vars`` override settings of ``dbt_project/dbt_project.yml`` (e.g. ``{"grading_method":
    "quantile"}``) and are stored with the run. ``params`` pins parameter sets by
    ``NAME[@VERSION]`` for this run, whatever is active (the region's own set of that name,
    else the global one; without a version its newest); they are stored with the run
    (``options.params``). When the last succeeded run of the region used the same inputs,
    parameter sets, IPCC edition, settings and models, its id is returned and nothing is
    rebuilt (unless ``force``).
    """
    dbt_vars = dict(dbt_vars or {})
    check_settings(dbt_vars)
    region = get_region(conn, region_name)
    pinned = resolve_pins(conn, region.region_id, region_name, list(params or []))
    param_ids = select_parameter_sets(conn, region.region_id, pinned)
    conn.rollback()
    options = {"ipcc_edition": ipcc_edition, "models_sha256": models_sha256()}
    if dbt_vars:
        options["vars"] = dbt_vars
    if pinned:
        options["params"] = pinned
    with run_slot(url) as slot:
        mark_dead_runs(slot)
        previous = slot.execute(
            """select run_id from etl.assessment_runs
               where region_id = %s and status = 'succeeded' and options = %s
                 and input_catalog_ids = array(select catalog_id from raster.catalog
                                               where region_id = %s and is_current
                                               order by catalog_id)
                 and parameter_set_ids = %s::int[]
               order by run_id desc limit 1""",
            (region.region_id, Jsonb(options), region.region_id, param_ids)).fetchone()
        if previous and not force:
            log.info("run %d of region %s already used these inputs, parameters and models: "
                     "nothing to rebuild (use --force to rebuild)", previous[0], region_name)
            return previous[0]
        run_id = record_run(slot, region.region_id, ipcc_edition, param_ids, options)
        return build_run(conn, url, run_id, work_dir=work_dir)


def record_run(slot: psycopg.Connection, region_id: int, ipcc_edition: str,
               param_ids: list[int], options: dict) -> int:
    """Record a run (status ``running``) with the raster catalog entries it will read, the
    region's current ones, pinned here: the models read these, whatever is loaded meanwhile.
    The run's lock is taken in the same transaction, on ``slot`` (the run slot's connection,
    which the run keeps until it ends), so that a run seen running always has its lock."""
    with slot.transaction():
        use_loader_role(slot)
        catalog_ids = [r[0] for r in slot.execute(
            "select catalog_id from raster.catalog where region_id = %s and is_current "
            "order by catalog_id", (region_id,))]
        run_id = slot.execute(
            "insert into etl.assessment_runs (region_id, status, code_version, ipcc_edition, "
            "parameter_set_ids, input_catalog_ids, options) values (%s, 'running', %s, %s, "
            "%s, %s, %s) returning run_id",
            (region_id, code_version(), ipcc_edition, param_ids, catalog_ids,
             Jsonb(options))).fetchone()[0]
        slot.execute("select pg_advisory_lock(%s, %s::int)", (RUN_LOCK, run_id))
    return run_id


#: per-pixel results computed and kept on the data nodes when their inputs lie co-located there
#: (the run's catalog entries of a layer, as stg_raster__ident_layers picks them: every NDVI
#: epoch; the latest DEM)
DERIVED_INPUTS = {
    "ndvi_trend": "select array(select catalog_id from raster.catalog where catalog_id = any(%s) "
                  "and region_id = %s and layer = 'ndvi' and epoch_date <= current_date "
                  "order by epoch_date, catalog_id)",
    "slope": "select array(select catalog_id from raster.catalog where catalog_id = any(%s) "
             "and region_id = %s and layer = 'dem' and epoch_date <= current_date "
             "order by epoch_date desc limit 1)",
    # the identification factors of land cover, NDVI trend and slope (macro node_factors):
    # every land-cover, NDVI and DEM entry of the run co-located
    "factors": "select array(select catalog_id from raster.catalog where catalog_id = any(%s) "
               "and region_id = %s and layer in ('landcover', 'ndvi', 'dem') "
               "and epoch_date <= current_date order by catalog_id)",
}


def derived_on_nodes(conn: psycopg.Connection, region_id: int, catalog_ids: list[int]
                     ) -> list[str]:
    """The per-pixel results of the run to compute and keep on the data nodes (dbt variable
    ``derived_on_nodes``): those whose inputs lie co-located there (raster.node_placement);
    none on a single server."""
    kinds = []
    for kind, query in DERIVED_INPUTS.items():
        ids = conn.execute(query, (catalog_ids, region_id)).fetchone()[0]
        if conn.execute("select raster.node_placement(%s) is not null", (ids,)).fetchone()[0]:
            kinds.append(kind)
    conn.rollback()
    return kinds


def build_run(conn: psycopg.Connection, url: str, run_id: int, *, work_dir: Path) -> int:
    """dbt build of a recorded run (its region, inputs, IPCC edition and settings as recorded),
    then its status; the caller holds the run slot."""
    region_id, region_name, ipcc_edition, catalog_ids, dbt_vars, digest = conn.execute(
        "select a.region_id, g.name, a.ipcc_edition, a.input_catalog_ids, "
        "coalesce(a.options -> 'vars', '{}'), a.options ->> 'models_sha256' "
        "from etl.assessment_runs as a "
        "join registry.regions as g on g.region_id = a.region_id where a.run_id = %s",
        (run_id,)).fetchone()
    conn.rollback()
    if not catalog_ids:
        _finish(conn, run_id, "failed", "no raster layers loaded for this region", {})
        raise LoadError(f"region {region_name!r} has no land-cover layer: load one first")
    log.info("assessment run %d of region %s: dbt build", run_id, region_name)
    t0 = time.monotonic()
    run_vars = {**dbt_vars, "run_id": run_id, "region_id": region_id,
                "ipcc_edition": ipcc_edition,
                "derived_on_nodes": derived_on_nodes(conn, region_id, catalog_ids)}
    models: dict[str, float] = {}
    try:
        from ecorest.store.roles import least_privilege_url

        # one login for both dbt calls of the run (a temporary one for a superuser URL), one
        # parse of the project for both (parsed_project)
        with StepBar(f"run {run_id}") as bar, least_privilege_url(url) as login_url:
            # checks that can fail without per-pixel work (Tier 1 gaps ...), first
            failures = check_densities_first(conn, login_url, run_vars, work_dir, bar=bar,
                                             timings=models, digest=digest)
            ok = failures is None
            if ok:
                ok, failures = dbt(["build", *AFTER_CHECK, "--vars", json.dumps(run_vars)],
                                   login_url, work_dir, bar=bar, label=f"run {run_id} models",
                                   timings=models, manifest=parsed_project(
                                       login_url, run_vars, work_dir, digest))
    except KeyboardInterrupt:
        _finish(conn, run_id, "failed", CANCELLED,
                {"dbt_build_s": round(time.monotonic() - t0, 2)}, remove_rows=True)
        raise
    # where the time went: the whole build and each model (etl.assessment_runs.timings)
    timings = {"dbt_build_s": round(time.monotonic() - t0, 2),
               "models_s": sorted(models.items(), key=lambda kv: -kv[1])}
    gone = inputs_gone(conn, run_id) if ok else []
    if gone:
        message = ("inputs of the run were replaced or removed while it computed, so its "
                   "results may not be theirs: " + "; ".join(gone) + "; run it again")
        _finish(conn, run_id, "failed", message, timings, remove_rows=True)
        raise RunError(f"assessment run {run_id} failed: {message}")
    if not ok:
        _finish(conn, run_id, "failed", failures or "dbt build failed", timings)
        raise RunError(f"assessment run {run_id} failed (previous results are untouched):\n"
                       f"{failures}")
    _finish(conn, run_id, "succeeded", None, timings)
    log.info("assessment run %d succeeded in %.1f s", run_id, timings["dbt_build_s"])
    return run_id


def inputs_gone(conn: psycopg.Connection, run_id: int) -> list[str]:
    """The raster inputs the run pinned whose tiles are gone (a load replaced that layer and
    epoch and dropped them), as "layer epoch (file)"."""
    rows = conn.execute(
        """select coalesce(c.layer || ' ' || c.epoch_label || ' (' || c.source_path || ')',
                           'raster catalog entry ' || u.catalog_id)
           from etl.assessment_runs as a
           cross join lateral unnest(a.input_catalog_ids) as u(catalog_id)
           left join raster.catalog as c on c.catalog_id = u.catalog_id
           where a.run_id = %s
             and (c.catalog_id is null
                  or (c.tile_count > 0 and not exists (select 1 from raster.tiles as t
                                                       where t.catalog_id = u.catalog_id)))
           order by 1""", (run_id,)).fetchall()
    conn.rollback()
    return [r[0] for r in rows]


def _finish(conn, run_id: int, status: str, message: str | None, timings: dict, *,
            remove_rows: bool = False) -> None:
    """The run's status, in one transaction (``remove_rows``: with its partial mart rows
    deleted, for a run that was interrupted). A succeeded run becomes visible in bi here."""
    with conn.transaction():
        use_loader_role(conn)
        conn.execute("update etl.assessment_runs set status = %s, finished_at = now(), "
                     "message = %s, timings = %s where run_id = %s",
                     (status, message, Jsonb(timings), run_id))
        if remove_rows:
            _delete_run_rows(conn, [run_id])


# ---- carbon densities checked before the per-pixel models ---------------------------------

#: the nodes of the early checks: these models and everything they are built from
CHECKED = ["+int_density_gaps", "+int_ident_factors"]
#: what the early checks build: seeds, staging, the carbon densities and the identification
#: factors and parameters (no per-pixel model), with every test on them (their parents all
#: built: the settings, parameter sets, unique keys, identification parameters ...); the
#: density gaps are read and reported here, in place of the test on them
#: (assert_every_class_has_a_density, the one test that neither build runs)
DENSITY_CHECK = ["--select", *CHECKED,
                 "--exclude", "assert_every_class_has_a_density",
                 "--indirect-selection", "cautious"]
#: the full build after them: every other node, with every test that has a parent among them
#: (cautious: a test is left out only when all its parents were built and tested in the
#: checks, as the same run's tables); before, the full build built the checks' nodes again
AFTER_CHECK = ["--exclude", *CHECKED, "--indirect-selection", "cautious"]


def check_densities_first(conn: psycopg.Connection, url: str, run_vars: dict,
                          work_dir: Path, *, digest: str, bar: StepBar | None = None,
                          timings: dict | None = None) -> str | None:
    """Build the seeds, staging models, carbon densities and identification factors only, with
    their tests, and check that every class present in the land-cover rasters has a density
    for every pool of the run (seconds, before any per-pixel model). Returns None when all
    pass, else a message naming each class, pool, IPCC stratum and reason
    (``intermediate.int_density_gaps``), or the failing checks (dbt's failures): a check that
    can fail without per-pixel work is reported before any of it starts."""
    ok, failures = dbt(["build", *DENSITY_CHECK, "--vars", json.dumps(run_vars)], url, work_dir,
                       bar=bar, label=f"run {run_vars['run_id']} checks", timings=timings,
                       manifest=parsed_project(url, run_vars, work_dir, digest))
    try:
        rows = conn.execute(
            "select class_code, class_name, ipcc_category, string_agg(pool, ', ' order by pool),"
            " ipcc_climate_zone, ipcc_soil_type, ipcc_edition, reason "
            "from intermediate.int_density_gaps where run_id = %s "
            "group by class_code, class_name, ipcc_category, ipcc_climate_zone, ipcc_soil_type,"
            " ipcc_edition, reason order by class_code, 4", (run_vars["run_id"],)).fetchall()
    except psycopg.errors.UndefinedTable:
        rows = []
    conn.rollback()
    if not rows:
        return None if ok else (failures or "dbt build of the density check failed")
    lines = []
    for code, name, category, pools, climate, soil, edition, reason in rows:
        what = (f"class {code}" + (f" {name!r}" if name else "")
                + f" ({category or 'no IPCC category'})")
        lines.append(f"  {what}, pool{'s' if ', ' in pools else ''} {pools}: {reason} "
                     f"[stratum: climate {climate or 'not set'}, soil {soil or 'not set'}, "
                     f"IPCC {edition}]")
    classes = len({r[0] for r in rows})
    return (f"assert_every_class_has_a_density: {classes} land-cover class(es) in the rasters "
            "have no carbon density for a pool of the run; nothing was computed. Give survey "
            "plots (ecorest load plots) or a carbon_pools parameter set (ecorest load params) "
            "for them, or correct the region's IPCC strata (ecorest region set-ipcc):\n"
            + "\n".join(lines))
