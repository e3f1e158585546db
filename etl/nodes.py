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

Kernels run where the tiles are: the model that counts the land-cover cross-tabs calls
``raster.np_node_trajectories`` (sql/070_nodes.sql), which runs ``raster.node_trajectories`` on
every node over its own tiles — the kernels of sql/030_kernels.sql, installed on the node by
``add-node`` (:func:`install_node_kernels`) — and sums the counts.

Rebalancing (:func:`rebalance`, ``ecorest db nodes --rebalance``): after a node is added, every
catalog entry is copied to a layout over all nodes, verified (counts, checksums), switched in one
coordinator transaction and its old tables dropped; a node down changes nothing. Draining
(:func:`drain_node`, ``ecorest db remove-node NAME --drain``) is the same onto the other nodes
for the entries on one node, whose foreign server is dropped in the switching transaction;
without it :func:`remove_node` refuses while the node holds tiles, saying how many.

The coordinator reaches the nodes' kernels through dblink connections that a session keeps
open between calls (``raster.node_connection`` in sql/070_nodes.sql): a login and a node
backend that loads PL/Python and numpy are paid once per session and node.

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
from contextlib import ExitStack
from dataclasses import dataclass, field
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
    #: libpq TLS settings of the node's URL (sslmode, sslrootcert), kept by its foreign server
    tls: dict[str, str] = field(default_factory=dict)

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
                          int(opts.get("port", 5432)), opts.get("dbname", ""),
                          {k: v for k, v in opts.items() if k in TLS_OPTIONS}))
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
    tls = "&".join(f"{k}={quote(v)}" for k, v in sorted(node.tls.items()))
    return (f"postgresql://{quote(opts['user'])}:{quote(opts.get('password', ''))}@"
            f"{node.host}:{node.port}/{quote(node.dbname)}" + (f"?{tls}" if tls else ""))


def _current_user(conn: psycopg.Connection) -> str:
    return conn.execute("select current_user").fetchone()[0]


def connect_node(conn: psycopg.Connection, node: Node, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(node_url(conn, node), connect_timeout=10,
                               application_name="ecorest-node-load", **kwargs)
    except psycopg.OperationalError as exc:
        raise NodeError(f"{node.label()} is unreachable: {str(exc).strip()}") from exc


#: the libpq TLS options of a node's URL that its foreign server keeps
TLS_OPTIONS = ("sslmode", "sslrootcert", "sslcrl")


def _tls_options(url: str) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    return {k: str(v) for k, v in conninfo_to_dict(url).items() if k in TLS_OPTIONS}


def _split_url(url: str) -> tuple[str, int, str]:
    """(host, port, database) of a libpq URL or key=value connection string."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    return (parts.get("host") or "127.0.0.1", int(parts.get("port") or 5432),
            parts.get("dbname") or parts.get("user") or "")


#: the kernels of the SQL files a data node runs (file, function, its first argument): the
#: shared decoder and cancellation point (raster.np_kernels_loaded), the cross-tab, the
#: trajectories, the NDVI trend, the zone statistics, the factors, their constraint mask,
#: statistics and histograms, the overlay and the patch parts. Taken from those files, so the
#: nodes run the very code of one server.
SHARED_KERNELS = (("030_kernels.sql", "np_kernels_loaded", ""),
                  ("030_kernels.sql", "crosstab", "z bytea"),
                  ("030_kernels.sql", "trajectories", "z bytea"),
                  ("040_identification.sql", "np_ndvi_trend", "\n    tiles bytea[]"),
                  ("040_identification.sql", "np_zone_stats", "a bytea"),
                  ("040_identification.sql", "np_slope", "center bytea"),
                  ("030_kernels.sql", "np_lookup", "a bytea"),
                  ("040_identification.sql", "np_pair_lookup", "a bytea"),
                  ("040_identification.sql", "np_physical", "a bytea"),
                  ("040_identification.sql", "np_steep_class", "lc bytea"),
                  ("050_benefit.sql", "np_signal_sums", "zones bytea[]"),
                  ("030_kernels.sql", "burn_table", "p_table regclass"),
                  ("050_benefit.sql", "np_benefit_pixels", "z bytea"),
                  ("065_services.sql", "np_constraint_mask", "lc bytea"),
                  ("065_services.sql", "np_apply_mask", "a bytea"),
                  ("040_identification.sql", "np_band_stats", "a bytea"),
                  ("040_identification.sql", "np_histogram", "a bytea"),
                  ("040_identification.sql", "np_histograms", "a bytea"),
                  ("040_identification.sql", "np_overlay", "\n    factors bytea[]"),
                  ("040_identification.sql", "np_patch_parts", "a bytea"))


def shared_kernels() -> str:
    """The ``create or replace function`` statements of :data:`SHARED_KERNELS`, as written in
    their SQL files."""
    from ecorest import assets
    from ecorest.store.kernel_sql import inline_loaders

    # as the migration applies them: helpers inlined, so that a node may run them in parallel
    # workers too (they are declared parallel safe)
    files = sorted({f for f, _, _ in SHARED_KERNELS})
    texts = dict(zip(files, inline_loaders([assets.path("sql", f).read_text() for f in files]),
                     strict=True))
    out = []
    for file, name, first_arg in SHARED_KERNELS:
        m = re.search(rf"^create or replace function raster\.{name}\({re.escape(first_arg)}"
                      r"[^)]*\)\s+returns.*?^\$\$;$", texts[file], re.MULTILINE | re.DOTALL)
        if m is None:
            raise NodeError(f"sql/{file} lacks the node kernel raster.{name}")
        out.append(m.group(0))
    return "\n".join(out)


#: kernels only a data node has: they read the node's own tile tables (named by the
#: coordinator, from its foreign tables' options: raster.tiles_N, or raster.tiles_N_rK after a
#: rebalance) and return small aggregates, which the coordinator sums (raster.np_node_crosstab,
#: raster.np_node_trajectories in sql/070_nodes.sql).
NODE_KERNELS = r"""
drop function if exists raster.node_crosstab(bigint, bigint);
-- The planner settings of the coordinator's dbt sessions (ecorest.dbt_invoke.DBT_SESSION_OPTIONS),
-- for the statement of the node-side call that runs this (set_config local: they end with
-- it): the kernels in parallel workers over tables that are small in pages (the rasters are
-- TOASTed), and no JIT.
create or replace function raster.node_session()
returns void
language plpgsql as $$
begin
  %(session)s
end $$;

create or replace function raster.node_crosstab(p_a text, p_b text)
returns table (v1 integer, v2 integer, pixels bigint)
language plpgsql stable as $$
begin
  perform raster.node_session();
  return query execute format(
    'select c.v1, c.v2, sum(c.pixels)::bigint from raster.%I a join raster.%I b '
    'using (tile_x, tile_y), lateral raster.crosstab(null::bytea, a.rast::bytea, b.rast::bytea) c '
    'group by 1, 2', p_a, p_b);
end $$;

-- pixels per (zone, class at every epoch) of this node's tile tables p_tables (one per
-- land-cover epoch, in time order); p_set null: zone 0 everywhere, else the zones of that set
-- of region p_region, version p_version, as this node keeps them (raster.node_zones),
-- pixels outside every zone left out.
drop function if exists raster.node_trajectories(text[], integer[], geometry[]);
create or replace function raster.node_trajectories(p_tables text[], p_region integer,
                                                    p_set text, p_version text)
returns table (zone_id integer, classes integer[], pixels bigint)
language plpgsql stable as $$
begin
  perform raster.node_session();
  if p_set is null then
    return query execute format(
      'select x.zone_id, x.classes, sum(x.pixels)::bigint from (%s) s '
      'cross join lateral raster.trajectories(null, s.tiles) x group by 1, 2',
      raster.node_stacks(p_tables));
  else
    return query execute raster.node_zone_trajectories(
      raster.node_zones(p_region, array[p_set], array[p_version]), p_tables);
  end if;
end $$;

-- The pixels of the benefit against matched controls (raster.np_benefit_pixels, the pass of
-- int_benefit_pixels) of this node's tiles: observed land-cover tables p_lc and signal tables
-- p_sig in time order (the signal's years, scales and offsets p_sig_*), the DEM table p_dem
-- and the slope table p_slope (null: none), the projects and leakage belts (the shape set
-- p_shapes this node keeps: raster.node_shapes) burnt onto the first land-cover table's
-- tiles, the sample step and the reduction of several signal epochs in a year. A position's
-- signal stack holds the tiles it has, with their years, as on one server.
drop function if exists raster.node_benefit_pixels(text[], text[], integer[],
  double precision[], double precision[], text, text, integer[], geometry[], integer, text);
create or replace function raster.node_benefit_pixels(
    p_lc text[], p_sig text[], p_sig_years integer[], p_scales double precision[],
    p_offsets double precision[], p_dem text, p_slope text, p_shapes text, p_step integer,
    p_reduce text)
returns table (zone_id integer, in_sample boolean, classes integer[],
               signal double precision[], elevation double precision,
               slope_deg double precision, grid_row bigint, grid_col bigint)
language plpgsql stable as $$
declare
  p_codes integer[];
  p_geoms geometry[];
begin
  perform raster.node_session();
  select s.codes, s.geoms into p_codes, p_geoms from raster.node_shapes(p_shapes) as s;
  return query execute format(
    'with sg as (select g.tile_x, g.tile_y, v.* from (%s) g cross join lateral ('
    '  select array_agg(u.t order by u.k) as tiles, array_agg(u.y order by u.k) as years, '
    '         array_agg(u.sc order by u.k) as scales, array_agg(u.o order by u.k) as offsets '
    '  from unnest(g.tiles, $3, $4, $5) with ordinality as u(t, y, sc, o, k) '
    '  where u.t is not null) v), '
    'zt as (select * from raster.burn_table(%L::regclass, $1, $2)) '
    'select x.* from (%s) s '
    'left join zt z on z.tile_x = s.tile_x and z.tile_y = s.tile_y '
    'left join sg g on g.tile_x = s.tile_x and g.tile_y = s.tile_y '
    '%s %s '
    'cross join lateral raster.np_benefit_pixels(z.rast::bytea, s.tiles, g.tiles, g.years, '
    '  g.scales, g.offsets, %s, %s, $6, $7) as x',
    case when cardinality(p_sig) > 0 then raster.node_stacks(p_sig)
         else 'select null::integer as tile_x, null::integer as tile_y, '
              'null::bytea[] as tiles where false' end,
    format('raster.%I', p_lc[1]), raster.node_stacks(p_lc),
    case when p_dem is not null then format('left join raster.%I d on d.tile_x = s.tile_x '
                                            'and d.tile_y = s.tile_y', p_dem) else '' end,
    case when p_slope is not null then format('left join raster.%I sl on sl.tile_x = s.tile_x '
                                              'and sl.tile_y = s.tile_y', p_slope) else '' end,
    case when p_dem is not null then 'd.rast::bytea' else 'null::bytea' end,
    case when p_slope is not null then 'sl.rast::bytea' else 'null::bytea' end)
    using p_codes, p_geoms, p_sig_years, p_scales, p_offsets, p_step, p_reduce;
end $$;

-- The stacks of this node's tile tables p_tables at every tile position one of them has: rows
-- (tile_x, tile_y, tiles), tiles in the tables' order (null where a table has no tile there),
-- as the SQL text of a subquery.
create or replace function raster.node_stacks(p_tables text[])
returns text
language sql immutable as $f$
  select format('select p.tile_x, p.tile_y, array[%s] as tiles from (%s) p %s',
                string_agg(format('t%s.rast::bytea', n), ', ' order by n),
                string_agg(format('select tile_x, tile_y from raster.%I', tab), ' union '),
                string_agg(format('left join raster.%I t%s using (tile_x, tile_y)', tab, n), ' '
                           order by n))
    from unnest(p_tables) with ordinality as e(tab, n)
$f$;

-- The statement counting pixels per (zone, class at every epoch) of this node's tile tables
-- p_tables over the zone tiles of the subquery p_zones (tile_x, tile_y, rast); pixels outside
-- every zone (0) left out.
create or replace function raster.node_zone_trajectories(p_zones text, p_tables text[])
returns text
language sql immutable as $f$
  select format('with zt as (%s) '
                'select x.zone_id, x.classes, sum(x.pixels)::bigint from zt '
                'join (%s) s on s.tile_x = zt.tile_x and s.tile_y = zt.tile_y '
                'cross join lateral raster.trajectories(zt.rast::bytea, s.tiles) x '
                'where x.zone_id <> 0 group by 1, 2', p_zones, raster.node_stacks(p_tables))
$f$;

-- The same per shape (the shape set p_shapes this node keeps, raster.node_shapes: the
-- coordinator's raster.project_shapes, the projects and their baseline rings, in the tiles'
-- SRID) burnt onto this node's tiles of the first table (raster.burn_table, as one server
-- burns them).
drop function if exists raster.node_shape_trajectories(text[], integer[], geometry[]);
create or replace function raster.node_shape_trajectories(p_tables text[], p_shapes text)
returns table (zone_id integer, classes integer[], pixels bigint)
language plpgsql stable as $$
declare
  codes integer[];
  geoms geometry[];
begin
  perform raster.node_session();
  select s.codes, s.geoms into codes, geoms from raster.node_shapes(p_shapes) as s;
  return query execute raster.node_zone_trajectories(
    format('select * from raster.burn_table(%L::regclass, $1, $2)',
           format('raster.%I', p_tables[1])), p_tables)
    using codes, geoms;
end $$;

-- A grid CRS that PostGIS does not know, as the coordinator registered it (the ECOREST
-- authority: registry.register_crs there, SRIDs 990000-998999): copied here before the node
-- burns shapes in it (raster.burn_table: GDAL needs the definition of the tiles' SRID). Runs
-- as the node's administrator, who installed it (spatial_ref_sys belongs to PostGIS's owner),
-- for the writer login, which may add or correct ECOREST entries and nothing else. True when
-- the entry was added or changed.
create or replace function raster.node_put_crs(p_srid integer, p_srtext text, p_proj4 text)
returns boolean
language plpgsql security definer set search_path = pg_catalog, public as $$
begin
  if p_srid is null or p_srid not between 990000 and 998999 then
    raise exception 'raster.node_put_crs: SRID % is not an ECOREST grid CRS (990000-998999)',
      p_srid;
  end if;
  if exists (select 1 from public.spatial_ref_sys s
              where s.srid = p_srid and s.auth_name = 'ECOREST' and s.auth_srid = p_srid
                and s.srtext = p_srtext and s.proj4text = p_proj4) then
    return false;
  end if;
  insert into public.spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
  values (p_srid, 'ECOREST', p_srid, p_srtext, p_proj4)
  on conflict (srid) do update
    set auth_name = excluded.auth_name, auth_srid = excluded.auth_srid,
        srtext = excluded.srtext, proj4text = excluded.proj4text;
  return true;
end $$;

-- Shape sets kept on this node: the polygons the node-side calls burn onto its tiles (the
-- coordinator's raster.project_shapes: the projects with their baseline rings or leakage
-- belts), copied by the coordinator's raster.node_sync_shapes before a call first needs them
-- and kept for the calls and runs after it, so that a large project registry does not travel
-- in every call's text. A set is named by a digest of its codes and polygons (the same shapes,
-- the same name); the eight sets used last are kept.
create or replace function raster.node_shapes_begin(p_version text)
returns void
language plpgsql as $$
begin
  create table if not exists raster.node_shape_sets (
    version text primary key, shapes integer not null,
    used_at timestamptz not null default clock_timestamp());
  create table if not exists raster.node_shapes (
    version text, k integer, code integer not null, geom geometry not null,
    primary key (version, k));
  delete from raster.node_shape_sets where version = p_version;
  delete from raster.node_shapes where version = p_version;
end $$;

-- A batch of a shape set: positions, codes and polygons.
create or replace function raster.node_shapes_put(p_version text, p_ks integer[],
                                                  p_codes integer[], p_geoms geometry[])
returns integer
language plpgsql as $$
declare
  n integer;
begin
  insert into raster.node_shapes
    select p_version, u.k, u.c, u.g from unnest(p_ks, p_codes, p_geoms) as u(k, c, g);
  get diagnostics n = row_count;
  return n;
end $$;

-- The copy of a shape set is complete: p_shapes were sent. Refused when another number of
-- shapes arrived. Sets beyond the eight used last are dropped.
create or replace function raster.node_shapes_done(p_version text, p_shapes integer)
returns integer
language plpgsql as $$
declare
  n integer := (select count(*) from raster.node_shapes where version = p_version);
begin
  if n <> p_shapes then
    raise exception 'shape set %: % shapes arrived, % were sent', p_version, n, p_shapes;
  end if;
  insert into raster.node_shape_sets (version, shapes) values (p_version, n);
  with old as (
    delete from raster.node_shape_sets where version in (
      select version from raster.node_shape_sets order by used_at desc offset 8)
    returning version)
  delete from raster.node_shapes s using old where s.version = old.version;
  return n;
end $$;

-- Whether this node keeps shape set p_version (then marked as used now).
create or replace function raster.node_shapes_kept(p_version text)
returns boolean
language plpgsql as $$
begin
  if to_regclass('raster.node_shape_sets') is null then
    return false;
  end if;
  update raster.node_shape_sets set used_at = clock_timestamp() where version = p_version;
  return found;
end $$;

-- The codes and polygons of shape set p_version, in the order they were sent; refused when
-- this node does not keep it (eight other sets were used since the call began: run again).
create or replace function raster.node_shapes(p_version text)
returns table (codes integer[], geoms geometry[])
language plpgsql stable as $$
begin
  if to_regclass('raster.node_shape_sets') is null
     or not exists (select 1 from raster.node_shape_sets s where s.version = p_version) then
    raise exception 'shape set % is not kept on this node: other runs replaced it; run again',
      p_version;
  end if;
  return query select array_agg(s.code order by s.k), array_agg(s.geom order by s.k)
                 from raster.node_shapes s where s.version = p_version;
end $$;

-- Zone tiles kept on this node: the coordinator's registry.zone_tiles (a zone set burnt onto
-- the region grid when it is loaded) at the tile positions this node holds, copied here by
-- the coordinator's raster.node_sync_zones before a node-side call first needs them and kept
-- for the runs after it: one version of each zone set (its load), with the layout it was
-- copied for (modulus and remainder of the hash of tile_y).
drop function if exists raster.node_zone_burn(text);
create or replace function raster.node_zones_begin(p_region integer, p_set text)
returns void
language plpgsql as $$
begin
  create table if not exists raster.node_zone_sets (
    region_id integer, zone_set text, version text not null, modulus integer not null,
    remainder integer not null, tiles integer not null, primary key (region_id, zone_set));
  create table if not exists raster.node_zone_tiles (
    region_id integer, zone_set text, tile_x integer, tile_y integer, rast bytea not null,
    primary key (region_id, zone_set, tile_x, tile_y));
  delete from raster.node_zone_sets where region_id = p_region and zone_set = p_set;
  delete from raster.node_zone_tiles where region_id = p_region and zone_set = p_set;
end $$;

-- A batch of a zone set's tiles (positions and WKB in hex).
create or replace function raster.node_zones_put(p_region integer, p_set text, p_xs integer[],
                                                 p_ys integer[], p_hex text[])
returns integer
language plpgsql as $$
declare
  n integer;
begin
  insert into raster.node_zone_tiles
    select p_region, p_set, u.x, u.y, decode(u.h, 'hex') from unnest(p_xs, p_ys, p_hex) u(x, y, h);
  get diagnostics n = row_count;
  return n;
end $$;

-- The copy of a zone set is complete: p_tiles were sent for this layout. Refused when another
-- number of tiles arrived.
create or replace function raster.node_zones_done(p_region integer, p_set text, p_version text,
                                                  p_modulus integer, p_remainder integer,
                                                  p_tiles integer)
returns integer
language plpgsql as $$
declare
  n integer := (select count(*) from raster.node_zone_tiles
                 where region_id = p_region and zone_set = p_set);
begin
  if n <> p_tiles then
    raise exception 'zone set % of region %: % tiles arrived, % were sent', p_set, p_region,
      n, p_tiles;
  end if;
  insert into raster.node_zone_sets values (p_region, p_set, p_version, p_modulus, p_remainder, n);
  return n;
end $$;

-- The zone sets this node keeps, with their versions and layouts.
create or replace function raster.node_zone_versions(p_region integer)
returns table (zone_set text, version text, modulus integer, remainder integer)
language plpgsql stable as $$
begin
  if to_regclass('raster.node_zone_sets') is not null then
    return query select s.zone_set, s.version, s.modulus, s.remainder
                   from raster.node_zone_sets s where s.region_id = p_region;
  end if;
end $$;

-- The zone tiles of sets p_sets (versions p_versions) of region p_region as the SQL text of a
-- subquery with rows (tile_x, tile_y, set_no, rast): set_no the set's place in p_sets. Refused,
-- naming the set, when this node does not keep that version (a newer load of the set replaced
-- it after the call began: run again).
create or replace function raster.node_zones(p_region integer, p_sets text[], p_versions text[])
returns text
language plpgsql stable as $$
declare
  k integer;
begin
  for k in 1 .. coalesce(cardinality(p_sets), 0) loop
    if not exists (select 1 from raster.node_zone_versions(p_region) v
                    where v.zone_set = p_sets[k] and v.version = p_versions[k]) then
      raise exception 'zone set % of region % (%) is not kept on this node: another load of '
        'it replaced it; run again', p_sets[k], p_region, p_versions[k];
    end if;
  end loop;
  if coalesce(cardinality(p_sets), 0) = 0 then
    return 'select 0 as tile_x, 0 as tile_y, 0 as set_no, null::bytea as rast where false';
  end if;
  return format('select z.tile_x, z.tile_y, s.no as set_no, z.rast '
                'from raster.node_zone_tiles z join unnest(%L::text[]) with ordinality s(zs, no) '
                'on z.zone_set = s.zs where z.region_id = %s', p_sets, p_region);
end $$;

-- The zone tiles of every zone set (raster.node_zones, p_sets in their order) at each tile
-- position of this node that has one: rows (tile_x, tile_y, rasts), rasts one per set (null
-- where the set has no tile there), as raster.named_tiles gives them on one server; the SQL
-- text of a subquery.
create or replace function raster.node_zone_arrays(p_region integer, p_sets text[],
                                                   p_versions text[])
returns text
language sql stable as $f$
  select format(
    'with zt as (%s) select p.tile_x, p.tile_y, array(select zt.rast '
    'from generate_series(1, %s) as k left join zt on zt.tile_x = p.tile_x '
    'and zt.tile_y = p.tile_y and zt.set_no = k order by k) as rasts '
    'from (select distinct tile_x, tile_y from zt) p',
    raster.node_zones(p_region, p_sets, p_versions), coalesce(cardinality(p_sets), 0))
$f$;

-- Before this node writes derived table p_target (derived_<kind>_<n>): the tables of that
-- kind left by earlier runs are dropped, except p_keep, the one the coordinator reads now
-- (it reads the new one only when its transaction commits).
create or replace function raster.node_replace_derived(p_target text, p_keep text)
returns void
language plpgsql as $$
declare
  kind text := substring(p_target from '^(derived_[a-z_]+)_[0-9]+$');
  old text;
begin
  if kind is null then
    raise exception 'raster.node_replace_derived: % is not a derived table name', p_target;
  end if;
  for old in select tablename from pg_tables
              where schemaname = 'raster' and tablename ~ ('^' || kind || '_[0-9]+$')
                and tablename <> p_target and tablename is distinct from p_keep
                and tableowner = current_user loop
    execute format('drop table raster.%I', old);
  end loop;
  execute format('drop table if exists raster.%I', p_target);
end $$;

-- A per-pixel result of the coordinator's run written to a new table p_target of this node:
-- the rows (tile_x, tile_y, rast) of p_select, a query over this node's own tables that the
-- coordinator composed (raster.np_node_derive: the identification factors), or that the
-- NDVI trend and the slope below compose. Returns the tiles.
create or replace function raster.node_derive(p_target text, p_keep text, p_select text)
returns bigint
language plpgsql as $$
declare
  n bigint;
begin
  perform raster.node_session();
  perform raster.node_replace_derived(p_target, p_keep);
  execute format('create table raster.%I as select q.tile_x, q.tile_y, q.rast from (%s) q',
                 p_target, p_select);
  get diagnostics n = row_count;
  execute format('alter table raster.%I add primary key (tile_x, tile_y)', p_target);
  execute format('analyze raster.%I', p_target);
  return n;
end $$;

-- The NDVI trend (raster.np_ndvi_trend) of this node's NDVI tile tables p_tables (in time
-- order, with their years, scales and offsets), written to a new table p_target: one row per
-- tile position where at least 3 distinct years have a tile, as raster.tile_stack gives the
-- stacks on one server. Returns the tiles written.
create or replace function raster.node_ndvi_trend(
    p_target text, p_keep text, p_tables text[], p_years integer[],
    p_scales double precision[], p_offsets double precision[], p_reduce text,
    p_min_years integer, p_stable_slope double precision, p_alpha double precision,
    p_ndvi_min double precision)
returns bigint
language plpgsql as $$
begin
  -- the kernel in the select list of a subquery: run in parallel workers, as on one server
  return raster.node_derive(p_target, p_keep, format(
    'select s.tile_x, s.tile_y, st_rastfromwkb(raster.np_ndvi_trend('
    's.tiles, %L::integer[], %L::double precision[], %L::double precision[], %L, %s, %s, %s, '
    '%s)) as rast from (%s) s where (select count(distinct u.y) from unnest(s.tiles, '
    '%L::integer[]) as u(t, y) where u.t is not null) >= 3',
    p_years, p_scales, p_offsets, p_reduce, p_min_years, p_stable_slope, p_alpha,
    p_ndvi_min, raster.node_stacks(p_tables), p_years));
end $$;

-- The first and the last pixel row of a tile as two one-row rasters of the same grid (all
-- bands, their nodata): the border another node's tiles need for their slope. Cut from the
-- raster's WKB (little-endian, in-database bands, no skew, as the kernels read them).
create or replace function raster.np_edge_rows(a bytea)
returns bytea[]
language plpython3u immutable parallel safe as $py$
import struct
if a is None:
    return None
SIZE = {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2, 7: 4, 8: 4, 10: 4, 11: 8}
if a[0] != 1:
    plpy.error('raster.np_edge_rows reads little-endian rasters only')
nbands, = struct.unpack_from('<H', a, 3)
sx, sy, ulx, uly, kx, ky = struct.unpack_from('<dddddd', a, 5)
w, h = struct.unpack_from('<HH', a, 57)
out = []
for row in (0, h - 1):
    head = bytearray(a[:61])
    struct.pack_into('<dd', head, 21, ulx + row * kx, uly + row * sy)
    struct.pack_into('<H', head, 59, 1)
    parts = [bytes(head)]
    off = 61
    for _ in range(nbands):
        flags = a[off]
        if flags & 0x80:
            plpy.error('raster.np_edge_rows: out-of-database bands are not supported')
        size = SIZE[flags & 0x0F]
        data = off + 1 + size
        parts.append(bytes([flags & ~0x20]) + a[off + 1:data]
                     + a[data + row * w * size:data + (row + 1) * w * size])
        off = data + w * h * size
    out.append(b''.join(parts))
return out
$py$;

-- The edge rows (raster.np_edge_rows) of every tile of this node's table p_table: the borders
-- of the tiles next to them that lie on other nodes.
create or replace function raster.node_edge_rows(p_table text)
returns table (tile_x integer, tile_y integer, strip bytea)
language plpgsql stable as $$
begin
  return query execute format(
    'select t.tile_x, t.tile_y, e.strip from raster.%I t, '
    'unnest(raster.np_edge_rows(t.rast::bytea)) as e(strip)', p_table);
end $$;

-- The tiles around one tile position of this node's table p_table that the slope's border
-- reads: its own tiles there and the edge rows of other nodes' tiles (table p_edges).
create or replace function raster.node_neighbours(p_table text, p_edges text, p_x integer,
                                                  p_y integer)
returns bytea[]
language plpgsql stable parallel safe as $$
declare
  r bytea[];
begin
  execute format(
    'select array(select n.rast::bytea from raster.%I n where n.tile_x between $1 - 1 and $1 + 1 '
    'and n.tile_y between $2 - 1 and $2 + 1 and (n.tile_x, n.tile_y) <> ($1, $2) '
    'union all select e.strip from raster.%I e where e.tile_x between $1 - 1 and $1 + 1 '
    'and e.tile_y between $2 - 1 and $2 + 1)', p_table, p_edges)
    into r using p_x, p_y;
  return r;
end $$;

-- Slope (raster.np_slope) of this node's DEM tiles (table p_table) written to a new table
-- p_target, the borders from this node's own tiles and from the edge rows of other nodes'
-- tiles given (p_xs, p_ys, p_strips: their tile positions and rows). Returns the tiles.
create or replace function raster.node_slope(p_target text, p_keep text, p_table text,
                                             p_xs integer[], p_ys integer[], p_strips bytea[])
returns bigint
language plpgsql as $$
declare
  edges text := p_target || '_edges';
  n bigint;
begin
  -- a plain table, not a temporary one: parallel workers read it too
  execute format('drop table if exists raster.%I', edges);
  execute format('create unlogged table raster.%I as select * from unnest($1, $2, $3) '
                 'as e(tile_x, tile_y, strip)', edges)
    using coalesce(p_xs, '{}'), coalesce(p_ys, '{}'), coalesce(p_strips, '{}');
  execute format('analyze raster.%I', edges);
  n := raster.node_derive(p_target, p_keep, format(
    'select c.tile_x, c.tile_y, st_rastfromwkb(raster.np_slope(c.rast::bytea, '
    'raster.node_neighbours(%L, %L, c.tile_x, c.tile_y))) as rast from raster.%I c',
    p_table, edges, p_table));
  execute format('drop table raster.%I', edges);
  return n;
end $$;

-- Zone statistics (raster.np_zone_stats) of this node's tiles of table p_table: the whole
-- region (zone_no 0) and the zone sets p_sets (zone_no 1 .. n, versions p_versions) of region
-- p_region as this node keeps them (raster.node_zones); summed over the tiles.
drop function if exists raster.node_zone_stats(text, integer, integer, integer[], integer[],
                                               geometry[]);
create or replace function raster.node_zone_stats(p_table text, p_count_band integer,
                                                  p_region integer, p_sets text[],
                                                  p_versions text[])
returns table (zone_no integer, zone_id integer, band integer, value integer, pixels bigint,
               total double precision)
language plpgsql stable as $$
begin
  perform raster.node_session();
  return query execute format(
    'with za as (%s) '
    'select (z.r).zone_no, (z.r).zone_id, (z.r).band, (z.r).value, sum((z.r).pixels)::bigint, '
    '  sum((z.r).total) '
    'from (select raster.np_zone_stats(t.rast::bytea, za.rasts, %s) as r '
    '  from raster.%I t left join za on za.tile_x = t.tile_x and za.tile_y = t.tile_y) z '
    'group by 1, 2, 3, 4',
    raster.node_zone_arrays(p_region, p_sets, p_versions), p_count_band, p_table);
end $$;

-- Vegetation-signal sums (raster.np_signal_sums, the pass of int_signal_sums) of this node's
-- land-cover tile tables p_lc and signal (NDVI) tile tables p_sig, both in time order, at every
-- tile position that has both, with the zone tiles of the sets p_sets this node keeps; summed
-- over the tiles. Zone sets without a tile at a position enter as nulls, as on one server.
create or replace function raster.node_signal_sums(
    p_lc text[], p_lc_years integer[], p_sig text[], p_sig_years integer[],
    p_scales double precision[], p_offsets double precision[], p_reduce text,
    p_codes integer[], p_intercepts double precision[], p_slopes double precision[],
    p_region integer, p_sets text[], p_versions text[])
returns table (zone_no integer, zone_id integer, year integer, class_code integer,
               pixels bigint, signal_pixels bigint, signal_sum double precision,
               calibrated_sum double precision)
language plpgsql stable as $$
begin
  perform raster.node_session();
  return query execute format(
    'with za as (%s) '
    'select (x.r).zone_no, (x.r).zone_id, (x.r).year, (x.r).class_code, '
    '  sum((x.r).pixels)::bigint, sum((x.r).signal_pixels)::bigint, sum((x.r).signal_sum), '
    '  sum((x.r).calibrated_sum) '
    'from (select raster.np_signal_sums(coalesce(za.rasts, array_fill(null::bytea, '
    '  array[%s])), s.tiles, $1, g.tiles, $2, $3, $4, $5, $6, $7, $8) as r '
    '  from (%s) s join (%s) g on g.tile_x = s.tile_x and g.tile_y = s.tile_y '
    '  left join za on za.tile_x = s.tile_x and za.tile_y = s.tile_y) x '
    'group by 1, 2, 3, 4',
    raster.node_zone_arrays(p_region, p_sets, p_versions), coalesce(cardinality(p_sets), 0),
    raster.node_stacks(p_lc), raster.node_stacks(p_sig))
    using p_lc_years, p_sig_years, p_scales, p_offsets, p_reduce, p_codes, p_intercepts,
          p_slopes;
end $$;
"""

NODE_SETUP = """
create extension if not exists postgis;
create extension if not exists postgis_raster;
create extension if not exists plpython3u;
create schema if not exists raster;
"""


def node_session_sql() -> str:
    """The body of raster.node_session: dbt's session options as local settings."""
    from ecorest.dbt_invoke import DBT_SESSION_OPTIONS

    pairs = [opt.strip().split("=", 1) for opt in DBT_SESSION_OPTIONS.split("-c ")[1:]]
    return "\n  ".join(f"perform set_config('{name}', '{value}', true);"
                       for name, value in pairs)


def install_node_kernels(node: psycopg.Connection) -> None:
    """(Re)install the node kernels through a node's superuser connection (PL/Python is an
    untrusted language). As on the coordinator (sql/900_grants.sql), every function of schema
    raster is executable by the writer login only (the one the coordinator's node-side calls
    use): nobody else runs the kernels on arbitrary input."""
    node.execute(NODE_SETUP + shared_kernels() + "\n"
                 + NODE_KERNELS.replace("%(session)s", node_session_sql()))
    node.execute("revoke all on all functions in schema raster from public")
    node.execute(sql.SQL("grant execute on all functions in schema raster to {}").format(
        sql.Identifier(WRITER)))


def add_node(admin_url: str, name: str, node_admin_url: str) -> Node:
    """Register a data node: set it up (extensions, schema raster, the node kernels, a writer
    and a reader login with generated passwords) through its administrator URL — which is used
    once and not stored — and create the foreign server and the user mappings on the
    coordinator. For a node registered already under that name and address, only its kernels
    are installed again (after an upgrade of ecorest)."""
    if not NAME.match(name):
        raise NodeError(f"node name {name!r}: use lower-case letters, digits and _ (at most 31, "
                        "starting with a letter)")
    host, port, dbname = _split_url(node_admin_url)
    writer_pw, reader_pw = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        known = {n.name: n for n in list_nodes(conn)}
    same = known.get(name)
    if same is not None and (same.host, same.port, same.dbname) != (host, port, dbname):
        raise NodeError(f"a node named {name} is registered already, at {same.host}:"
                        f"{same.port}/{same.dbname} (ecorest db nodes)")
    try:
        node = psycopg.connect(node_admin_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise NodeError(f"node {name} ({host}:{port}/{dbname}) is unreachable: "
                        f"{str(exc).strip()}") from exc
    if same is not None:  # registered: bring its kernels up to this version, nothing else
        with node:
            install_node_kernels(node)
        log.info("data node %s: kernels installed again", name)
        return same
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
        install_node_kernels(node)
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
            tls = _tls_options(node_admin_url)
            conn.execute(sql.SQL(
                "create server {} foreign data wrapper postgres_fdw options (host {}, port {}, "
                "dbname {}, async_capable 'true', extensions 'postgis', fetch_size '200'{})"
            ).format(sql.Identifier(server), sql.Literal(host), sql.Literal(str(port)),
                     sql.Literal(dbname), sql.SQL("").join(
                         sql.SQL(", {} {}").format(sql.Identifier(k), sql.Literal(v))
                         for k, v in sorted(tls.items()))))
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
    return Node(name, server, host, port, dbname, _tls_options(node_admin_url))


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


def holdings(conn: psycopg.Connection, node: Node) -> tuple[list[int], int | None]:
    """The catalog entries with tiles on ``node`` (their partitions' foreign tables name its
    server) and how many tiles it holds of them, counted on the node (None when it cannot be
    reached)."""
    rows = conn.execute(
        "select p.relname::text, t.ftoptions from pg_foreign_table t "
        "join pg_foreign_server s on s.oid = t.ftserver "
        "join pg_inherits i on i.inhrelid = t.ftrelid join pg_class p on p.oid = i.inhparent "
        "where s.srvname = %s and p.relname ~ '^tiles_[0-9]+$' order by 1",
        (node.server,)).fetchall()
    entries = sorted({int(m.group(1)) for parent, _ in rows
                      if (m := re.fullmatch(r"tiles_(\d+)", parent))})
    if not rows:
        return entries, 0
    try:
        with connect_node(conn, node, autocommit=True) as nc:
            tiles = sum(nc.execute(sql.SQL("select count(*) from raster.{}").format(
                sql.Identifier(dict(o.split("=", 1) for o in opts)["table_name"]))
            ).fetchone()[0] for _, opts in rows)
    except (NodeError, psycopg.Error):
        tiles = None
    return entries, tiles


def remove_node(admin_url: str, name: str, force: bool = False, drain: bool = False
                ) -> list[dict]:
    """Unregister a node. While catalog entries keep tiles on it this is refused, naming how
    many entries and tiles it holds, unless ``drain`` (its tiles move to the other nodes first,
    or from the last node back to the coordinator: :func:`drain_node`) or ``force`` (those
    entries lose the node's share of their tiles: reload them). Returns the entries moved by
    a drain."""
    if force and drain:
        raise NodeError("--drain and --force exclude each other: --drain moves the node's "
                        "tiles away first, --force drops them")
    server = SERVER_PREFIX + name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        node = next((n for n in list_nodes(conn) if n.server == server), None)
        if node is None:
            raise NodeError(f"no data node named {name} (ecorest db nodes)")
        entries, tiles = holdings(conn, node)
        if entries and not (force or drain):
            held = "an unknown number of tiles" if tiles is None else f"{tiles} tiles"
            raise NodeError(
                f"{node.label()} holds {held} of {len(entries)} catalog "
                f"entr{'y' if len(entries) == 1 else 'ies'} "
                f"({', '.join(map(str, entries))})"
                f"{'; it is unreachable now' if tiles is None else ''}"
                "; move them away first with "
                f"`ecorest db remove-node {name} --drain`, or give --force to drop them (their "
                "layers must then be loaded again)")
        if not (entries and drain):
            drop_derived(conn, node)
            conn.execute(sql.SQL("drop server {} cascade").format(sql.Identifier(server)))
            log.info("data node %s removed", name)
            return []
    return drain_node(admin_url, name)


def _drop_server(conn: psycopg.Connection, node: Node) -> None:
    """Unregister a drained node in the switching transaction, checking that no partition
    reads it any more."""
    drop_derived(conn, node)
    left = conn.execute("select count(*) from pg_foreign_table t join pg_foreign_server s "
                        "on s.oid = t.ftserver where s.srvname = %s", (node.server,)
                        ).fetchone()[0]
    if left:
        raise NodeError(f"{node.label()}: {left} partition(s) still read it after the move, "
                        "nothing was changed")
    conn.execute(sql.SQL("drop server {} cascade").format(sql.Identifier(node.server)))


def drop_derived(conn: psycopg.Connection, node: Node) -> None:
    """Empty the derived tile tables (raster.derived_*, results of the last run kept on the
    nodes) that have a partition on ``node``: their partitions are dropped, so that the node can
    go; the next run computes them again."""
    for (parent,) in conn.execute(
            "select distinct p.relname from pg_foreign_table t "
            "join pg_foreign_server s on s.oid = t.ftserver "
            "join pg_inherits i on i.inhrelid = t.ftrelid join pg_class p on p.oid = i.inhparent "
            "where s.srvname = %s and p.relname ~ '^derived_[a-z_]+$' "
            "and p.relnamespace = 'raster'::regnamespace", (node.server,)).fetchall():
        for (child,) in conn.execute(
                "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = %s::regclass", (f"raster.{parent}",)).fetchall():
            conn.execute(sql.SQL("drop foreign table raster.{}").format(sql.Identifier(child)))
        log.info("%s: the last run's %s emptied (computed again by the next run)",
                 node.label(), parent)


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
                                    "and tablename ~ '^tiles_[0-9]+(_r[0-9]+)?$'").fetchone()[0]
                size = nc.execute("select coalesce(sum(pg_total_relation_size(c.oid)), 0)"
                                  "::bigint from pg_class c where "
                                  "c.relnamespace = 'raster'::regnamespace "
                                  "and c.relname ~ '^tiles_[0-9]+(_r[0-9]+)?$'").fetchone()[0]
            state = "up"
        except NodeError as exc:
            tables, size, state = None, None, f"down: {exc}"
        rows.append({"name": node.name, "host": node.host, "port": node.port,
                     "dbname": node.dbname, "partitions": parts, "node_tables": tables,
                     "bytes": size, "state": state})
    return rows


def clean_orphans(conn: psycopg.Connection) -> int:
    """Drop node tile tables that no published catalog partition reads (left by a load that
    failed or was rolled back after writing them), and derived tables (a run's results kept on
    the nodes) that no partition reads. Run it when no load or run is under way."""
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
                    "tablename ~ '^(tiles_[0-9]+(_r[0-9]+)?|derived_[a-z_]+_[0-9]+)$' "
                    "and tableowner = %s",
                    (WRITER,)).fetchall():
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


# ----- rebalancing -----------------------------------------------------------------------------
CHECKSUM = ("select count(*), coalesce(sum(('x' || left(md5(tile_x || ',' || tile_y || ',' || "
            "md5(rast::bytea)), 15))::bit(60)::bigint), 0)::numeric from raster.{}")


@dataclass
class _Move:
    """One catalog entry to spread over the current nodes: where its tiles are (sources: the
    coordinator's own table, or (server, node table) pairs) and the new node table's name."""
    cid: int
    local: bool
    sources: list[tuple[str | None, str]]
    new_table: str
    count: int = 0
    checksum: int = 0


def _entries_to_move(conn: psycopg.Connection, servers: list[str],
                     only: str | None = None) -> list[_Move]:
    """The catalog entries not spread over ``servers`` (in that order); with ``only`` (a
    server being drained) just those with tiles on it."""
    moves = []
    for (cid,) in conn.execute("select catalog_id from raster.catalog order by catalog_id"
                               ).fetchall():
        part = f"tiles_{cid}"
        kind = conn.execute("select relkind::text from pg_class where oid = to_regclass(%s)",
                            (f"raster.{part}",)).fetchone()
        if kind is None:
            continue
        if kind[0] == "r":  # a local partition (loaded before the first node)
            if only is None:
                moves.append(_Move(cid, True, [(None, part)], f"tiles_{cid}_r1"))
            continue
        placement = conn.execute("select raster.node_placement(array[%s]::bigint[])",
                                 (cid,)).fetchone()[0]
        if placement == servers:
            continue
        sources = []
        for srv, opts in conn.execute(
                "select fs.srvname, ft.ftoptions from pg_inherits i "
                "join pg_foreign_table ft on ft.ftrelid = i.inhrelid "
                "join pg_foreign_server fs on fs.oid = ft.ftserver "
                "where i.inhparent = %s::regclass order by fs.srvname",
                (f"raster.{part}",)).fetchall():
            table = dict(o.split("=", 1) for o in opts)["table_name"]
            sources.append((srv, table))
        if only is not None and only not in {srv for srv, _ in sources}:
            continue
        gen = max([int(m.group(1)) for _, t in sources
                   if (m := re.fullmatch(rf"tiles_{cid}_r(\d+)", t))] + [0])
        moves.append(_Move(cid, False, sources, f"tiles_{cid}_r{gen + 1}"))
    return moves


def rebalance(admin_url: str) -> list[dict]:
    """Spread every catalog entry's tiles over all registered data nodes again (after
    ``add-node``), as one logical operation: copy each entry to a new layout (new node tables,
    hash of tile_y over all nodes), verify tile counts and checksums against the old layout,
    then flip every entry at once in one coordinator transaction and drop the old tables.
    Entries loaded before the first node (local partitions) move to the nodes too. A node down
    or failing before the flip: a NodeError and nothing changed (readers keep the old layout
    throughout; the flip waits for running queries on raster.tiles). Returns one dict per
    entry moved (catalog_id, tiles, from, to)."""
    return _relayout(admin_url)


def drain_node(admin_url: str, name: str) -> list[dict]:
    """Move every tile of data node ``name`` to the other nodes (the last node: back to the
    coordinator's own tables), then unregister it — one logical operation, as
    :func:`rebalance`: each catalog entry with tiles on the node is copied to a layout over
    the remaining nodes (or to a local table) and verified (counts, checksums); one
    coordinator transaction switches every such entry to its new layout and drops the node's
    foreign server; then the old node tables are dropped (the drained node's too, while it is
    still reachable). A node down (the drained one or another) or failing before the switch: a
    NodeError naming it and nothing changed — the node stays registered with its tiles.
    Returns one dict per entry moved (catalog_id, tiles, from, to)."""
    return _relayout(admin_url, drain=name)


def _relayout(admin_url: str, drain: str | None = None) -> list[dict]:
    """Rebalancing (``drain`` None: every entry over all nodes) or draining (the entries on
    node ``drain`` over the other nodes, then the node removed); see :func:`rebalance` and
    :func:`drain_node`."""
    with psycopg.connect(admin_url) as conn:  # its one transaction is the flip
        nodes = list_nodes(conn)
        if not nodes:
            raise NodeError("no data nodes to rebalance onto (ecorest db add-node)")
        drained = None
        if drain is not None:
            drained = next((n for n in nodes if n.name == drain), None)
            if drained is None:
                raise NodeError(f"no data node named {drain} (ecorest db nodes)")
            nodes = [n for n in nodes if n is not drained]
        # loads add catalog entries (and node tables on every registered node): wait for those
        # under way and hold new ones back until the switch, so that none is missed
        conn.execute("lock table raster.catalog in share mode")
        servers = [n.server for n in nodes]
        moves = _entries_to_move(conn, servers, only=drained.server if drained else None)
        everyone = nodes + ([drained] if drained else [])
        by_server = {n.server: n for n in everyone}
        # the drained node's address and login, read while its foreign server still exists
        # (its old tables are dropped after the switch that unregisters it)
        urls = {n.server: node_url(conn, n) for n in everyone} if moves else {}
        writers: list[psycopg.Connection] = []
        readers: dict[str, psycopg.Connection] = {}
        try:
            if moves:
                for node in everyone:  # every node reachable first, or nothing is touched
                    try:
                        if node is not drained:
                            writers.append(connect_node(conn, node))
                        readers[node.server] = connect_node(conn, node, autocommit=True)
                    except NodeError as exc:
                        raise NodeError(f"nothing was changed: {exc}") from exc
            for move in moves:
                if nodes:
                    _copy_entry(conn, move, nodes, writers, readers,
                                (drained,) if drained else ())
                else:  # the last node drained: its tiles come home to the coordinator
                    _copy_home(conn, move, readers, drained)
            for k, nc in enumerate(writers):  # the new tables, still unpublished
                try:
                    nc.commit()
                except psycopg.Error as exc:
                    raise NodeError(f"{nodes[k].label()} failed to commit the new layout, "
                                    "nothing was published (`ecorest db nodes --clean` drops "
                                    f"its new tables): {str(exc).strip()}") from exc
            for move in moves:
                _flip(conn, move)
            if drained is not None:
                _drop_server(conn, drained)
            conn.commit()  # the flip: every entry reads its new layout from here on
        except BaseException:
            conn.rollback()
            for nc in writers:
                nc.rollback()
            raise
        finally:
            for nc in (*writers, *readers.values()):
                nc.close()
        report = []
        for move in moves:  # the old layouts, now read by nothing
            for srv, table in move.sources:
                if srv is None:
                    continue
                try:
                    with psycopg.connect(urls[srv], autocommit=True, connect_timeout=10,
                                         application_name="ecorest-node-load") as nc:
                        nc.execute(sql.SQL("drop table if exists raster.{}").format(
                            sql.Identifier(table)))
                except psycopg.Error as exc:  # `ecorest db nodes --clean` drops it
                    log.warning("%s: the old table raster.%s was not dropped%s: %s",
                                by_server[srv].label(), table,
                                " (the node is no longer registered: drop it there by hand)"
                                if by_server[srv] is drained else "", exc)
            report.append({"catalog_id": move.cid, "tiles": move.count,
                           "from": "coordinator" if move.local else
                           ", ".join(s[len(SERVER_PREFIX):] for s, _ in move.sources),
                           "to": ", ".join(n.name for n in nodes) or "coordinator"})
            log.info("catalog entry %d: %d tiles %s", move.cid, move.count,
                     f"spread over {len(nodes)} nodes" if nodes else "back on the coordinator")
        if drained is not None:
            if drained.server in urls:  # the zone tiles it kept for the node-side calls
                try:
                    with psycopg.connect(urls[drained.server], autocommit=True,
                                         connect_timeout=10) as nc:
                        nc.execute("drop table if exists raster.node_zone_tiles, "
                                   "raster.node_zone_sets, raster.node_shapes, "
                                   "raster.node_shape_sets")
                except psycopg.Error as exc:
                    log.warning("%s: its copies of the zone tiles were not dropped: %s",
                                drained.label(), exc)
            log.info("data node %s drained and removed", drained.name)
        return report


def _rast_storage(conn: psycopg.Connection, table: str) -> tuple[str, str]:
    """How raster.<table> stores its rasters: (attstorage, attcompression) of column rast."""
    return conn.execute(
        "select attstorage::text, attcompression::text from pg_attribute "
        "where attrelid = %s::regclass and attname = 'rast'", (f"raster.{table}",)).fetchone()


def _store_like(conn: psycopg.Connection, table: str, storage: tuple[str, str]) -> None:
    """Give raster.<table> that storage: lz4 for class codes, external for continuous
    values (as the loader stores them)."""
    attstorage, compression = storage
    if compression == "l":
        conn.execute(sql.SQL("alter table raster.{} alter column rast set compression lz4"
                             ).format(sql.Identifier(table)))
    elif attstorage == "e":
        conn.execute(sql.SQL("alter table raster.{} alter column rast set storage external"
                             ).format(sql.Identifier(table)))


def _copy_entry(conn: psycopg.Connection, move: _Move, nodes: list[Node],
                writers: list[psycopg.Connection],
                readers: dict[str, psycopg.Connection], others: tuple[Node, ...] = ()
                ) -> None:
    """Copy one entry's tiles into its new node tables (in the writers' transactions) and
    verify count and checksum against the old layout; create the coordinator's new partition
    (raster.tiles_<id>_next, in the coordinator's transaction)."""
    cid = move.cid
    nxt = f"tiles_{cid}_next"
    conn.execute("select raster.create_node_tile_table(%s, %s, %s, %s)",
                 (cid, [n.server for n in nodes], move.new_table, nxt))
    # the storage of the old table (lz4 for class codes, external for continuous values)
    src_conn = conn if move.local else readers[move.sources[0][0]]
    storage = _rast_storage(src_conn, move.sources[0][1])
    for k, nc in enumerate(writers):
        try:
            # a table of that name is read by no published partition: left by a rebalance that
            # failed after the nodes committed
            nc.execute(sql.SQL("drop table if exists raster.{}").format(
                sql.Identifier(move.new_table)))
            nc.execute(sql.SQL(NODE_TABLE).format(table=sql.Identifier(move.new_table),
                                                  cid=sql.Literal(cid)))
            _store_like(nc, move.new_table, storage)
        except psycopg.Error as exc:
            raise NodeError(f"{nodes[k].label()} failed during the rebalance, nothing was "
                            f"changed: {str(exc).strip()}") from exc
    n = len(nodes)
    old_count, old_sum = 0, 0
    for srv, table in move.sources:
        src = conn if srv is None else readers[srv]
        failing: list[int] = []  # the node whose COPY failed, if one did
        try:
            c, s = src.execute(sql.SQL(CHECKSUM).format(sql.Identifier(table))).fetchone()
            old_count, old_sum = old_count + c, old_sum + int(s)
            rows = src.execute(sql.SQL("select distinct tile_y from raster.{}").format(
                sql.Identifier(table))).fetchall()
            # the node of every tile row, as the coordinator's new partition routes it
            routes = dict(conn.execute(
                "select ty, r from unnest(%s::integer[]) ty, generate_series(0, %s - 1) r "
                "where satisfies_hash_partition(%s::regclass::oid, %s, r, ty)",
                ([r[0] for r in rows], n, f"raster.{nxt}", n)).fetchall())
            with ExitStack() as stack:
                copies: dict[int, object] = {}

                def finish(k: int, cm, *exc_info, failing: list[int] = failing) -> bool | None:
                    try:
                        return cm.__exit__(*exc_info)
                    except psycopg.Error:
                        failing.append(k)
                        raise

                with src.cursor().copy(sql.SQL(
                        "copy (select catalog_id, tile_x, tile_y, rast from raster.{}) "
                        "to stdout").format(sql.Identifier(table))) as out:
                    for row in out:
                        line = bytes(row)
                        k = routes[int(line.split(b"\t", 3)[2])]
                        try:
                            if k not in copies:
                                cm = writers[k].cursor().copy(sql.SQL(
                                    "copy raster.{} (catalog_id, tile_x, tile_y, rast) from "
                                    "stdin").format(sql.Identifier(move.new_table)))
                                copies[k] = cm.__enter__()
                                stack.push(lambda *e, k=k, cm=cm: finish(k, cm, *e))
                            copies[k].write(line)
                        except psycopg.Error:
                            failing.append(k)
                            raise
        except psycopg.Error as exc:
            where = (nodes[failing[0]].label() if failing else "the coordinator"
                     if srv is None else next((x.label() for x in (*nodes, *others)
                                               if x.server == srv), srv))
            raise NodeError(f"{where} failed while catalog entry {cid} was copied, nothing was "
                            f"changed: {str(exc).strip()}") from exc
    new_count, new_sum = 0, 0
    for k, nc in enumerate(writers):
        try:
            c, s = nc.execute(sql.SQL(CHECKSUM).format(sql.Identifier(move.new_table))
                              ).fetchone()
            if c:
                nc.execute("select addrasterconstraints('raster', %s, 'rast', true, true, "
                           "true, true, true, true, false, true, true, true, true, false)",
                           (move.new_table,))
            nc.execute(sql.SQL("analyze raster.{}").format(sql.Identifier(move.new_table)))
        except psycopg.Error as exc:
            raise NodeError(f"{nodes[k].label()} failed during the rebalance, nothing was "
                            f"changed: {str(exc).strip()}") from exc
        new_count, new_sum = new_count + c, new_sum + int(s)
    if (new_count, new_sum) != (old_count, old_sum):
        raise NodeError(f"catalog entry {cid}: the new layout holds {new_count} tiles "
                        f"(checksum {new_sum}), the old {old_count} ({old_sum}); nothing was "
                        "changed")
    move.count = new_count


def _copy_home(conn: psycopg.Connection, move: _Move,
               readers: dict[str, psycopg.Connection], drained: Node) -> None:
    """Copy one entry's tiles from the last data node into a local table of the coordinator
    (raster.tiles_<id>_next, in the coordinator's transaction, stored as the node stored them)
    and verify count and checksum against the node's tables."""
    cid = move.cid
    nxt = sql.Identifier(f"tiles_{cid}_next")
    owner = conn.execute("select tableowner from pg_tables where schemaname = 'raster' and "
                         "tablename = 'tiles'").fetchone()[0]
    conn.execute(sql.SQL("create table raster.{} (like raster.tiles including defaults, "
                         "primary key (catalog_id, tile_x, tile_y), check (catalog_id = {}))"
                         ).format(nxt, sql.Literal(cid)))
    _store_like(conn, f"tiles_{cid}_next",
                _rast_storage(readers[move.sources[0][0]], move.sources[0][1]))
    conn.execute(sql.SQL("alter table raster.{} owner to {}").format(nxt, sql.Identifier(owner)))
    conn.execute(sql.SQL("grant select, insert, delete on raster.{} to ecorest_etl").format(nxt))
    conn.execute(sql.SQL("grant select on raster.{} to ecorest_analyst").format(nxt))
    old_count, old_sum = 0, 0
    try:
        for srv, table in move.sources:
            src = readers[srv]
            c, s = src.execute(sql.SQL(CHECKSUM).format(sql.Identifier(table))).fetchone()
            old_count, old_sum = old_count + c, old_sum + int(s)
            with src.cursor().copy(sql.SQL("copy (select catalog_id, tile_x, tile_y, rast from "
                                           "raster.{}) to stdout").format(
                                               sql.Identifier(table))) as out, \
                    conn.cursor().copy(sql.SQL("copy raster.{} (catalog_id, tile_x, tile_y, "
                                               "rast) from stdin").format(nxt)) as into:
                for row in out:
                    into.write(row)
    except psycopg.Error as exc:
        raise NodeError(f"{drained.label()} failed while catalog entry {cid} was copied to the "
                        f"coordinator, nothing was changed: {str(exc).strip()}") from exc
    c, s = conn.execute(sql.SQL(CHECKSUM).format(nxt)).fetchone()
    if (c, int(s)) != (old_count, old_sum):
        raise NodeError(f"catalog entry {cid}: the coordinator's copy holds {c} tiles "
                        f"(checksum {s}), the node's {old_count} ({old_sum}); nothing was "
                        "changed")
    conn.execute(sql.SQL("analyze raster.{}").format(nxt))
    move.count = c


def _flip(conn: psycopg.Connection, move: _Move) -> None:
    """Replace the entry's partition by the new one (in the coordinator's transaction)."""
    cid = move.cid
    conn.execute(sql.SQL("drop table raster.{}").format(sql.Identifier(f"tiles_{cid}")))
    conn.execute(sql.SQL("alter table raster.{} rename to {}").format(
        sql.Identifier(f"tiles_{cid}_next"), sql.Identifier(f"tiles_{cid}")))
    for (child,) in conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = %s::regclass", (f"raster.tiles_{cid}",)).fetchall():
        conn.execute(sql.SQL("alter foreign table raster.{} rename to {}").format(
            sql.Identifier(child), sql.Identifier(child.replace("_next_", "_", 1))))
    conn.execute("select raster.attach_tile_table(%s)", (cid,))
    if conn.execute("select relkind = 'r' from pg_class where oid = %s::regclass",
                    (f"raster.tiles_{cid}",)).fetchone()[0]:
        conn.execute("select raster.constrain_tile_partition(%s)", (cid,))  # a local table
