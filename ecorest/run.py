"""Assessment runs: ``dbt build`` of the models for one region, recorded in etl.assessment_runs.

A run gets an id first (status ``running``), with the code version, the parameter sets and the
raster catalog entries it reads; dbt then builds staging -> intermediate -> marts, the marts
keeping every run's rows under its run id. A failed run is marked ``failed`` with dbt's message
and the previous runs' results stay as they were.
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
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from ecorest import assets
from ecorest.errors import LoadError, RunError
from ecorest.etl.loadlog import use_loader_role
from ecorest.etl.regions import get_region

log = logging.getLogger(__name__)

DBT_DIR = assets.path("dbt_project")


def code_version() -> str:
    """The installed package's version (from its metadata, stamped when it was built)."""
    return version("ecorest")


@contextmanager
def dbt_environment(url: str):
    """Expose the connection to dbt's profiles.yml through ECOREST_DBT_* variables."""
    p = conninfo_to_dict(url)
    values = {"ECOREST_DBT_HOST": p.get("host") or "localhost",
              "ECOREST_DBT_PORT": str(p.get("port") or 5432),
              "ECOREST_DBT_USER": p.get("user") or os.environ.get("USER", ""),
              "ECOREST_DBT_PASSWORD": p.get("password") or os.environ.get("PGPASSWORD", ""),
              "ECOREST_DBT_DBNAME": p.get("dbname") or ""}
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


def dbt(args: list[str], url: str, work_dir: Path) -> tuple[bool, str]:
    """Invoke dbt in-process; returns (success, summary of failures)."""
    from dbt.cli.main import dbtRunner

    work_dir.mkdir(parents=True, exist_ok=True)
    common = ["--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
              "--target-path", str(work_dir / "target")]
    with dbt_environment(url):
        os.environ["DBT_LOG_PATH"] = str(work_dir / "logs")
        os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"  # no network calls
        res = dbtRunner().invoke([args[0], *common, "--quiet", *args[1:]])
    failures = []
    if res.result is not None and hasattr(res.result, "results"):
        for r in res.result.results:
            if str(r.status) in ("error", "fail"):
                line = f"{r.node.name}: {r.status}: {(r.message or '').strip()[:500]}"
                stored = getattr(r.node, "relation_name", None)
                if stored and getattr(r.node.config, "store_failures", False):
                    line += f" (the rows at fault are stored in {stored})"
                failures.append(line)
    if res.exception is not None:
        failures.append(str(res.exception))
    return res.success, "\n".join(failures)


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


# settings with a fixed set of values (the others are numbers or lists)
SETTING_CHOICES = {
    "weight_method": ("explicit", "ahp", "entropy", "mixed"),
    "grading_method": ("fixed", "quantile", "natural_breaks"),
    "project_baseline": ("ring", "no_change"),
    "ndvi_annual_reduce": ("max", "mean"),
}


def check_settings(values: dict) -> None:
    """Refuse unknown model settings and values outside their choices, naming the setting."""
    import yaml

    known = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]
    for key, value in values.items():
        if key in ("run_id", "region_id", "ipcc_edition") or key not in known:
            raise LoadError(f"cannot set {key!r}: not a model setting; the settings are "
                            f"{', '.join(k for k in known if k not in ('run_id', 'region_id'))}"
                            " (dbt_project/dbt_project.yml)")
        choices = SETTING_CHOICES.get(key)
        if choices and value not in choices:
            raise LoadError(f"setting {key}={value!r} is not allowed: use one of "
                            f"{', '.join(choices)}")
        if choices is None and isinstance(known[key], (int, float)) and \
                not isinstance(value, (int, float)):
            raise LoadError(f"setting {key}={value!r} must be a number "
                            f"(default {known[key]})")


def run_assessment(conn: psycopg.Connection, url: str, region_name: str, *,
                   work_dir: Path, ipcc_edition: str = "2006", force: bool = False,
                   dbt_vars: dict | None = None) -> int:
    """Build every model for ``region_name`` as one recorded run; returns the run id.

    ``dbt_vars`` override settings of ``dbt_project/dbt_project.yml`` (e.g. ``{"grading_method":
    "quantile"}``) and are stored with the run. When the last succeeded run of the region used
    the same inputs, parameter sets, IPCC edition, settings and models, its id is returned and
    nothing is rebuilt (unless ``force``).
    """
    dbt_vars = dict(dbt_vars or {})
    check_settings(dbt_vars)
    region = get_region(conn, region_name)
    options = {"ipcc_edition": ipcc_edition, "models_sha256": models_sha256()}
    if dbt_vars:
        options["vars"] = dbt_vars
    previous = conn.execute(
        """select run_id from etl.assessment_runs
           where region_id = %s and status = 'succeeded' and options = %s
             and input_catalog_ids = array(select catalog_id from raster.catalog
                                           where region_id = %s and is_current
                                           order by catalog_id)
             and parameter_set_ids = array(select parameter_set_id
                                           from registry.parameter_sets where is_active
                                           order by parameter_set_id)
           order by run_id desc limit 1""",
        (region.region_id, Jsonb(options), region.region_id)).fetchone()
    conn.rollback()
    if previous and not force:
        log.info("run %d of region %s already used these inputs, parameters and models: "
                 "nothing to rebuild (use --force to rebuild)", previous[0], region_name)
        return previous[0]
    with conn.transaction():
        use_loader_role(conn)
        catalog_ids = [r[0] for r in conn.execute(
            "select catalog_id from raster.catalog where region_id = %s and is_current "
            "order by catalog_id", (region.region_id,))]
        param_ids = [r[0] for r in conn.execute(
            "select parameter_set_id from registry.parameter_sets where is_active "
            "order by parameter_set_id")]
        run_id = conn.execute(
            "insert into etl.assessment_runs (region_id, status, code_version, ipcc_edition, "
            "parameter_set_ids, input_catalog_ids, options) values (%s, 'running', %s, %s, "
            "%s, %s, %s) returning run_id",
            (region.region_id, code_version(), ipcc_edition, param_ids, catalog_ids,
             Jsonb(options))).fetchone()[0]
    if not catalog_ids:
        _finish(conn, run_id, "failed", "no raster layers loaded for this region", {})
        raise LoadError(f"region {region_name!r} has no land-cover layer: load one first")
    log.info("assessment run %d of region %s: dbt build", run_id, region_name)
    t0 = time.monotonic()
    run_vars = {**dbt_vars, "run_id": run_id, "region_id": region.region_id,
                "ipcc_edition": ipcc_edition}
    ok, failures = dbt(["build", "--vars", json.dumps(run_vars)], url, work_dir)
    timings = {"dbt_build_s": round(time.monotonic() - t0, 2)}
    if not ok:
        _finish(conn, run_id, "failed", failures or "dbt build failed", timings)
        raise RunError(f"assessment run {run_id} failed (previous results are untouched):\n"
                       f"{failures}")
    _finish(conn, run_id, "succeeded", None, timings)
    log.info("assessment run %d succeeded in %.1f s", run_id, timings["dbt_build_s"])
    return run_id


def _finish(conn, run_id: int, status: str, message: str | None, timings: dict) -> None:
    with conn.transaction():
        use_loader_role(conn)
        conn.execute("update etl.assessment_runs set status = %s, finished_at = now(), "
                     "message = %s, timings = %s where run_id = %s",
                     (status, message, Jsonb(timings), run_id))
