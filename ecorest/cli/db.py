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
@click.option("--nodes", "nodes", type=click.IntRange(0, 16), default=0,
              help="Also start this many data-node clusters on 127.0.0.1 (under "
                   "<home>/nodes/) and register them: tiles loaded from then on live on them "
                   "(docs/OPERATIONS.md, scale-out). For tests and trying it out.")
def db_start(settings: Settings, port: int | None, nodes: int) -> None:
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
    if nodes:
        _start_local_nodes(settings, nodes)


def _start_local_nodes(settings: Settings, count: int) -> None:
    from ecorest.etl import nodes as nodemod
    from ecorest.store.nodes import start_local_nodes

    cluster = _cluster(settings)
    admin = cluster.url()
    dbmod.migrate(admin)
    urls = start_local_nodes(settings.home, count)
    with dbmod.connect(admin) as conn:
        known = {(n.host, n.port) for n in nodemod.list_nodes(conn)}
    for k, url in enumerate(urls, start=1):
        host, port, _ = nodemod._split_url(url)
        if (host, port) not in known:
            nodemod.add_node(admin, f"local{k}", url)
        log.info("data node local%d running on %s:%d", k, host, port)


@command(db, "add-node")
@click.argument("url")
@click.option("--name", default=None,
              help="Node name (lower-case letters, digits, _); default node<N>.")
@click.option("--rebalance", "then_rebalance", is_flag=True,
              help="Then spread the tiles loaded so far over all nodes (as "
                   "`ecorest db nodes --rebalance`).")
def db_add_node(settings: Settings, url: str, name: str | None, then_rebalance: bool) -> None:
    """Register a data node: URL is a superuser URL of an empty PostgreSQL + PostGIS +
    PL/Python database on it, used once to set it up (extensions, schema raster, the node
    kernels, a writer and a reader login with generated passwords) and never stored.

    Raster tiles loaded from then on are spread over all registered nodes by tile key;
    registry, parameters, load log, runs and marts stay on this (coordinator) database.
    Tiles loaded before stay where they are until `ecorest db nodes --rebalance` (or
    --rebalance here).
    Given the name and address of a registered node, it installs that node's kernels again
    (after upgrading ecorest).
    """
    from ecorest.etl import nodes as nodemod

    admin = dbmod.resolve_url(settings, admin=True)
    if name is None:
        with dbmod.connect(admin) as conn:
            taken = {n.name for n in nodemod.list_nodes(conn)}
        name = next(f"node{k}" for k in range(1, 1000) if f"node{k}" not in taken)
    node = nodemod.add_node(admin, name, url)
    log.info("registered %s", node.label())
    if then_rebalance:
        _rebalance(admin)


def _rebalance(admin: str) -> None:
    from ecorest.etl import nodes as nodemod

    moved = nodemod.rebalance(admin)
    if not moved:
        log.info("every catalog entry is spread over all data nodes already")
    for m in moved:
        log.info("catalog entry %d: %d tiles moved from %s to %s", m["catalog_id"], m["tiles"],
                 m["from"], m["to"])


@command(db, "remove-node")
@click.argument("name")
@click.option("--drain", is_flag=True,
              help="First move the node's tiles to the other nodes, or from the last node back "
                   "to the coordinator (copy, verify counts and checksums, switch in one "
                   "transaction, drop the old tables), then remove it; a node down changes "
                   "nothing. Loads wait for it.")
@click.option("--force", is_flag=True,
              help="Remove it although catalog entries keep tiles on it (they lose them).")
def db_remove_node(settings: Settings, name: str, drain: bool, force: bool) -> None:
    """Unregister a data node.

    Refused while it holds tiles, naming how many and of how many catalog entries, unless
    --drain (they move to the remaining nodes first, or from the last node back to the
    coordinator's own tables, as one operation: until its final switch
    readers see the old layout, and a node that is down or fails leaves everything as it was)
    or --force (they are lost: load those layers again).
    """
    from ecorest.etl import nodes as nodemod

    if drain and force:
        raise click.UsageError("--drain and --force exclude each other")
    url = dbmod.resolve_url(settings, admin=True)
    with dbmod.connect(url):        # an unreachable server gets the usual one-line error
        pass
    moved = nodemod.remove_node(url, name, force=force, drain=drain)
    for m in moved:
        log.info("catalog entry %d: %d tiles moved from %s to %s", m["catalog_id"], m["tiles"],
                 m["from"], m["to"])


@command(db, "nodes")
@click.option("--clean", is_flag=True,
              help="Drop node tables no published catalog entry reads (left by failed loads); "
                   "run it while no load is under way.")
@click.option("--rebalance", "rebalance", is_flag=True,
              help="First spread every catalog entry's tiles over all registered nodes again "
                   "(after add-node): copy, verify counts and checksums, switch in one "
                   "transaction, drop the old tables; a node down changes nothing. Loads "
                   "wait for it.")
def db_nodes(settings: Settings, clean: bool, rebalance: bool) -> None:
    """List the data nodes: address, state, tile partitions and size on each.

    Tiles loaded before a node was added stay on the nodes (or this server) they were loaded
    onto; --rebalance moves them so each catalog entry is spread over all nodes, as one
    operation: until its final switch readers see the old layout, and a node that is down or
    fails leaves everything as it was.
    """
    from ecorest.etl import nodes as nodemod

    url = dbmod.resolve_url(settings, admin=rebalance)
    if rebalance:
        with dbmod.connect(url):    # an unreachable server gets the usual one-line error
            pass
        _rebalance(url)
    with dbmod.connect(url) as conn:
        rows = nodemod.node_status(conn)
        if clean:
            n = nodemod.clean_orphans(conn)
            log.info("dropped %d unpublished node table(s)", n)
    if not rows:
        out.print("no data nodes: this server holds every tile (add one with "
                  "`ecorest db add-node URL`)")
        return
    table = Table(title="data nodes", title_justify="left")
    for col in ("node", "address", "partitions", "node tables", "MB", "state"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], f"{r['host']}:{r['port']}/{r['dbname']}", str(r["partitions"]),
                      "" if r["node_tables"] is None else str(r["node_tables"]),
                      "" if r["bytes"] is None else f"{r['bytes'] / 1e6:.1f}", r["state"])
    out.print(table)


@command(db, "stop")
def db_stop(settings: Settings) -> None:
    """Stop the embedded cluster (its data stay)."""
    if not _cluster(settings).stop():
        log.info("embedded cluster is not running")
    from ecorest.store.nodes import stop_local_nodes

    if stop_local_nodes(settings.home):  # data nodes started by `db start --nodes N`
        log.info("local data nodes stopped")


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
    table.add_column("value", overflow="fold")      # long paths wrap, never cut
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
