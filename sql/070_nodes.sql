-- Data nodes (etl/nodes.py, docs/ARCHITECTURE.md "Scale-out"): raster tiles kept on
-- other PostgreSQL servers, read through postgres_fdw foreign tables. The node registry is the
-- set of foreign servers named ecorest_node_<name> (pg_foreign_server; `ecorest db nodes` lists
-- them); `ecorest db add-node` creates them (and the postgres_fdw and dblink extensions) as the
-- administrator. Nothing here is used on a single server.

drop view if exists etl.nodes;  -- an earlier listing of the nodes (now `ecorest db nodes`)

-- Refuses (naming the caller p_fn) any of p_servers that is not a registered data node (a
-- foreign server named ecorest_node_*).
create or replace function raster.check_node_servers(p_fn text, p_servers text[])
returns void
language plpgsql stable as $$
declare
  srv text;
begin
  foreach srv in array coalesce(p_servers, '{}') loop
    if srv not like 'ecorest\_node\_%'
       or not exists (select from pg_foreign_server where srvname = srv) then
      raise exception '%: % is not a registered data node', p_fn, srv;
    end if;
  end loop;
end $$;

-- The partition of one catalog entry whose tiles live on data nodes: partitioned by hash of
-- tile_y, one foreign table per node (raster.tiles_<id>_<k> reads raster.tiles_<id> on node k).
-- Created in the load's transaction and attached by raster.attach_tile_table when it ends.
drop function if exists raster.create_node_tile_table(bigint, text[]);
create or replace function raster.create_node_tile_table(p_catalog_id bigint, p_servers text[],
                                                         p_node_table text default null,
                                                         p_part text default null)
returns regclass
language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  part text := coalesce(p_part, format('tiles_%s', p_catalog_id));
  node_table text := coalesce(p_node_table, format('tiles_%s', p_catalog_id));
  owner name := (select tableowner from pg_tables
                 where schemaname = 'raster' and tablename = 'tiles');
  n integer := cardinality(p_servers);
  k integer;
begin
  if n is null or n < 1 then
    raise exception 'raster.create_node_tile_table: no data node given';
  end if;
  perform raster.check_node_servers('raster.create_node_tile_table', p_servers);
  if to_regclass(format('raster.%I', part)) is null then
    execute format('create table raster.%I (like raster.tiles including defaults, '
                   'check (catalog_id = %s)) partition by hash (tile_y)', part, p_catalog_id);
    for k in 1 .. n loop
      execute format('create foreign table raster.%I partition of raster.%I '
                     'for values with (modulus %s, remainder %s) server %I '
                     'options (schema_name %L, table_name %L)',
                     format('%s_%s', part, k - 1), part, n, k - 1, p_servers[k], 'raster',
                     node_table);
      execute format('alter foreign table raster.%I owner to %I', format('%s_%s', part, k - 1),
                     owner);
      execute format('grant select on raster.%I to ecorest_etl, ecorest_analyst',
                     format('%s_%s', part, k - 1));
    end loop;
    execute format('alter table raster.%I owner to %I', part, owner);
    execute format('grant select, insert, delete on raster.%I to ecorest_etl', part);
    execute format('grant select on raster.%I to ecorest_analyst', part);
  end if;
  return format('raster.%I', part)::regclass;
end $$;
comment on function raster.create_node_tile_table(bigint, text[], text, text) is
  'Create the partition of one catalog entry whose tiles live on data nodes: hash of tile_y, '
  'one postgres_fdw foreign table per node (reading node table p_node_table, default '
  'tiles_<id>; p_part: the partition''s name, default tiles_<id>)';
revoke all on function raster.create_node_tile_table(bigint, text[], text, text) from public;
do $$ begin
  if exists (select 1 from pg_roles where rolname = 'ecorest_etl') then
    grant execute on function raster.create_node_tile_table(bigint, text[], text, text)
      to ecorest_etl;
  end if;
end $$;

-- The dblink connection of this session to data node p_server, kept open between calls of the
-- node-side kernels (a login and a new node backend that loads PL/Python and numpy cost more
-- than the counts of a few million pixels; measured in docs/ARCHITECTURE.md "Scale-out"). One
-- connection per node and role: named after the oids of the foreign server and of the current
-- role, and opened through that role's user mapping, so a session that changes its role (SET
-- ROLE) never reads a node as another login, and a node removed and registered again under its
-- name (another server) gets a connection of its own. A connection kept open is checked before use (one round trip):
-- one still busy (its call was cancelled) is cancelled on the node and closed, one that broke
-- (the node restarted, the network dropped it) is closed, and either is opened again once; a
-- node that refuses the new login raises dblink's error, which the callers report naming the
-- nodes. Connections end with the session. Returns the connection's name.
create or replace function raster.node_connection(p_server text)
returns text
language plpgsql as $$
declare
  conn text := format('ecorest_node_%s_%s',
                      (select oid from pg_foreign_server where srvname = p_server),
                      (select oid from pg_roles where rolname = current_user));
  quiet text := current_setting('client_min_messages');
  alive boolean := false;
begin
  if conn = any(coalesce(public.dblink_get_connections(), '{}')) then
    if public.dblink_is_busy(conn) = 0 then
      -- dblink reports a failed command as a notice: not shown, the connection is replaced
      perform set_config('client_min_messages', 'error', true);
      alive := (select count(*) = 1 from public.dblink(conn, 'select 1', false)
                                            as t(one integer));
      perform set_config('client_min_messages', quiet, true);
    else
      perform public.dblink_cancel_query(conn);  -- left running by a cancelled call
    end if;
    if alive then
      return conn;
    end if;
    perform public.dblink_disconnect(conn);
  end if;
  perform public.dblink_connect(conn, p_server);
  return conn;
end $$;
comment on function raster.node_connection(text) is
  'Name of this session''s dblink connection to a data node (foreign server), kept open '
  'between calls of the node-side kernels: checked, and opened (again) when missing or broken';

-- After a node-side call failed: the data nodes it failed on — the one it was connecting to,
-- or those whose connection holds an error — as text for the caller's message. The call's
-- connections are closed (their state is unknown; the next call opens new ones), a query still
-- running on a node cancelled first.
create or replace function raster.node_call_failed(p_servers text[], p_conns text[],
                                                   p_current text)
returns text
language plpgsql as $$
declare
  failed text[] := '{}';
  k integer;
begin
  for k in 1 .. coalesce(cardinality(p_conns), 0) loop
    begin
      if public.dblink_error_message(p_conns[k]) <> 'OK' then
        failed := failed || p_servers[k];
      end if;
      if public.dblink_is_busy(p_conns[k]) = 1 then
        perform public.dblink_cancel_query(p_conns[k]);
      end if;
    exception when others then
      null;  -- a broken connection: closed below all the same
    end;
    begin
      perform public.dblink_disconnect(p_conns[k]);
    exception when others then
      null;
    end;
  end loop;
  if p_current is not null and not p_current = any(failed) then
    failed := failed || p_current;
  end if;
  if cardinality(failed) = 0 then
    return format('the data nodes (%s)', array_to_string(p_servers, ', '));
  end if;
  return format('data node %s (of %s)', array_to_string(failed, ', '),
                array_to_string(p_servers, ', '));
end $$;
comment on function raster.node_call_failed(text[], text[], text) is
  'The data nodes a failed node-side call failed on (for its message); closes its connections';

-- Wait until the node queries sent on the connections p_conns have their results. dblink's
-- get_result waits inside libpq, where a cancel of this statement (statement_timeout,
-- pg_cancel_backend, Ctrl-C) is seen only once every node has answered; here the wait is in
-- short sleeps, which a cancel interrupts, so that the caller can cancel the node queries
-- (raster.node_call_failed) and return at once.
create or replace function raster.node_wait(p_conns text[]) returns void
language plpgsql as $$
begin
  -- (a connection that broke has an error message and no result to wait for)
  while exists (select 1 from unnest(p_conns) as c(name)
                where public.dblink_is_busy(c.name) = 1
                  and public.dblink_error_message(c.name) = 'OK') loop
    perform pg_sleep(0.005);
  end loop;
end $$;
comment on function raster.node_wait(text[]) is
  'Waits, interruptibly, until the queries sent on these dblink connections have their results';

-- Node-side kernels: the cross-tab of two catalog entries (v1 in a, v2 in b, pixels), computed
-- by raster.node_crosstab on every node over its own tiles (tiles of one tile key lie on the
-- same node for every catalog entry: the same hash of tile_y), all nodes at once (dblink
-- asynchronous queries through the nodes' foreign servers and the caller's user mapping); only
-- the per-node counts travel. A node that fails makes the whole call fail, naming it.
create or replace function raster.np_node_crosstab(p_a bigint, p_b bigint)
returns table (v1 integer, v2 integer, pixels bigint)
language plpgsql as $$
declare
  servers text[] := raster.node_placement(array[p_a, p_b]);
begin
  if servers is null then
    -- tiles on this server (or the two not co-located): the same counts from the local kernel
    return query
      select c.v1, c.v2, sum(c.pixels)::bigint
        from raster.tiles a join raster.tiles b using (tile_x, tile_y),
             lateral raster.crosstab(null::bytea, a.rast::bytea, b.rast::bytea) c
       where a.catalog_id = p_a and b.catalog_id = p_b
       group by 1, 2 order by 1, 2;
    return;
  end if;
  return query
    select r.v1, r.v2, sum(r.pixels)::bigint
      from raster.node_call(
             format('node-side cross-tab of catalog entries %s and %s', p_a, p_b), servers,
             array(select format('select v1, v2, pixels from raster.node_crosstab(%L, %L)',
                                 (raster.node_tables(array[p_a], s))[1],
                                 (raster.node_tables(array[p_b], s))[1])
                     from unnest(servers) with ordinality as u(s, n) order by n)) as j,
           lateral jsonb_to_recordset(j.rows) as r(v1 integer, v2 integer, pixels bigint)
     group by 1, 2 order by 1, 2;
end $$;
comment on function raster.np_node_crosstab(bigint, bigint) is
  'Pixel counts per (value in a, value in b) of two catalog entries, computed on each data '
  'node over its own tiles and summed here (on one server: the local raster.crosstab)';

-- The data nodes of a partitioned raster table (a catalog entry's raster.tiles_<id>, or a
-- derived raster.derived_<kind>) whose partitions all lie there: split by hash of tile_y into
-- foreign tables only, one per remainder of a modulus equal to their number, each on a data
-- node. Returns the servers in remainder order; null otherwise (a local partition, or none).
create or replace function raster.node_layout(p_parent regclass)
returns text[]
language sql stable as $$
  with parts as (
    select c.relkind, fs.srvname::text as srvname,
           substring(pg_get_expr(c.relpartbound, c.oid) from 'modulus (\d+)')::int as modulus,
           substring(pg_get_expr(c.relpartbound, c.oid) from 'remainder (\d+)')::int
             as remainder
      from pg_inherits i
      join pg_class c on c.oid = i.inhrelid
      left join pg_foreign_table ft on ft.ftrelid = c.oid
      left join pg_foreign_server fs on fs.oid = ft.ftserver
     where i.inhparent = p_parent
  )
  select case when count(*) > 0
                   and bool_and(relkind = 'f' and srvname like 'ecorest\_node\_%'
                                and modulus = (select count(*) from parts))
                   and count(distinct remainder) = count(*)
              then array_agg(srvname order by remainder) end
    from parts
$$;
comment on function raster.node_layout(regclass) is
  'The data nodes (foreign servers, in hash-remainder order) of a partitioned raster table '
  'whose partitions are all foreign tables on data nodes; null otherwise';

-- The data nodes of a set of catalog entries when their tiles are co-located there: every
-- entry's partition lies on the data nodes (raster.node_layout) with the same server at every
-- remainder, so a tile key lies on one node for all of them and a node-side kernel joins them
-- on that node's own tiles. Returns the servers in remainder order; null when any entry is a
-- local partition (one server, or loaded before the first node) or the layouts differ (loaded
-- before and after a node was added, not rebalanced since): callers then compute on this
-- server through postgres_fdw (correct; the tiles travel).
create or replace function raster.node_placement(p_ids bigint[])
returns text[]
language plpgsql stable as $$
declare
  ref text[];
  cur text[];
  id bigint;
begin
  if p_ids is null or cardinality(p_ids) = 0 then
    return null;
  end if;
  foreach id in array p_ids loop
    cur := raster.node_layout(to_regclass(format('raster.tiles_%s', id)));
    if cur is null then
      return null;
    end if;
    if ref is null then
      ref := cur;
    elsif ref is distinct from cur then
      return null;
    end if;
  end loop;
  return ref;
end $$;
comment on function raster.node_placement(bigint[]) is
  'The data nodes (foreign servers, in hash-remainder order) holding the tiles of all the given '
  'catalog entries co-located; null when they are not all on the same nodes in the same layout';

-- The data nodes of catalog entries p_ids that a node-side call p_fn needs co-located
-- (raster.node_placement); the call fails, naming the entries, when they are not.
create or replace function raster.colocated_nodes(p_fn text, p_ids bigint[])
returns text[]
language plpgsql stable as $$
declare
  servers text[] := raster.node_placement(p_ids);
begin
  if servers is null then
    raise exception '%: the catalog entries % are not co-located on data nodes', p_fn,
      array_to_string(p_ids, ', ');
  end if;
  return servers;
end $$;
comment on function raster.colocated_nodes(text, bigint[]) is
  'The data nodes holding the tiles of the given catalog entries co-located; an error if none';

-- The name of the table on data node p_server that the foreign partition of raster.<p_parent>
-- for that node reads; null when there is none.
create or replace function raster.node_table_of(p_parent text, p_server text)
returns text
language sql stable as $$
  select (select substring(o from 12) from unnest(ft.ftoptions) as o where o like 'table_name=%')
    from pg_inherits i
    join pg_foreign_table ft on ft.ftrelid = i.inhrelid
    join pg_foreign_server fs on fs.oid = ft.ftserver and fs.srvname = p_server
   where i.inhparent = to_regclass(format('raster.%I', p_parent))
   limit 1
$$;
comment on function raster.node_table_of(text, text) is
  'The node table that the foreign partition of a partitioned raster table reads on one node';

-- The names, on data node p_server, of the tile tables of catalog entries p_ids (in their
-- order): the table_name option of their foreign tables there (raster.tiles_N, or
-- raster.tiles_N_rK after a rebalance).
create or replace function raster.node_tables(p_ids bigint[], p_server text)
returns text[]
language sql stable as $$
  select array_agg(raster.node_table_of(format('tiles_%s', e.id), p_server) order by e.n)
    from unnest(p_ids) with ordinality as e(id, n)
$$;
comment on function raster.node_tables(bigint[], text) is
  'Names of the node tables holding the tiles of catalog entries on one data node';

-- Zone tiles on the data nodes. A node-side call that counts by zone reads the zones as the
-- node keeps them: the coordinator's registry.zone_tiles (each zone set burnt onto the region
-- grid once, when it is loaded, by the zone loader) at the tile positions the node holds. Before
-- such a call, every node of p_servers (in hash-remainder order of p_parent, the partitioned
-- table the call reads) that does not keep the current version of the sets p_sets of region
-- p_region for this layout (raster.node_zone_versions) gets them, 64 tiles a statement through
-- the caller's connection to it; a node keeps them for the calls and runs after (a zone set
-- travels once per load and layout, not once per call, and no node burns polygons). A version
-- is the set's load; a node keeps one version of a set. One session copies a region's zones
-- at a time (an advisory lock held during the copy, not to the end of the transaction).
-- Returns the sets' versions, which the node-side call names (a node that kept another
-- version by then refuses the call). A set without zone tiles (loaded before the loader kept
-- them) is refused, naming it.
create or replace function raster.node_sync_zones(p_parent regclass, p_servers text[],
                                                  p_region integer, p_sets text[])
returns text[]
language plpgsql as $$
declare
  n integer := cardinality(p_servers);
  versions text[] := '{}';
  ver text;
  zs text;
  kept jsonb;
  what text;
  k integer;
  r record;
  xs integer[];
  ys integer[];
  hex text[];
  sent integer;
begin
  perform pg_advisory_lock(hashtext('ecorest node zones'), p_region);
  begin
    foreach zs in array coalesce(p_sets, '{}') loop
      what := format('copying zone set %s of region %s to the data nodes', zs, p_region);
      select format('load %s of %s', l.load_id, l.started_at) into ver
        from etl.loads l
       where l.load_id = (select max(z.load_id) from registry.zone_tiles z
                           where z.region_id = p_region and z.zone_set = zs);
      if ver is null then
        raise exception 'zone set % of region % has no tiles on the region grid (it was loaded '
          'before ecorest kept them): load it again to count it on data nodes', zs, p_region;
      end if;
      versions := versions || ver;
      select jsonb_object_agg(j.server, j.rows) into kept
        from raster.node_call(what, p_servers, array_fill(format(
               'select version, modulus, remainder from raster.node_zone_versions(%s) '
               'where zone_set = %L', p_region, zs), array[n])) as j;
      for k in 1 .. n loop
        continue when kept -> p_servers[k] @> jsonb_build_array(jsonb_build_object(
                        'version', ver, 'modulus', n, 'remainder', k - 1));
        perform raster.node_call(what, array[p_servers[k]], array[format(
                  'select raster.node_zones_begin(%s, %L)', p_region, zs)]);
        sent := 0;
        xs := '{}'; ys := '{}'; hex := '{}';
        for r in select z.tile_x, z.tile_y, encode(z.rast::bytea, 'hex') as h
                   from registry.zone_tiles z
                  where z.region_id = p_region and z.zone_set = zs
                    and satisfies_hash_partition(p_parent::oid, n, k - 1, z.tile_y) loop
          xs := xs || r.tile_x; ys := ys || r.tile_y; hex := hex || r.h;
          if cardinality(xs) = 64 then
            perform raster.node_call(what, array[p_servers[k]], array[format(
                      'select raster.node_zones_put(%s, %L, %L::integer[], %L::integer[], '
                      '%L::text[])', p_region, zs, xs, ys, hex)]);
            sent := sent + 64;
            xs := '{}'; ys := '{}'; hex := '{}';
          end if;
        end loop;
        if cardinality(xs) > 0 then
          perform raster.node_call(what, array[p_servers[k]], array[format(
                    'select raster.node_zones_put(%s, %L, %L::integer[], %L::integer[], '
                    '%L::text[])', p_region, zs, xs, ys, hex)]);
          sent := sent + cardinality(xs);
        end if;
        perform raster.node_call(what, array[p_servers[k]], array[format(
                  'select raster.node_zones_done(%s, %L, %L, %s, %s, %s)', p_region, zs, ver, n,
                  k - 1, sent)]);
        raise log '%: % tiles to %', what, sent, p_servers[k];
      end loop;
    end loop;
  exception when query_canceled or others then
    -- (others does not catch a cancel)
    perform pg_advisory_unlock(hashtext('ecorest node zones'), p_region);
    raise;
  end;
  perform pg_advisory_unlock(hashtext('ecorest node zones'), p_region);
  return versions;
end $$;
comment on function raster.node_sync_zones(regclass, text[], integer, text[]) is
  'Copies the zone tiles of zone sets to the data nodes that do not keep their current version '
  'for the layout of a partitioned raster table; returns the versions';

-- Shape sets (codes and polygons: raster.project_shapes, the projects with their rings or
-- belts) copied to the data nodes p_servers that do not keep them yet (raster.node_shapes_begin,
-- _put in batches of about 4 MB, _done on each node; before them the definition of their grid
-- CRS when PostGIS does not know it: raster.node_put_crs), so that the node-side calls that burn
-- them name the set instead of carrying every polygon in their text, and a run whose projects
-- did not change sends none. The set's name is a digest of its codes and polygons. One session
-- copies a set at a time (an advisory lock held during the copy). Returns the set's name.
create or replace function raster.node_sync_shapes(p_what text, p_servers text[],
                                                   p_codes integer[], p_geoms geometry[])
returns text
language plpgsql as $$
declare
  n integer := cardinality(p_servers);
  version text;
  kept jsonb;
  lock_key integer;
  k integer;
  r record;
  ks integer[];
  codes integer[];
  geoms geometry[];
  bytes bigint;
begin
  if cardinality(p_codes) is distinct from cardinality(p_geoms) then
    raise exception 'raster.node_sync_shapes: one polygon per code';
  end if;
  select 'shapes ' || md5(string_agg(u.c::text || ':' || md5(st_asewkb(u.g)), ',' order by u.k))
    into version
    from unnest(p_codes, p_geoms) with ordinality as u(c, g, k);
  lock_key := hashtext(version);
  perform pg_advisory_lock(hashtext('ecorest node shapes'), lock_key);
  begin
    select jsonb_object_agg(j.server, j.rows -> 0 -> 'kept') into kept
      from raster.node_call(p_what, p_servers, array_fill(
             format('select raster.node_shapes_kept(%L) as kept', version), array[n])) as j;
    for k in 1 .. n loop
      continue when (kept -> p_servers[k])::boolean;
      -- the grid CRSs of the shapes that PostGIS does not know (registry.register_crs) first:
      -- the node needs their definitions to burn the shapes onto its tiles
      for r in select s.srid, s.srtext, s.proj4text from public.spatial_ref_sys s
                where s.auth_name = 'ECOREST' and s.srid in (
                        select distinct st_srid(g) from unnest(p_geoms) as g)
                order by s.srid loop
        perform raster.node_call(p_what, array[p_servers[k]], array[format(
                  'select raster.node_put_crs(%s, %L, %L)', r.srid, r.srtext, r.proj4text)]);
      end loop;
      perform raster.node_call(p_what, array[p_servers[k]], array[format(
                'select raster.node_shapes_begin(%L)', version)]);
      ks := '{}'; codes := '{}'; geoms := '{}'; bytes := 0;
      for r in select u.k, u.c, u.g, st_memsize(u.g) as size
                 from unnest(p_codes, p_geoms) with ordinality as u(c, g, k) order by u.k loop
        ks := ks || r.k::integer; codes := codes || r.c; geoms := geoms || r.g;
        bytes := bytes + r.size;
        if bytes >= 4194304 or r.k = cardinality(p_codes) then
          perform raster.node_call(p_what, array[p_servers[k]], array[format(
                    'select raster.node_shapes_put(%L, %L::integer[], %L::integer[], '
                    '%L::geometry[])', version, ks, codes, geoms)]);
          ks := '{}'; codes := '{}'; geoms := '{}'; bytes := 0;
        end if;
      end loop;
      perform raster.node_call(p_what, array[p_servers[k]], array[format(
                'select raster.node_shapes_done(%L, %s)', version, cardinality(p_codes))]);
      raise log '%: % shapes to %', p_what, cardinality(p_codes), p_servers[k];
    end loop;
  exception when query_canceled or others then
    -- (others does not catch a cancel)
    perform pg_advisory_unlock(hashtext('ecorest node shapes'), lock_key);
    raise;
  end;
  perform pg_advisory_unlock(hashtext('ecorest node shapes'), lock_key);
  return version;
end $$;
comment on function raster.node_sync_shapes(text, text[], integer[], geometry[]) is
  'Copies a set of shapes (codes, polygons) to the data nodes that do not keep it; returns its '
  'name';

-- Land-cover trajectories (the cross-tab behind int_landcover_trajectories: pixels per zone
-- and class at every epoch) counted where the tiles are. p_ids: the land-cover catalog entries
-- in time order; p_zone_set null: the whole region (zone 0), else the region's zones of that
-- set, burnt onto the tiles of the first epoch (zone 0, outside every zone, left out).
-- With the tiles co-located on data nodes (raster.node_placement) each node runs
-- raster.node_trajectories over its own tiles, all nodes at once (dblink asynchronous queries,
-- the caller's user mapping), and only the per-node counts travel; the zones are the zone
-- tiles the nodes keep (raster.node_sync_zones). Otherwise the same counts on this server, as the model computes
-- them. A node that fails makes the call fail, naming the nodes.
create or replace function raster.np_node_trajectories(p_ids bigint[], p_zone_set text)
returns table (zone_id integer, classes integer[], pixels bigint)
language plpgsql as $$
declare
  servers text[] := raster.node_placement(p_ids);
  region integer := (select c.region_id from raster.catalog c where c.catalog_id = p_ids[1]);
  codes integer[];
  geoms geometry[];
  versions text[];
  t0 timestamptz := clock_timestamp();
begin
  if servers is null then
    -- the tiles on this server (or not co-located): the counts of the local kernel, for the
    -- whole region (no zones) or per zone of the set (zones burnt on the first entry's tiles)
    if p_zone_set is not null then
      select array_agg(z.zone_id::integer order by z.zone_id),
             array_agg(st_transform(z.geom, r.srid) order by z.zone_id)
        into codes, geoms
        from registry.regions r
        join registry.zones z on z.region_id = r.region_id and z.zone_set = p_zone_set
       where r.region_id = region;
      if codes is null then
        return;
      end if;
    end if;
    return query
      with stacks as (
        select p.tile_x, p.tile_y, array_agg(t.rast::bytea order by e.no) as tiles
          from (select distinct t.tile_x, t.tile_y from raster.tiles t
                 where t.catalog_id = any(p_ids)) as p
         cross join unnest(p_ids) with ordinality as e(catalog_id, no)
          left join raster.tiles t on t.catalog_id = e.catalog_id
                and t.tile_x = p.tile_x and t.tile_y = p.tile_y
         group by p.tile_x, p.tile_y),
      zones as (
        select zt.tile_x, zt.tile_y, zt.rast::bytea as rast
          from raster.burn_tiles(p_ids[1], codes, geoms) zt
         where p_zone_set is not null)
      select x.zone_id, x.classes, sum(x.pixels)::bigint
        from stacks st
        left join zones z on z.tile_x = st.tile_x and z.tile_y = st.tile_y
       cross join lateral raster.trajectories(z.rast, st.tiles) x
       where p_zone_set is null or (z.rast is not null and x.zone_id <> 0)
       group by 1, 2;
    return;
  end if;
  if p_zone_set is not null then
    if not exists (select 1 from registry.zones z
                    where z.region_id = region and z.zone_set = p_zone_set) then
      return;
    end if;
    versions := raster.node_sync_zones(format('raster.tiles_%s', p_ids[1])::regclass, servers,
                                       region, array[p_zone_set]);
  end if;
  return query
    select * from raster.node_trajectory_sums(
      format('node-side trajectories of catalog entries %s', array_to_string(p_ids, ', ')),
      servers,
      array(select format('select zone_id, classes, pixels from '
                          'raster.node_trajectories(%L::text[], %s, %L, %L)',
                          raster.node_tables(p_ids, s), region, p_zone_set, versions[1])
              from unnest(servers) with ordinality as u(s, n) order by n));
  raise debug 'raster.np_node_trajectories(%, %): % nodes, % ms', p_ids, p_zone_set,
    cardinality(servers), round(extract(epoch from clock_timestamp() - t0) * 1000);
end $$;
comment on function raster.np_node_trajectories(bigint[], text) is
  'Pixels per (zone, class at every epoch) of land-cover catalog entries, counted on each data '
  'node over its own tiles and summed here (on one server: the local raster.trajectories)';

-- Restoration projects counted where the tiles are: pixels per (project or baseline ring, class
-- at every epoch) of the land-cover catalog entries p_ids (time order), co-located on data
-- nodes (raster.node_placement). The projects and rings (raster.project_shapes) are copied to
-- the nodes that do not keep them yet (raster.node_sync_shapes); each node burns them onto its
-- own tiles of the first entry as one server does (raster.burn_table) and counts there; only
-- the counts come back, summed over the nodes.
-- Zone ids as raster.project_tiles gives them (2 x project_version_id, 2 x id + 1 for a ring).
create or replace function raster.np_node_project_trajectories(p_ids bigint[],
                                                               p_ring_m double precision)
returns table (zone_id integer, classes integer[], pixels bigint)
language plpgsql as $$
declare
  servers text[] := raster.colocated_nodes('raster.np_node_project_trajectories', p_ids);
  codes integer[];
  geoms geometry[];
  shapes text;
begin
  select s.codes, s.geoms into codes, geoms
    from raster.project_shapes(p_ids[1], p_ring_m) as s;
  if codes is null then
    return;
  end if;
  shapes := raster.node_sync_shapes(
    format('copying the projects of catalog entry %s to the data nodes', p_ids[1]), servers,
    codes, geoms);
  return query
    select * from raster.node_trajectory_sums(
      format('node-side project trajectories of catalog entries %s',
             array_to_string(p_ids, ', ')),
      servers,
      array(select format('select zone_id, classes, pixels from '
                          'raster.node_shape_trajectories(%L::text[], %L)',
                          raster.node_tables(p_ids, u.s), shapes)
              from unnest(servers) with ordinality as u(s, n) order by u.n));
end $$;
comment on function raster.np_node_project_trajectories(bigint[], double precision) is
  'Pixels per (project or baseline ring, class at every epoch), counted on each data node '
  'over its own tiles and summed here';

-- The pixels of the benefit against matched controls (raster.np_benefit_pixels, the pass of
-- int_benefit_pixels) taken where the tiles are: the observed land-cover entries p_lc and the
-- signal entries p_sig (time order, with their years, scales and offsets), the DEM p_dem
-- (null: none) and the slope the nodes keep (raster.derived_slope, computed from that DEM),
-- co-located on data nodes. The projects and their leakage belts (raster.project_shapes with
-- p_belt_m) are copied to the nodes that do not keep them yet (raster.node_sync_shapes), which
-- burn them onto their own tiles of the first land-cover entry; each node returns the pixels
-- of its projects, belts and sample (p_step), with their place on the grid.
create or replace function raster.np_node_benefit_pixels(
    p_lc bigint[], p_sig bigint[], p_sig_years integer[], p_scales double precision[],
    p_offsets double precision[], p_dem bigint, p_belt_m double precision, p_step integer,
    p_reduce text)
returns table (zone_id integer, in_sample boolean, classes integer[],
               signal double precision[], elevation double precision,
               slope_deg double precision, grid_row bigint, grid_col bigint)
language plpgsql as $$
declare
  ids bigint[] := p_lc || coalesce(p_sig, '{}') || coalesce(array[p_dem], '{}');
  servers text[] := raster.colocated_nodes('raster.np_node_benefit_pixels', ids);
  codes integer[];
  geoms geometry[];
  shapes text;
begin
  if p_dem is not null and raster.node_layout(to_regclass('raster.derived_slope'))
                           is distinct from servers then
    raise exception 'raster.np_node_benefit_pixels: the slope of DEM entry % is not kept on '
      'the data nodes of its tiles', p_dem;
  end if;
  select s.codes, s.geoms into codes, geoms
    from raster.project_shapes(p_lc[1], p_belt_m) as s;
  if codes is null then
    return;
  end if;
  shapes := raster.node_sync_shapes(
    format('copying the projects of catalog entry %s to the data nodes', p_lc[1]), servers,
    codes, geoms);
  return query
    select r.*
      from raster.node_call(
             format('node-side benefit pixels of catalog entries %s',
                    array_to_string(ids, ', ')), servers,
             array(select format(
                     'select * from raster.node_benefit_pixels(%L::text[], %L::text[], '
                     '%L::integer[], %L::double precision[], %L::double precision[], %L, %L, '
                     '%L, %s, %L)',
                     raster.node_tables(p_lc, u.s), coalesce(raster.node_tables(p_sig, u.s), '{}'),
                     coalesce(p_sig_years, '{}'), coalesce(p_scales, '{}'),
                     coalesce(p_offsets, '{}'),
                     case when p_dem is not null
                          then raster.node_table_of(format('tiles_%s', p_dem), u.s) end,
                     case when p_dem is not null
                          then raster.node_table_of('derived_slope', u.s) end,
                     shapes, p_step, p_reduce)
                     from unnest(servers) with ordinality as u(s, n) order by u.n)) as j,
           lateral jsonb_to_recordset(j.rows) as r(zone_id integer, in_sample boolean,
                                                  classes integer[], signal double precision[],
                                                  elevation double precision,
                                                  slope_deg double precision, grid_row bigint,
                                                  grid_col bigint);
end $$;
comment on function raster.np_node_benefit_pixels(bigint[], bigint[], integer[],
                                                  double precision[], double precision[], bigint,
                                                  double precision, integer, text) is
  'Pixels of projects, leakage belts and the control sample taken on each data node over its '
  'own tiles (raster.np_benefit_pixels there)';

-- Vegetation-signal sums (raster.np_signal_sums: the pass of int_signal_sums) computed where
-- the tiles are: p_lc the land-cover and p_sig the signal (NDVI) catalog entries of the run,
-- in time order, co-located on the data nodes (raster.node_placement), with the other
-- arguments of the kernel; zone sets p_sets of region p_region (in the order the kernel's
-- zone_no counts them) as the nodes keep them (raster.node_sync_zones). Each node sums over its
-- own tiles; its rows come back as they are (the caller sums them over the nodes).
create or replace function raster.np_node_signal_sums(
    p_lc bigint[], p_lc_years integer[], p_sig bigint[], p_sig_years integer[],
    p_scales double precision[], p_offsets double precision[], p_reduce text,
    p_codes integer[], p_intercepts double precision[], p_slopes double precision[],
    p_region integer, p_sets text[])
returns table (zone_no integer, zone_id integer, year integer, class_code integer,
               pixels bigint, signal_pixels bigint, signal_sum double precision,
               calibrated_sum double precision)
language plpgsql as $$
declare
  servers text[] := raster.colocated_nodes('raster.np_node_signal_sums', p_lc || p_sig);
  versions text[];
begin
  versions := raster.node_sync_zones(format('raster.tiles_%s', p_lc[1])::regclass, servers,
                                     p_region, p_sets);
  return query
    select r.zone_no, r.zone_id, r.year, r.class_code, r.pixels, r.signal_pixels,
           r.signal_sum, r.calibrated_sum
      from raster.node_call(
             format('node-side vegetation-signal sums of catalog entries %s',
                    array_to_string(p_lc || p_sig, ', ')), servers,
             array(select format(
                     'select * from raster.node_signal_sums(%L::text[], %L::integer[], '
                     '%L::text[], %L::integer[], %L::double precision[], '
                     '%L::double precision[], %L, %L::integer[], %L::double precision[], '
                     '%L::double precision[], %s, %L::text[], %L::text[])',
                     raster.node_tables(p_lc, u.s), p_lc_years, raster.node_tables(p_sig, u.s),
                     p_sig_years, p_scales, p_offsets, p_reduce, p_codes, p_intercepts,
                     p_slopes, p_region, p_sets, versions)
                     from unnest(servers) with ordinality as u(s, n) order by u.n)) as j,
           lateral jsonb_to_recordset(j.rows) as r(zone_no integer, zone_id integer,
                                                  year integer, class_code integer,
                                                  pixels bigint, signal_pixels bigint,
                                                  signal_sum double precision,
                                                  calibrated_sum double precision);
end $$;
comment on function raster.np_node_signal_sums(bigint[], integer[], bigint[], integer[],
                                                double precision[], double precision[], text,
                                                integer[], double precision[],
                                                double precision[], integer, text[]) is
  'Vegetation-signal sums per zone, year and class computed on each data node over its own '
  'tiles; the rows of every node';

-- Derived tiles kept on the data nodes: per-pixel results computed by a node-side kernel over
-- each node's own tiles (the NDVI trend, the slope), written there, and read on the
-- coordinator through a partitioned table raster.derived_<kind> of postgres_fdw foreign
-- tables, laid out as the tiles they come from (hash of tile_y, one foreign table per node).
-- Node tables are named derived_<kind>_<n> (n: the coordinator's transaction); a node keeps
-- the one its coordinator reads and the new one, and drops older ones when it writes the next
-- (raster.node_replace_derived, on the node). Nothing here is used on a single server.

-- Point raster.<p_name> at node tables p_tables (one per node of p_servers, in hash-remainder
-- order): created (tile_x, tile_y, rast; partitioned by hash of tile_y) when missing, its
-- foreign partitions replaced. In the caller's transaction: readers see the old partitions
-- until it commits. Owned like raster.tiles; readable by ecorest_etl (dbt's role) and
-- analysts (whose user mappings read the nodes), not by BI.
create or replace function raster.replace_derived_partitions(p_name text, p_servers text[],
                                                             p_tables text[])
returns regclass
language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  owner name := (select tableowner from pg_tables
                 where schemaname = 'raster' and tablename = 'tiles');
  n integer := cardinality(p_servers);
  part text;
  k integer;
begin
  if p_name !~ '^derived_[a-z_]+$' then
    raise exception 'raster.replace_derived_partitions: % is not a derived tile table', p_name;
  end if;
  if n is null or n < 1 or n <> cardinality(p_tables) then
    raise exception 'raster.replace_derived_partitions: one node table per data node';
  end if;
  perform raster.check_node_servers('raster.replace_derived_partitions', p_servers);
  for k in 1 .. n loop
    if p_tables[k] !~ ('^' || p_name || '_[0-9]+$') then
      raise exception 'raster.replace_derived_partitions: % is not a node table of %',
        p_tables[k], p_name;
    end if;
  end loop;
  if to_regclass(format('raster.%I', p_name)) is null then
    execute format('create table raster.%I (tile_x integer not null, tile_y integer not null, '
                   'rast raster not null) partition by hash (tile_y)', p_name);
    execute format('alter table raster.%I owner to %I', p_name, owner);
    execute format('grant select on raster.%I to ecorest_etl, ecorest_analyst', p_name);
  end if;
  for part in select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
               where i.inhparent = format('raster.%I', p_name)::regclass loop
    execute format('drop foreign table raster.%I', part);
  end loop;
  for k in 1 .. n loop
    part := format('%s_%s', p_name, k - 1);
    -- derived tiles are large (the NDVI trend: 8 float bands, 2 MB a 256-px tile): 16 rows a
    -- fetch rather than the server's 200 keep a reading query's memory bounded
    execute format('create foreign table raster.%I partition of raster.%I '
                   'for values with (modulus %s, remainder %s) server %I '
                   'options (schema_name %L, table_name %L, fetch_size %L)',
                   part, p_name, n, k - 1, p_servers[k], 'raster', p_tables[k], '16');
    execute format('alter foreign table raster.%I owner to %I', part, owner);
    execute format('grant select on raster.%I to ecorest_etl, ecorest_analyst', part);
  end loop;
  return format('raster.%I', p_name)::regclass;
end $$;
comment on function raster.replace_derived_partitions(text, text[], text[]) is
  'Point the derived tile table raster.<name> at new node tables, one per data node';
-- (executable by ecorest_etl, the role of dbt's sessions, as every raster function:
-- sql/900_grants.sql)

-- Run one node-side query per data node, all at once (dblink asynchronous queries through
-- the nodes' foreign servers and the caller's user mapping), and return each node's rows as
-- one jsonb array (callers read them with jsonb_to_recordset), with the node's server.
-- p_what names the work for the error: a node that cannot be reached or fails makes the call fail naming it, the other
-- nodes' queries cancelled and the call's connections closed; a cancelled call cancels its
-- node queries. The connections stay open for the next call (raster.node_connection).
drop function if exists raster.node_call(text, text[], text[]);
create or replace function raster.node_call(p_what text, p_servers text[], p_queries text[])
returns table (server text, rows jsonb)
language plpgsql as $$
declare
  opened text[] := '{}';
  cur_srv text;
  detail text;
  k integer;
begin
  begin
    for k in 1 .. cardinality(p_servers) loop
      cur_srv := p_servers[k];
      opened := opened || raster.node_connection(p_servers[k]);
      if public.dblink_send_query(opened[k], format(
           'select coalesce(jsonb_agg(q), ''[]'') from (%s) q', p_queries[k])) <> 1 then
        raise exception 'could not send the query: %', public.dblink_error_message(opened[k]);
      end if;
    end loop;
    cur_srv := null;
    perform raster.node_wait(opened);
    return query
      select p_servers[c.k], r.rows
        from unnest(opened) with ordinality as c(name, k),
             lateral public.dblink_get_result(c.name) as r(rows jsonb);
  exception when query_canceled then
    perform raster.node_call_failed(p_servers, opened, null);
    raise;
  when others then
    get stacked diagnostics detail = pg_exception_detail;
    raise exception '% failed on %: %', p_what,
      raster.node_call_failed(p_servers, opened, cur_srv),
      sqlerrm || coalesce(' (' || nullif(detail, '') || ')', '');
  end;
end $$;
comment on function raster.node_call(text, text[], text[]) is
  'Runs one query on every data node at once; each node''s rows as one jsonb array';

-- The rows (zone_id, classes, pixels) of one trajectory query per data node (raster.node_call),
-- summed over the nodes.
create or replace function raster.node_trajectory_sums(p_what text, p_servers text[],
                                                       p_queries text[])
returns table (zone_id integer, classes integer[], pixels bigint)
language sql as $$
  select r.zone_id, r.classes, sum(r.pixels)::bigint
    from raster.node_call(p_what, p_servers, p_queries) as j,
         lateral jsonb_to_recordset(j.rows) as r(zone_id integer, classes integer[],
                                                pixels bigint)
   group by 1, 2
$$;
comment on function raster.node_trajectory_sums(text, text[], text[]) is
  'Pixels per (zone, class at every epoch) of a trajectory query run on every data node, summed';

-- The NDVI trend (raster.np_ndvi_trend, the tiles of int_ndvi_trend_tiles) computed on every
-- data node over its own NDVI tiles and kept there: each node writes a new table of trend
-- tiles (raster.node_ndvi_trend); raster.derived_ndvi_trend then reads them (in the caller's
-- transaction). p_ids: the NDVI catalog entries in time order, co-located on the nodes;
-- the other arguments as raster.np_ndvi_trend takes them. Returns the trend tiles written.
create or replace function raster.np_node_ndvi_trend(
    p_ids bigint[], p_years integer[], p_scales double precision[],
    p_offsets double precision[], p_reduce text, p_min_years integer,
    p_stable_slope double precision, p_alpha double precision, p_ndvi_min double precision)
returns bigint
language plpgsql as $$
declare
  servers text[] := raster.colocated_nodes('raster.np_node_ndvi_trend', p_ids);
  target text := format('derived_ndvi_trend_%s', txid_current());
  queries text[] := '{}';
  srv text;
  tiles bigint;
begin
  foreach srv in array servers loop
    queries := queries || format(
      'select raster.node_ndvi_trend(%L, %L, %L::text[], %L::integer[], '
      '%L::double precision[], %L::double precision[], %L, %s, %s, %s, %s) as tiles',
      target, raster.node_table_of('derived_ndvi_trend', srv), raster.node_tables(p_ids, srv),
      p_years, p_scales, p_offsets, p_reduce, p_min_years, p_stable_slope, p_alpha,
      p_ndvi_min);
  end loop;
  select sum((j.rows -> 0 ->> 'tiles')::bigint)::bigint into tiles
    from raster.node_call(format('node-side NDVI trend of catalog entries %s',
                                 array_to_string(p_ids, ', ')), servers, queries) as j;
  perform raster.replace_derived_partitions('derived_ndvi_trend', servers,
                                            array_fill(target, array[cardinality(servers)]));
  return coalesce(tiles, 0);
end $$;
comment on function raster.np_node_ndvi_trend(bigint[], integer[], double precision[],
                                              double precision[], text, integer,
                                              double precision, double precision,
                                              double precision) is
  'NDVI trend tiles computed and kept on each data node over its own tiles, read through '
  'raster.derived_ndvi_trend';

-- The slope (raster.np_slope, the tiles of int_slope_tiles) of a DEM computed on every data
-- node over its own tiles and kept there (raster.derived_slope, in the caller's transaction).
-- A tile's border lies partly in the tiles of the rows above and below it, which are on other
-- nodes (tiles are placed by the hash of tile_y): every node first sends the first and last
-- pixel row of each of its tiles (raster.node_edge_rows; 2 rows of a tile's height), and each
-- node gets those of the other nodes' tiles next to its own, so that no node reads another's
-- tiles and only those rows travel. The same tiles as on one server, bit for bit.
create or replace function raster.np_node_slope(p_id bigint)
returns bigint
language plpgsql as $$
declare
  servers text[] := raster.colocated_nodes('raster.np_node_slope', array[p_id]);
  target text := format('derived_slope_%s', txid_current());
  what text := format('node-side slope of catalog entry %s', p_id);
  tiles bigint;
begin
  create temporary table if not exists node_edge_rows (
    server text, tile_x integer, tile_y integer, strip bytea) on commit drop;
  truncate node_edge_rows;
  insert into node_edge_rows
    select j.server, r.tile_x, r.tile_y, r.strip
      from raster.node_call(
             what || ' (edge rows)', servers,
             array(select format('select tile_x, tile_y, strip from raster.node_edge_rows(%L)',
                                 (raster.node_tables(array[p_id], s))[1])
                     from unnest(servers) with ordinality as u(s, n) order by n)) as j,
           lateral jsonb_to_recordset(j.rows) as r(tile_x integer, tile_y integer, strip bytea);
  select sum((j.rows -> 0 ->> 'tiles')::bigint)::bigint into tiles
    from raster.node_call(
           what, servers,
           array(select format(
                   'select raster.node_slope(%L, %L, %L, %L::integer[], %L::integer[], '
                   '%L::bytea[]) as tiles', target, raster.node_table_of('derived_slope', s),
                   (raster.node_tables(array[p_id], s))[1], e.xs, e.ys, e.strips)
                   from unnest(servers) with ordinality as u(s, n)
                   -- the rows of tiles on this node (a row of tiles lies on one node)
                   cross join lateral (select array(select distinct m.tile_y
                                                      from node_edge_rows m
                                                     where m.server = u.s) as rows) y
                   cross join lateral (
                     -- the edge rows of the other nodes' tiles next to this node's rows
                     select array_agg(o.tile_x) as xs, array_agg(o.tile_y) as ys,
                            array_agg(o.strip) as strips
                       from node_edge_rows o
                      where o.server <> u.s
                        and (o.tile_y - 1 = any(y.rows) or o.tile_y + 1 = any(y.rows))) e
                  order by u.n)) as j;
  perform raster.replace_derived_partitions('derived_slope', servers,
                                            array_fill(target, array[cardinality(servers)]));
  return coalesce(tiles, 0);
end $$;
comment on function raster.np_node_slope(bigint) is
  'Slope tiles of a DEM computed and kept on each data node over its own tiles (borders from '
  'the edge rows of the other nodes'' tiles), read through raster.derived_slope';

-- The data nodes of derived or tile tables of raster (p_sources, e.g. tiles_<id> or
-- derived_<kind>) that lie co-located there, in hash-remainder order; an error naming p_fn
-- when they do not.
create or replace function raster.colocated_tables(p_fn text, p_sources text[])
returns text[]
language plpgsql stable as $$
declare
  servers text[] := raster.node_layout(to_regclass(format('raster.%I', p_sources[1])));
  src text;
begin
  foreach src in array p_sources loop
    if servers is null or raster.node_layout(to_regclass(format('raster.%I', src)))
                          is distinct from servers then
      raise exception '%: raster.% is not co-located with raster.% on data nodes', p_fn, src,
        p_sources[1];
    end if;
  end loop;
  return servers;
end $$;
comment on function raster.colocated_tables(text, text[]) is
  'The data nodes of co-located raster tables (hash-remainder order); an error otherwise';

-- p_select with %1$I, %2$I … replaced by each node's tables of p_sources, one query per node
-- of p_servers (in their order).
create or replace function raster.node_queries(p_select text, p_sources text[],
                                               p_servers text[])
returns text[]
language sql stable as $$
  select array(select format(p_select, variadic array(
                        select raster.node_table_of(x.src, u.s)
                          from unnest(p_sources) with ordinality as x(src, k) order by x.k))
                 from unnest(p_servers) with ordinality as u(s, n) order by u.n)
$$;
comment on function raster.node_queries(text, text[], text[]) is
  'One query per data node: a query over raster tables with each node''s own tables in it';

-- A query over each data node's own tables of p_sources (co-located raster tables; %1$I,
-- %2$I … stand for them) run on every node at once (raster.node_call); each node's rows as
-- one jsonb array. What the node-side aggregates of the identification use: the factor
-- statistics and histograms, the score histograms and the patch parts.
create or replace function raster.node_rows(p_what text, p_sources text[], p_select text)
returns table (server text, rows jsonb)
language plpgsql as $$
declare
  servers text[] := raster.colocated_tables('raster.node_rows(' || p_what || ')', p_sources);
begin
  return query select * from raster.node_call(p_what, servers,
                                              raster.node_queries(p_select, p_sources, servers));
end $$;
comment on function raster.node_rows(text, text[], text) is
  'A query over each data node''s own raster tables run on every node at once; its rows as '
  'one jsonb array per node';

-- A per-pixel result computed on every data node over its own tiles and kept there, read
-- through raster.<p_name> (a derived tile table, laid out as its sources): p_select is a query
-- over the node's tables giving rows (tile_x, tile_y, rast), with %1$I, %2$I … standing for
-- the node's tables of the sources p_sources (tables of raster: a catalog entry's tiles_<id>,
-- or a derived table), which must lie co-located on the nodes (the same layout). Each node
-- writes raster.<p_name>_<n> (raster.node_derive); the partitions switch to them in the
-- caller's transaction. Returns the tiles written. The identification factors whose inputs
-- lie on the nodes, their constraint mask and the priority overlay are computed this way
-- (the macros node_factors and node_overlay).
create or replace function raster.np_node_derive(p_name text, p_select text, p_sources text[])
returns bigint
language plpgsql as $$
declare
  servers text[];
  target text := format('%s_%s', p_name, txid_current());
  tiles bigint;
begin
  if p_name !~ '^derived_[a-z_]+$' then
    raise exception 'raster.np_node_derive: % is not a derived tile table', p_name;
  end if;
  servers := raster.colocated_tables(format('raster.np_node_derive(%s)', p_name), p_sources);
  select sum((j.rows -> 0 ->> 'tiles')::bigint)::bigint into tiles
    from raster.node_call(
           format('node-side %s', p_name), servers,
           array(select format('select raster.node_derive(%L, %L, %L) as tiles', target,
                               raster.node_table_of(p_name, u.s), u.q)
                   from unnest(servers, raster.node_queries(p_select, p_sources, servers))
                        with ordinality as u(s, q, n)
                  order by u.n)) as j;
  perform raster.replace_derived_partitions(p_name, servers,
                                            array_fill(target, array[cardinality(servers)]));
  return coalesce(tiles, 0);
end $$;
comment on function raster.np_node_derive(text, text, text[]) is
  'A per-pixel result computed and kept on each data node over its own tiles (a query over '
  'the node''s tables), read through raster.<name>';

-- Zone statistics (raster.np_zone_stats: value counts of band p_count_band, valid pixels and
-- sums of every band) of a derived tile table raster.<p_name> kept on the data nodes, for
-- the whole region (zone_set 'region', zone 0) and every zone set p_sets of region p_region,
-- computed on each node over its own tiles with the zone tiles it keeps
-- (raster.node_sync_zones); only the per-node sums travel.
drop function if exists raster.np_node_zone_stats(text, integer, text[], integer[], geometry[]);
create or replace function raster.np_node_zone_stats(p_name text, p_count_band integer,
                                                     p_region integer, p_sets text[])
returns table (zone_set text, zone_id integer, band integer, value integer, pixels bigint,
               total double precision)
language plpgsql as $$
declare
  parent regclass := to_regclass(format('raster.%I', p_name));
  servers text[] := raster.node_layout(parent);
  sets text[] := array(select distinct s from unnest(p_sets) as s order by 1);
  versions text[];
begin
  if servers is null then
    raise exception 'raster.np_node_zone_stats: raster.% is not kept on data nodes', p_name;
  end if;
  versions := raster.node_sync_zones(parent, servers, p_region, sets);
  return query
    select case when r.zone_no = 0 then 'region' else sets[r.zone_no] end, r.zone_id, r.band,
           r.value, sum(r.pixels)::bigint, sum(r.total)
      from raster.node_call(
             format('node-side zone statistics of raster.%s', p_name), servers,
             array(select format('select zone_no, zone_id, band, value, pixels, total from '
                                 'raster.node_zone_stats(%L, %s, %s, %L::text[], %L::text[])',
                                 raster.node_table_of(p_name, s), p_count_band, p_region, sets,
                                 versions)
                     from unnest(servers) with ordinality as u(s, n) order by n)) as j,
           lateral jsonb_to_recordset(j.rows) as r(zone_no integer, zone_id integer, band integer,
                                              value integer, pixels bigint,
                                              total double precision)
     group by r.zone_no, r.zone_id, r.band, r.value;
end $$;
comment on function raster.np_node_zone_stats(text, integer, integer, text[]) is
  'Zone statistics of a derived tile table kept on the data nodes, computed on each node and '
  'summed here';
