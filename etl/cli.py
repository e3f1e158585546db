"""The ``ecorest`` command line.

Every command works against the embedded PostGIS cluster under the data folder (``.ecorest/``,
started on demand) unless ``--dsn`` or ``ECOREST_DATABASE_URL`` names another server.
"""

from __future__ import annotations

import logging
import sys
import time

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from . import db as dbmod
from .cluster import ClusterError, EmbeddedCluster
from .settings import ENV_DATABASE_URL, ENV_HOME, Settings

log = logging.getLogger("ecorest")
console = Console(stderr=True)
out = Console()


class AppError(click.ClickException):
    """An error to show the user as one clear message (exit code 1)."""

    def show(self, file=None) -> None:  # noqa: ARG002 - click's signature
        console.print(f"[bold red]error:[/] {self.message}")


def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(message)s", datefmt="%H:%M:%S",
        handlers=[RichHandler(console=console, show_path=verbosity > 0, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(name="ecorest", context_settings=CONTEXT)
@click.option("--dsn", metavar="URL", envvar=ENV_DATABASE_URL, show_envvar=True,
              help="PostgreSQL+PostGIS server to use instead of the embedded cluster, e.g. "
                   "postgresql://user:pass@host:5432/db.")
@click.option("--home", metavar="DIR", envvar=ENV_HOME, show_envvar=True,
              help="Data folder of the embedded cluster and outputs [default: ./.ecorest].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.version_option(package_name="ecorest")
@click.pass_context
def cli(ctx: click.Context, dsn: str | None, home: str | None, verbose: int, quiet: bool) -> None:
    """ecorest: ecological-restoration area identification and carbon sink-enhancement
    assessment on PostGIS.

    \b
    Typical session:
      ecorest db start                 start the embedded PostGIS (created on first use)
      ecorest db migrate               create or upgrade the schema
      ecorest db status                versions, schema revision, roles
    """
    _setup_logging(-1 if quiet else verbose)
    ctx.obj = Settings.from_env(dsn=dsn, home=home)


# ================================================================================================
# db
# ================================================================================================
@cli.group()
def db() -> None:
    """Manage the database: the embedded cluster, migrations, status.

    Without --dsn / ECOREST_DATABASE_URL these commands act on the embedded PostgreSQL cluster
    kept under the data folder; with them, start/stop/destroy do not apply and the other
    commands act on the given server.
    """


def _cluster(settings: Settings) -> EmbeddedCluster:
    if not settings.uses_embedded_cluster:
        raise AppError("this command manages the embedded cluster; a server was given with "
                       f"--dsn/{ENV_DATABASE_URL} ({dbmod.mask_url(settings.database_url)})")
    return EmbeddedCluster(settings.home)


def _wrap(fn):
    """Turn the domain errors into one-line messages."""
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ClusterError, dbmod.DatabaseError) as exc:
            raise AppError(str(exc)) from exc
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


@db.command("start")
@click.pass_obj
@_wrap
def db_start(settings: Settings) -> None:
    """Create (first time) and start the embedded PostGIS cluster.

    The cluster listens on 127.0.0.1 only, on a free port chosen at creation, with a generated
    password kept in <home>/cluster.json (mode 0600). Run as root, the server runs as the
    'postgres' OS user. Starting a running cluster does nothing.
    """
    cluster = _cluster(settings)
    state = cluster.start()
    log.info("embedded cluster running on 127.0.0.1:%d (data: %s)", state.port, state.pgdata)


@db.command("stop")
@click.pass_obj
@_wrap
def db_stop(settings: Settings) -> None:
    """Stop the embedded cluster (its data stay)."""
    if not _cluster(settings).stop():
        log.info("embedded cluster is not running")


@db.command("destroy")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@_wrap
def db_destroy(settings: Settings, yes: bool) -> None:
    """Stop the embedded cluster and delete all its data."""
    cluster = _cluster(settings)
    if not yes:
        click.confirm(f"Delete the embedded cluster under {settings.home} and all its data?",
                      abort=True)
    cluster.destroy()


@db.command("url")
@click.option("--show-password", is_flag=True, help="Print the password instead of ***.")
@click.pass_obj
@_wrap
def db_url(settings: Settings, show_password: bool) -> None:
    """Print the connection URL (for psql, QGIS, BI tools or ECOREST_DATABASE_URL)."""
    url = settings.database_url or _cluster(settings).url()
    out.print(url if show_password else dbmod.mask_url(url), soft_wrap=True, highlight=False)


@db.command("migrate")
@click.option("--revision", default="head", show_default=True,
              help="Target revision (alembic syntax).")
@click.pass_obj
@_wrap
def db_migrate(settings: Settings, revision: str) -> None:
    """Create or upgrade the schema (alembic upgrade), then apply sql/ functions and grants.

    Safe to run again: at head it only re-applies the idempotent sql/ files.
    """
    url = dbmod.resolve_url(settings)
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


@db.command("status")
@click.pass_obj
@_wrap
def db_status(settings: Settings) -> None:
    """Show the server, PostgreSQL/PostGIS/PL/Python versions, schema revision and roles."""
    _print_status(settings)


def _print_status(settings: Settings) -> None:
    table = Table(title="ecorest database", show_header=False, title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("value")
    if settings.uses_embedded_cluster:
        cluster = EmbeddedCluster(settings.home)
        st = cluster.state()
        running = cluster.is_running()
        table.add_row("server", "embedded cluster" + ("" if running else " (stopped)"))
        table.add_row("data folder", str(settings.home))
        if st:
            table.add_row("cluster files", st.pgdata)
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
        roles = [r for (r,) in conn.execute(
            "select rolname from pg_roles where rolname = any(%s) order by 1",
            (list(dbmod.ROLES),)).fetchall()]
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


# ================================================================================================
# demo
# ================================================================================================
@cli.command()
@click.pass_obj
@_wrap
def demo(settings: Settings) -> None:
    """Run the main job end to end on the bundled data.

    Starts the embedded cluster (or uses --dsn), brings the schema to head and prints the
    database status.
    """
    if settings.uses_embedded_cluster:
        EmbeddedCluster(settings.home).start()
    url = dbmod.resolve_url(settings)
    dbmod.migrate(url)
    log.info("schema at revision %s", dbmod.head_revision())
    _print_status(settings)


def main() -> None:
    try:
        cli(prog_name="ecorest")
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
