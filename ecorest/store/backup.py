"""Backups that restore anywhere: ``ecorest db backup FILE`` / ``ecorest db restore FILE``.

A backup is one tar file holding

* ``manifest.json`` — format, ecorest version, schema revision, server versions, and the row
  count and an order-independent checksum of every table of the ecorest schemas (checked after a
  restore);
* ``roles.sql`` — the cluster-wide roles the database needs (``ecorest_etl``,
  ``ecorest_analyst``, ``ecorest_bi``, ``ecorest_runner`` and the logins that are members of
  them, with their memberships; password verifiers where the backup could read them, never the
  runner's, which the target sets itself) — ``pg_dump`` does not carry roles;
* ``owners.sql`` — which objects belong to which ecorest role (dbt's tables and views belong to
  ``ecorest_etl``);
* ``database.dump`` — ``pg_dump --format=custom`` of the whole database: the extensions, the
  custom CRS rows of ``spatial_ref_sys``, every schema with its data.

A restore goes into an *empty* database of any server (by default a new embedded cluster):
roles first, then ``pg_restore --no-owner --no-privileges`` in one transaction (so the objects
of the source's superuser become the restoring user's, whatever its name), then the ecorest
owners, then ``ecorest db migrate`` (upgrades an older backup, re-applies functions and grants),
then the checksums are compared with the manifest.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ecorest.errors import EcorestError

from . import db as dbmod
from .roles import RUNNER, TEMPORARY_PREFIX

log = logging.getLogger(__name__)

FORMAT = "ecorest-backup/1"
#: the schemas whose tables the manifest counts and checks
CHECKED_SCHEMAS = ("registry", "raster", "etl", "staging", "intermediate", "marts", "bi")
GROUP_ROLES = ("ecorest_etl", "ecorest_analyst", "ecorest_bi")


class BackupError(EcorestError):
    """A backup or restore that could not be done (the message says why)."""


# ----- what a database holds ---------------------------------------------------------------
def table_checksums(conn: psycopg.Connection) -> dict[str, list]:
    """``{schema.table: [rows, md5 of the sorted row md5s]}`` of every table of the ecorest
    schemas (partitions counted through their parent, views skipped)."""
    tables = conn.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = "
        "c.relnamespace where n.nspname = any(%s) and c.relkind in ('r', 'p') "
        "and not c.relispartition order by 1, 2", (list(CHECKED_SCHEMAS),)).fetchall()
    out = {}
    for schema, table in tables:
        query = sql.SQL("select count(*), coalesce(md5(string_agg(md5(t::text), '' order by "
                        "md5(t::text))), '') from {} t").format(sql.Identifier(schema, table))
        count, digest = conn.execute(query).fetchone()
        out[f"{schema}.{table}"] = [count, digest]
    return out


def _roles_sql(conn: psycopg.Connection) -> str:
    """Statements that create the ecorest roles and their member logins where missing."""
    rows = conn.execute(
        """with recursive members(oid) as (
               select oid from pg_roles where rolname = any(%(groups)s)
               union
               select m.member from pg_auth_members m join members on m.roleid = members.oid
           )
           select r.rolname, r.rolcanlogin, r.rolinherit,
                  array(select g.rolname::text from pg_auth_members m
                        join pg_roles g on g.oid = m.roleid
                        where m.member = r.oid and g.oid in (select oid from members)
                        order by 1)
           from pg_roles r where r.oid in (select oid from members)
             and not r.rolsuper and r.rolname not like %(tmp)s
           order by r.rolname in (%(g0)s, %(g1)s, %(g2)s) desc, r.rolname""",
        {"groups": list(GROUP_ROLES), "tmp": TEMPORARY_PREFIX.replace("_", r"\_") + "%",
         "g0": GROUP_ROLES[0], "g1": GROUP_ROLES[1], "g2": GROUP_ROLES[2]}).fetchall()
    verifiers: dict[str, str] = {}
    try:
        with conn.transaction():
            verifiers = dict(conn.execute(
                "select rolname, rolpassword from pg_authid where rolpassword is not null "
                "and rolname <> %s", (RUNNER,)).fetchall())
    except psycopg.errors.InsufficientPrivilege:
        log.warning("cannot read password verifiers (not a superuser): logins restored "
                    "without passwords")
    lines = ["-- roles of an ecorest database (ecorest db backup); idempotent"]
    for name, login, inherit, groups in rows:
        attrs = (f"{'LOGIN' if login else 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE "
                 f"{'INHERIT' if inherit else 'NOINHERIT'} NOREPLICATION NOBYPASSRLS")
        ident = sql.Identifier(name).as_string(conn)
        lines.append(
            f"do $$ begin if not exists (select from pg_roles where rolname = "
            f"{sql.Literal(name).as_string(conn)}) then create role {ident} {attrs}; "
            f"end if; end $$;")
        if name in verifiers:
            lines.append(f"alter role {ident} password "
                         f"{sql.Literal(verifiers[name]).as_string(conn)};")
        for group in groups:
            lines.append(f"grant {sql.Identifier(group).as_string(conn)} to {ident};")
    return "\n".join(lines) + "\n"


def _owners_sql(conn: psycopg.Connection) -> str:
    """``alter … owner to`` for every object of the database owned by an ecorest role."""
    roles = [*GROUP_ROLES, RUNNER]
    stmts = [r[0] for r in conn.execute(
        """select format('alter schema %%I owner to %%I;', n.nspname, r.rolname)
           from pg_namespace n join pg_roles r on r.oid = n.nspowner
           where r.rolname = any(%(roles)s)
           union all
           select format('alter %%s %%s owner to %%I;',
                         case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                        when 'f' then 'foreign table' else 'table' end,
                         c.oid::regclass, r.rolname)
           from pg_class c join pg_roles r on r.oid = c.relowner
           join pg_namespace n on n.oid = c.relnamespace
           where r.rolname = any(%(roles)s) and c.relkind in ('r', 'p', 'v', 'm', 'f')
             and n.nspname not like 'pg\\_%%' and n.nspname <> 'information_schema'
           union all
           select format('alter routine %%s owner to %%I;', p.oid::regprocedure, r.rolname)
           from pg_proc p join pg_roles r on r.oid = p.proowner
           where r.rolname = any(%(roles)s)""", {"roles": roles}).fetchall()]
    return "-- owners of ecorest objects (ecorest db backup)\n" + "\n".join(stmts) + "\n"


# ----- backup ------------------------------------------------------------------------------
def _pg_tool(name: str) -> Path:
    from .cluster import find_bin_dir

    tool = find_bin_dir() / name
    if not tool.exists():
        raise BackupError(f"{name} not found next to the PostgreSQL server ({tool.parent})")
    return tool


def _env_for(url: str) -> dict[str, str]:
    """libpq environment for the tools: the password out of the command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    password = conninfo_to_dict(url).get("password")
    if password:
        env["PGPASSWORD"] = password
    return env


def _tool_url(url: str) -> str:
    params = {k: v for k, v in conninfo_to_dict(url).items() if k != "password"}
    return psycopg.conninfo.make_conninfo(**params)


def backup(url: str, target: Path) -> dict:
    """Write a backup of the database at ``url`` (a superuser or the owner) to ``target``."""
    target = Path(target)
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the backup's file name")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder for the backup")
    t0 = time.monotonic()
    with dbmod.connect(url) as conn:
        # one snapshot for the manifest and pg_dump: the checksums describe the dump exactly
        conn.execute("set transaction isolation level repeatable read, read only")
        snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]
        revision = dbmod.current_revision(conn)
        if revision is None:
            raise BackupError("the database has no ecorest schema: nothing to back up")
        manifest = {
            "format": FORMAT,
            "ecorest_version": version("ecorest"),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "revision": revision,
            "server": conn.execute("show server_version").fetchone()[0],
            "extensions": dict(conn.execute(
                "select extname, extversion from pg_extension order by 1").fetchall()),
            "tables": table_checksums(conn),
        }
        roles = _roles_sql(conn)
        owners = _owners_sql(conn)
        with tempfile.TemporaryDirectory(prefix=".ecorest-backup-", dir=target.parent) as tmp:
            dump = Path(tmp) / "database.dump"
            proc = subprocess.run(
                [str(_pg_tool("pg_dump")), "--format=custom", "--snapshot", snapshot,
                 "--file", str(dump), "--dbname", _tool_url(url)], env=_env_for(url),
                capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise BackupError(f"pg_dump failed: {proc.stderr.strip()}")
            partial = target.with_name(target.name + ".partial")
            with tarfile.open(partial, "w") as tar:
                for name, text in (("manifest.json", json.dumps(manifest, indent=1)),
                                   ("roles.sql", roles), ("owners.sql", owners)):
                    data = text.encode()
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
                    tar.addfile(info, io.BytesIO(data))
                tar.add(dump, arcname="database.dump")
            partial.chmod(0o600)
            partial.replace(target)
        conn.rollback()
    rows = sum(v[0] for v in manifest["tables"].values())
    log.info("backup of revision %s written to %s (%d tables, %d rows, %.1f MB, %.1f s)",
             revision, target, len(manifest["tables"]), rows, target.stat().st_size / 1e6,
             time.monotonic() - t0)
    return manifest


# ----- restore -----------------------------------------------------------------------------
def read_manifest(source: Path) -> dict:
    try:
        with tarfile.open(source) as tar:
            manifest = json.loads(tar.extractfile("manifest.json").read())
    except (tarfile.TarError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise BackupError(f"{source} is not an ecorest backup ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}")
    return manifest


def restore(url: str, source: Path) -> dict:
    """Restore the backup ``source`` into the empty database at ``url`` (a superuser); returns
    the manifest. Raises :class:`BackupError` when the restored tables differ from it."""
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    t0 = time.monotonic()
    with dbmod.connect(url, autocommit=True) as conn:  # the server first, then the file
        used = conn.execute(
            "select string_agg(nspname, ', ' order by nspname) from pg_namespace "
            "where nspname = any(%s) or nspname = 'public' and exists "
            "(select from pg_class where relnamespace = 'public'::regnamespace "
            "and relname = 'alembic_version')", (list(CHECKED_SCHEMAS),)).fetchone()[0]
        if used:
            raise BackupError(f"the target database is not empty (schemas {used}): restore "
                              "into a new cluster (--home) or an empty database (--dsn)")
    manifest = read_manifest(source)
    with tempfile.TemporaryDirectory(prefix="ecorest-restore-") as tmp:
        with tarfile.open(source) as tar:
            tar.extractall(tmp, filter="data")
        with dbmod.connect(url, autocommit=True) as conn:
            conn.execute((Path(tmp) / "roles.sql").read_text())
        proc = subprocess.run(
            [str(_pg_tool("pg_restore")), "--no-owner", "--no-privileges", "--exit-on-error",
             "--single-transaction", "--dbname", _tool_url(url),
             str(Path(tmp) / "database.dump")],
            env=_env_for(url), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BackupError(f"pg_restore failed (nothing was restored): "
                              f"{proc.stderr.strip()[:2000]}")
        with dbmod.connect(url) as conn:
            conn.execute((Path(tmp) / "owners.sql").read_text())
            conn.commit()
    dbmod.migrate(url)  # an older backup is upgraded; functions and grants re-applied
    with dbmod.connect(url) as conn:
        now = table_checksums(conn)
    before = manifest["tables"]
    differ = [f"{t}: {before.get(t, ['missing'])[0]} rows before, "
              f"{now.get(t, ['missing'])[0]} after"
              for t in sorted(set(before) | set(now)) if before.get(t) != now.get(t)]
    if differ and manifest["revision"] == dbmod.head_revision():
        raise BackupError("the restored tables differ from the backup:\n  " + "\n  ".join(differ))
    log.info("restored %s (revision %s, %d tables) in %.1f s", source, manifest["revision"],
             len(before), time.monotonic() - t0)
    return manifest
