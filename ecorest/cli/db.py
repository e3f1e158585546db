"""``ecorest db``: the embedded cluster, migrations, status."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from ecorest.errors import EcorestError
from ecorest.settings import ENV_DATABASE_URL, Settings
from ecorest.store import db as dbmod
from ecorest.store.cluster import EmbeddedCluster

from ._common import CONTEXT, command, log, out


@click.group(context_settings=CONTEXT)
def db() -> None:
    """Manage the database: the embedded cluster, migrations, status.

    Without --dsn / ECOREST_DATABASE_URL these commands act on the embedded PostgreSQL cluster
    kept under the data folder; with them, start/stop/destroy do not apply and the other
    commands act on the given server.
    """


def _cluster(settings: Settings) -> EmbeddedCluster:
    if not settings.uses_embedded_cluster:
        raise EcorestError("this command manages the embedded cluster; a server was given with "
                           f"--dsn/{ENV_DATABASE_URL} ({dbmod.mask_url(settings.database_url)})")
    return EmbeddedCluster(settings.home)


@command(db, "start")
@click.option("--port", type=click.IntRange(1024, 65535), default=None,
              help="Move the (stopped) cluster to this port; it keeps it from then on.")
def db_start(settings: Settings, port: int | None) -> None:
    """Create (first time) and start the embedded PostGIS cluster.

    The cluster listens on 127.0.0.1 only, on a free port chosen at creation and kept across
    restarts (saved QGIS/BI connections stay valid), with generated passwords kept in
    <home>/cluster.json (mode 0600). If another program took the port meanwhile, starting fails
    naming it; --port moves the cluster. Run as root, the server runs as the 'postgres' OS
    user. Starting a running cluster does nothing.
    """
    state = _cluster(settings).start(port=port)
    log.info("embedded cluster running on 127.0.0.1:%d (data folder %s)", state.port,
             settings.home)


@command(db, "stop")
def db_stop(settings: Settings) -> None:
    """Stop the embedded cluster (its data stay)."""
    if not _cluster(settings).stop():
        log.info("embedded cluster is not running")


@command(db, "destroy")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_destroy(settings: Settings, yes: bool) -> None:
    """Stop the embedded cluster and delete all its data."""
    cluster = _cluster(settings)
    if not yes:
        click.confirm(f"Delete the embedded cluster under {settings.home} and all its data?",
                      abort=True)
    cluster.destroy()


@command(db, "url")
@click.option("--show-password", is_flag=True, help="Print the password instead of ***.")
@click.option("--admin", is_flag=True,
              help="The cluster's superuser instead of the ecorest_runner login (for "
                   "administration only: creating logins, pg_dump by hand).")
def db_url(settings: Settings, show_password: bool, admin: bool) -> None:
    """Print the connection URL (for psql, QGIS, BI tools or ECOREST_DATABASE_URL).

    On the embedded cluster this is the ecorest_runner login: a member of ecorest_etl, not a
    superuser. Give BI tools their own login in ecorest_bi (docs/OPERATIONS.md).
    """
    if settings.database_url:
        url = settings.database_url
    else:
        cluster = _cluster(settings)
        url = cluster.url() if admin else cluster.runner_url()
    out.print(url if show_password else dbmod.mask_url(url), soft_wrap=True, highlight=False)


@command(db, "backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(settings: Settings, file: Path) -> None:
    """Write a backup of the whole database to FILE, restorable on any server.

    One file: the database (pg_dump, custom format: extensions, the custom CRS, every schema
    and its data), the roles it needs with their memberships, which objects each ecorest role
    owns, and a manifest with the row count and checksum of every table. Restore it with
    `ecorest db restore FILE`. With --dsn, give the database owner's or a superuser's URL.
    """
    from ecorest.store.backup import backup

    url = dbmod.resolve_url(settings, admin=True)
    backup(url, file)


@command(db, "restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def db_restore(settings: Settings, file: Path) -> None:
    """Restore a backup of `ecorest db backup` into an empty database.

    Without --dsn into the embedded cluster of the data folder (--home), created when there is
    none yet; with --dsn into that (empty) database, as a superuser. Creates the roles,
    restores everything in one transaction, gives the ecorest roles their objects back, runs
    `ecorest db migrate` and checks every table's rows against the backup's manifest.
    """
    from ecorest.store.backup import restore

    url = dbmod.resolve_url(settings, create=True)
    manifest = restore(url, file)
    rows = sum(v[0] for v in manifest["tables"].values())
    log.info("restored %d tables, %d rows, identical to the backup of %s", len(manifest["tables"]),
             rows, manifest["created_at"])


@command(db, "migrate")
@click.option("--revision", default="head", show_default=True,
              help="Target revision (alembic syntax).")
def db_migrate(settings: Settings, revision: str) -> None:
    """Create or upgrade the schema (alembic upgrade), then apply the sql/ functions and
    grants. Creates and starts the embedded cluster when there is none yet.

    Safe to run again: at head it only re-applies the idempotent sql/ files.
    """
    url = dbmod.resolve_url(settings, create=True)
    t0 = time.monotonic()
    with dbmod.connect(url) as conn:
        before = dbmod.current_revision(conn)
    dbmod.migrate(url, revision)
    with dbmod.connect(url) as conn:
        after = dbmod.current_revision(conn)
    if before == after:
        log.info("schema already at revision %s; sql/ functions and grants re-applied (%.1f s)",
                 after, time.monotonic() - t0)
    else:
        log.info("schema migrated from %s to %s (%.1f s)", before or "empty", after,
                 time.monotonic() - t0)


@command(db, "status")
def db_status(settings: Settings) -> None:
    """Show the data folder, the server, PostgreSQL/PostGIS/PL/Python versions, the schema
    revision and the roles."""
    print_status(settings)


def print_status(settings: Settings) -> None:
    table = Table(title="ecorest database", show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")
    if settings.uses_embedded_cluster:
        cluster = EmbeddedCluster(settings.home)
        table.add_row("data folder", f"{settings.home} ({settings.home_source})")
        if not cluster.is_initialised:
            table.add_row("server", "no embedded cluster yet")
            out.print(table)
            out.print("create it with: ecorest db migrate")
            return
        running = cluster.is_running()
        table.add_row("server", "embedded cluster" + ("" if running else " (stopped)"))
        table.add_row("cluster files", cluster.state().pgdata)
        if not running:
            out.print(table)
            out.print("start it with: ecorest db start")
            return
        url = cluster.url()
    else:
        url = settings.database_url
        table.add_row("server", "given by --dsn / " + ENV_DATABASE_URL)
    table.add_row("url", dbmod.mask_url(url))
    with dbmod.connect(url) as conn:
        versions = dbmod.server_versions(conn)
        current = dbmod.current_revision(conn)
        roles = dbmod.existing_roles(conn)
    head = dbmod.head_revision()
    table.add_row("PostgreSQL", versions["postgresql"])
    table.add_row("PostGIS", _or_missing(versions.get("postgis_full") or versions["postgis"],
                                         f"GEOS {versions.get('geos')}, PROJ {versions.get('proj')}"
                                         if versions.get("geos") else None))
    table.add_row("postgis_raster", _or_missing(versions["postgis_raster"]))
    table.add_row("PL/Python", _or_missing(versions.get("plpython") or versions["plpython3u"]))
    state = ("up to date" if current == head else
             f"[red]behind[/] (code expects {head}; run `ecorest db migrate`)")
    table.add_row("schema revision", f"{current or 'none'} — {state}")
    table.add_row("roles", ", ".join(roles) or "[red]none[/] (run `ecorest db migrate`)")
    out.print(table)


def _or_missing(value: str | None, extra: str | None = None) -> str:
    if not value:
        return "[red]not installed[/] (run `ecorest db migrate`)"
    return f"{value} ({extra})" if extra else value
