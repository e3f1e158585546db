"""Data nodes: raster tiles on several PostgreSQL servers, one coordinator.

A *coordinator* is the ordinary ecorest database (registry, parameters, catalog, load log,
quarantine, runs, marts). A *data node* is another PostgreSQL + PostGIS + PL/Python server that
holds raster tiles only. Nodes are registered on the coordinator as postgres_fdw foreign servers
named ``ecorest_node_<name>`` (``async_capable``, PostGIS operators shippable): that is the whole
node registry (``ecorest db nodes`` lists it).

Placement: once a coordinator has nodes, every catalog entry loaded from then on keeps its tiles
on the nodes, split by tile key: the coordinator's ``raster.tiles_<catalog_id>`` is a partition of
``raster.tiles`` that is itself partitioned by hash of ``tile_y`` into one foreign table per node
(``raster.tiles_<catalog_id>_<k>``), each reading ``raster.tiles_<catalog_id>`` on node k. Queries
on ``raster.tiles`` (every dbt model and kernel) read them unchanged; with ``async_capable`` the
nodes are scanned at once. Catalog entries loaded before the first node stay local partitions.

Loads write the tiles straight to their node (one COPY per node and block, never through the
coordinator) and publish them by a catalog flip: node tables are committed first, then the
coordinator's transaction attaches the partition and commits the catalog entry and load log.
If anything fails before that commit (a node down, a bad file), the coordinator rolls back and
publishes nothing; the node tables left behind belong to no catalog entry and are dropped by
``ecorest db nodes --clean`` (:func:`clean_orphans`).

Security: each node gets two logins made by ``add-node`` with generated passwords — a writer
(creates and fills tile tables in the node's schema raster, nothing else) and a reader (SELECT on
them). The coordinator maps ecorest_etl, the runner and the administering superuser to the
writer, ecorest_analyst to the reader; ecorest_bi gets no mapping. PostgreSQL shows a mapping's
password only to the mapped role itself and to superusers (pg_user_mappings); no superuser
password of a node is stored anywhere.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
from psycopg import sql

from ecorest.errors import EcorestError

log = logging.getLogger(__name__)

SERVER_PREFIX = "ecorest_node_"
WRITER = "ecorest_node_writer"
READER = "ecorest_node_reader"
#: the coordinator roles mapped to the node's writer login (the runner and dbt's role)
WRITER_ROLES = ("ecorest_etl", "ecorest_runner")
READER_ROLES = ("ecorest_analyst",)
NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class NodeError(EcorestError):
    """A data node is missing, unreachable or refused an operation."""


@dataclass
class Node:
    name: str
    server: str
    host: str
    port: int
    dbname: str

    def label(self) -> str:
        return f"data node {self.name} ({self.host}:{self.port}/{self.dbname})"


# ----- the registry ----------------------------------------------------------------------------
def list_nodes(conn: psycopg.Connection) -> list[Node]:
    """The registered data nodes, in placement order (by name)."""
    rows = conn.execute(
        "select srvname, srvoptions from pg_foreign_server where srvname like %s order by srvname",
        (SERVER_PREFIX + "%",)).fetchall()
    nodes = []
    for srvname, options in rows:
        opts = dict(o.split("=", 1) for o in options or [])
        nodes.append(Node(srvname[len(SERVER_PREFIX):], srvname, opts.get("host", ""),
                          int(opts.get("port", 5432)), opts.get("dbname", "")))
    return nodes


def node_url(conn: psycopg.Connection, node: Node) -> str:
    """URL of ``node`` as the current login's user mapping gives it (the writer's for the
    loader): read from pg_user_mappings, which shows a password only to the mapped role."""
    row = conn.execute(
        "select umoptions from pg_user_mappings where srvname = %s and usename = current_user",
        (node.server,)).fetchone()
    if row is None or row[0] is None:
        row = conn.execute(
            "select umoptions from pg_user_mappings where srvname = %s and usename = 'public'",
            (node.server,)).fetchone()
    if row is None or row[0] is None:
        raise NodeError(f"{node.label()}: the login {_current_user(conn)} has no user mapping "
                        "for it (ecorest db add-node maps ecorest_etl, ecorest_runner and the "
                        "administrator)")
    opts = dict(o.split("=", 1) for o in row[0])
    return (f"postgresql://{quote(opts['user'])}:{quote(opts.get('password', ''))}@"
            f"{node.host}:{node.port}/{quote(node.dbname)}")


def _current_user(conn: psycopg.Connection) -> str:
    return conn.execute("select current_user").fetchone()[0]


def connect_node(conn: psycopg.Connection, node: Node, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(node_url(conn, node), connect_timeout=10,
                               application_name="ecorest-node-load", **kwargs)
    except psycopg.OperationalError as exc:
        raise NodeError(f"{node.label()} is unreachable: {str(exc).strip()}") from exc


def _split_url(url: str) -> tuple[str, int, str]:
    """(host, port, database) of a libpq URL or key=value connection string."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    return (parts.get("host") or "127.0.0.1", int(parts.get("port") or 5432),
            parts.get("dbname") or parts.get("user") or "")


#: kernels installed on every data node: they read the node's own tile tables and return small
#: aggregates (the coordinator sums them: raster.np_node_crosstab in sql/070_nodes.sql)
NODE_KERNELS = r"""
create or replace function raster.node_crosstab(p_a bigint, p_b bigint)
returns table (v1 integer, v2 integer, pixels bigint)
language plpython3u stable as $$
import struct
import numpy as np
# PostGIS raster WKB, band 1: pixel type -> numpy type
TYPES = {0: 'u1', 1: 'u1', 2: 'u1', 3: 'i1', 4: 'u1', 5: 'i2', 6: 'u2', 7: 'i4', 8: 'u4',
         10: 'f4', 11: 'f8'}
def decode(wkb):
    little = wkb[0] == 1
    e = '<' if little else '>'
    width, height = struct.unpack_from(e + 'HH', wkb, 57)
    flags = wkb[61]
    dt = np.dtype(TYPES[flags & 0x0F]).newbyteorder(e)
    size = dt.itemsize
    nodata = np.frombuffer(wkb, dt, 1, 62)[0]
    v = np.frombuffer(wkb, dt, width * height, 62 + size).reshape(height, width)
    ok = v != nodata if flags & 0x40 else np.ones(v.shape, bool)
    return v.astype(np.int64), ok
ta, tb = 'tiles_%d' % p_a, 'tiles_%d' % p_b
for t in (ta, tb):
    if plpy.execute("select to_regclass('raster.%s') is null as missing" % t)[0]['missing']:
        plpy.error('raster.node_crosstab: no table raster.%s on this node' % t)
counts = {}
cur = plpy.cursor("select a.rast::bytea as a, b.rast::bytea as b from raster.%s a "
                  "join raster.%s b using (tile_x, tile_y)" % (ta, tb))
while True:
    rows = cur.fetch(64)
    if not rows:
        break
    for r in rows:
        va, ma = decode(bytes(r['a']))
        vb, mb = decode(bytes(r['b']))
        ok = ma & mb
        keys, n = np.unique((va[ok] << 16) | vb[ok], return_counts=True)
        for k, c in zip(keys.tolist(), n.tolist()):
            counts[k] = counts.get(k, 0) + c
return [(k >> 16, k & 0xFFFF, c) for k, c in sorted(counts.items())]
$$;
revoke all on function raster.node_crosstab(bigint, bigint) from public;
"""


NODE_SETUP = """
create extension if not exists postgis;
create extension if not exists postgis_raster;
create extension if not exists plpython3u;
create schema if not exists raster;
""" + NODE_KERNELS


def add_node(admin_url: str, name: str, node_admin_url: str) -> Node:
    """Register a data node: set it up (extensions, schema raster, a writer and a reader login
    with generated passwords) through its administrator URL — which is used once and not
    stored — and create the foreign server and the user mappings on the coordinator."""
    if not NAME.match(name):
        raise NodeError(f"node name {name!r}: use lower-case letters, digits and _ (at most 31, "
                        "starting with a letter)")
    host, port, dbname = _split_url(node_admin_url)
    writer_pw, reader_pw = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    try:
        node = psycopg.connect(node_admin_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise NodeError(f"node {name} ({host}:{port}/{dbname}) is unreachable: "
                        f"{str(exc).strip()}") from exc
    with node:
        node.execute(NODE_SETUP)
        for role, pw in ((WRITER, writer_pw), (READER, reader_pw)):
            exists = node.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
            verb = "alter" if exists else "create"
            node.execute(sql.SQL(
                "{} role {} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls "
                "password {}").format(sql.SQL(verb), sql.Identifier(role), sql.Literal(pw)))
        node.execute(sql.SQL("revoke create on schema public from {}, {}").format(
            sql.Identifier(WRITER), sql.Identifier(READER)))
        node.execute(sql.SQL("grant usage, create on schema raster to {}").format(
            sql.Identifier(WRITER)))
        node.execute(sql.SQL("grant usage on schema raster to {}").format(sql.Identifier(READER)))
        node.execute(sql.SQL("grant execute on function raster.node_crosstab(bigint, bigint) "
                             "to {}").format(sql.Identifier(WRITER)))
        node.execute(sql.SQL("grant select on all tables in schema raster to {}").format(
            sql.Identifier(READER)))
        node.execute(sql.SQL("alter default privileges for role {} in schema raster grant select "
                             "on tables to {}").format(sql.Identifier(WRITER),
                                                       sql.Identifier(READER)))
    server = SERVER_PREFIX + name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        admin = _current_user(conn)
        with conn.transaction():
            conn.execute("create extension if not exists postgres_fdw")
            conn.execute("create extension if not exists dblink")  # node-side kernels
            if conn.execute("select 1 from pg_foreign_server where srvname = %s",
                            (server,)).fetchone():
                raise NodeError(f"a node named {name} is registered already "
                                "(ecorest db nodes)")
            conn.execute(sql.SQL(
                "create server {} foreign data wrapper postgres_fdw options (host {}, port {}, "
                "dbname {}, async_capable 'true', extensions 'postgis', fetch_size '200')"
            ).format(sql.Identifier(server), sql.Literal(host), sql.Literal(str(port)),
                     sql.Literal(dbname)))
            conn.execute(sql.SQL("comment on server {} is {}").format(
                sql.Identifier(server), sql.Literal(f"ecorest data node {name}")))
            roles = [r for r in (*WRITER_ROLES, *READER_ROLES)
                     if conn.execute("select 1 from pg_roles where rolname = %s",
                                     (r,)).fetchone()]
            for role in {*roles, admin}:
                login, pw = ((READER, reader_pw) if role in READER_ROLES else
                             (WRITER, writer_pw))
                conn.execute(sql.SQL(
                    "create user mapping for {} server {} options (user {}, password {})").format(
                    sql.Identifier(role), sql.Identifier(server), sql.Literal(login),
                    sql.Literal(pw)))
            for role in roles:
                conn.execute(sql.SQL("grant usage on foreign server {} to {}").format(
                    sql.Identifier(server), sql.Identifier(role)))
            _drop_tile_uniqueness(conn)
    log.info("data node %s registered (%s:%d/%s)", name, host, port, dbname)
    return Node(name, server, host, port, dbname)


def _drop_tile_uniqueness(conn: psycopg.Connection) -> None:
    """Foreign tables cannot be partitions of a table with a unique index or a foreign key: the
    coordinator's raster.tiles gives up its primary key and catalog foreign key (each node's
    tile table keeps the primary key; catalog entries are removed through
    raster.drop_tile_partition)."""
    for con in conn.execute(
            "select conname from pg_constraint where conrelid = 'raster.tiles'::regclass "
            "and contype in ('p', 'f')").fetchall():
        conn.execute(sql.SQL("alter table raster.tiles drop constraint {}").format(
            sql.Identifier(con[0])))
    conn.execute("create index if not exists tiles_key on raster.tiles "
                 "(catalog_id, tile_x, tile_y)")


def remove_node(admin_url: str, name: str, force: bool = False) -> None:
    """Unregister a node. Refused while catalog entries keep tiles on it unless ``force`` (then
    those entries lose the node's share of their tiles: reload them)."""
    server = SERVER_PREFIX + name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_foreign_server where srvname = %s",
                            (server,)).fetchone():
            raise NodeError(f"no data node named {name} (ecorest db nodes)")
        used = conn.execute(
            "select count(*) from pg_foreign_table t join pg_foreign_server s "
            "on s.oid = t.ftserver where s.srvname = %s", (server,)).fetchone()[0]
        if used and not force:
            raise NodeError(f"data node {name} holds the tiles of {used} catalog partition(s); "
                            "move them first (docs/OPERATIONS.md, rebalancing) or give --force")
        conn.execute(sql.SQL("drop server {} cascade").format(sql.Identifier(server)))
    log.info("data node %s removed", name)


def node_status(conn: psycopg.Connection) -> list[dict]:
    """Per node: reachable or not, tile tables and tiles held (through its foreign tables)."""
    rows = []
    for node in list_nodes(conn):
        parts = conn.execute(
            "select count(*) from pg_foreign_table t join pg_foreign_server s "
            "on s.oid = t.ftserver where s.srvname = %s", (node.server,)).fetchone()[0]
        try:
            with connect_node(conn, node) as nc:
                tables = nc.execute("select count(*) from pg_tables where schemaname = 'raster' "
                                    "and tablename ~ '^tiles_[0-9]+$'").fetchone()[0]
                size = nc.execute("select coalesce(sum(pg_total_relation_size(c.oid)), 0)"
                                  "::bigint from pg_class c where "
                                  "c.relnamespace = 'raster'::regnamespace "
                                  "and c.relname ~ '^tiles_[0-9]+$'").fetchone()[0]
            state = "up"
        except NodeError as exc:
            tables, size, state = None, None, f"down: {exc}"
        rows.append({"name": node.name, "host": node.host, "port": node.port,
                     "dbname": node.dbname, "partitions": parts, "node_tables": tables,
                     "bytes": size, "state": state})
    return rows


def clean_orphans(conn: psycopg.Connection) -> int:
    """Drop node tile tables that no published catalog partition reads (left by a load that
    failed or was rolled back after writing them). Run it when no load is under way."""
    used: dict[str, set[str]] = {}
    for srv, opts in conn.execute(
            "select s.srvname, t.ftoptions from pg_foreign_table t join pg_foreign_server s "
            "on s.oid = t.ftserver where s.srvname like %s", (SERVER_PREFIX + "%",)).fetchall():
        o = dict(x.split("=", 1) for x in opts)
        used.setdefault(srv, set()).add(o.get("table_name"))
    dropped = 0
    for node in list_nodes(conn):
        with connect_node(conn, node, autocommit=True) as nc:
            for (table,) in nc.execute(
                    "select tablename from pg_tables where schemaname = 'raster' and "
                    "tablename ~ '^tiles_[0-9]+$' and tableowner = %s", (WRITER,)).fetchall():
                if table not in used.get(node.server, set()):
                    nc.execute(sql.SQL("drop table raster.{}").format(sql.Identifier(table)))
                    dropped += 1
                    log.info("%s: dropped unpublished %s", node.label(), table)
    return dropped


# ----- loads -----------------------------------------------------------------------------------
NODE_TABLE = """
create table if not exists raster.{table} (
    catalog_id bigint not null check (catalog_id = {cid}),
    tile_x integer not null,
    tile_y integer not null,
    rast raster not null,
    primary key (catalog_id, tile_x, tile_y))
"""


class NodeWriter:
    """The tile writes of one load on a coordinator with data nodes: a transaction on every
    node; :meth:`commit` ends them right before the coordinator publishes."""

    def __init__(self, conn: psycopg.Connection, nodes: list[Node]):
        self.conn = conn
        self.nodes = nodes
        self.node_conns: list[psycopg.Connection] = []
        for node in nodes:
            self.node_conns.append(connect_node(conn, node))
        self.routes: dict[int, dict[int, int]] = {}

    def _fail(self, k: int, exc: Exception) -> NodeError:
        return NodeError(f"{self.nodes[k].label()} failed during the load, nothing was "
                         f"published: {str(exc).strip()}")

    def start(self, cid: int, compress: bool) -> None:
        """The node tables of catalog entry ``cid`` and, on the coordinator (in the load's
        transaction, not visible before it commits), the partition reading them."""
        table = f"tiles_{cid}"
        for k, nc in enumerate(self.node_conns):
            try:
                nc.execute(sql.SQL(NODE_TABLE).format(table=sql.Identifier(table),
                                                      cid=sql.Literal(cid)))
                nc.execute(sql.SQL("alter table raster.{} alter column rast set {}").format(
                    sql.Identifier(table),
                    sql.SQL("compression lz4" if compress else "storage external")))
            except psycopg.Error as exc:
                raise self._fail(k, exc) from exc
        self.conn.execute("select raster.create_node_tile_table(%s, %s)",
                          (cid, [n.server for n in self.nodes]))

    def node_of(self, cid: int, ty: int) -> int:
        route = self.routes.setdefault(cid, {})
        k = route.get(ty)
        if k is None:
            n = len(self.nodes)
            k = self.conn.execute(
                "select r from generate_series(0, %s - 1) r where satisfies_hash_partition("
                "%s::regclass::oid, %s, r, %s::integer)",
                (n, f"raster.tiles_{cid}", n, ty)).fetchone()[0]
            route[ty] = k
        return k

    def copy(self, cid: int, lines: list[str]) -> None:
        """COPY the encoded tiles (lines of catalog_id, tile_x, tile_y, rast) to their nodes."""
        per: dict[int, list[str]] = {}
        for line in lines:
            ty = int(line.split("\t", 3)[2])
            per.setdefault(self.node_of(cid, ty), []).append(line)
        for k, part in per.items():
            try:
                with self.node_conns[k].cursor().copy(sql.SQL(
                        "copy raster.{} (catalog_id, tile_x, tile_y, rast) from stdin").format(
                        sql.Identifier(f"tiles_{cid}"))) as copy:
                    for line in part:
                        copy.write(line)
            except psycopg.Error as exc:
                raise self._fail(k, exc) from exc

    def constrain(self, cid: int) -> None:
        """Raster constraints and statistics of the node tables (each node's raster_columns)."""
        for k, nc in enumerate(self.node_conns):
            try:
                if nc.execute(sql.SQL("select exists (select from raster.{})").format(
                        sql.Identifier(f"tiles_{cid}"))).fetchone()[0]:
                    nc.execute("select addrasterconstraints('raster', %s, 'rast', true, true, "
                               "true, true, true, true, false, true, true, true, true, false)",
                               (f"tiles_{cid}",))
                nc.execute(sql.SQL("analyze raster.{}").format(sql.Identifier(f"tiles_{cid}")))
            except psycopg.Error as exc:
                raise self._fail(k, exc) from exc

    def commit(self) -> None:
        """Commit every node's tables (still unpublished: the coordinator's commit publishes)."""
        for k, nc in enumerate(self.node_conns):
            try:
                nc.commit()
            except psycopg.Error as exc:
                raise self._fail(k, exc) from exc

    def close(self) -> None:
        for nc in self.node_conns:
            try:
                nc.close()
            except psycopg.Error:
                pass


def writer_for(conn: psycopg.Connection) -> NodeWriter | None:
    """A :class:`NodeWriter` when the coordinator has data nodes, else None (one server)."""
    if not conn.execute("select exists (select from pg_foreign_server where srvname like %s)",
                        (SERVER_PREFIX + "%",)).fetchone()[0]:
        return None
    return NodeWriter(conn, list_nodes(conn))
