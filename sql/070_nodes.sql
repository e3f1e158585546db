-- Data nodes (etl/nodes.py, docs/ARCHITECTURE.md "Scale-out"): raster tiles kept on
-- other PostgreSQL servers, read through postgres_fdw foreign tables. The node registry is the
-- set of foreign servers named ecorest_node_<name> (pg_foreign_server; `ecorest db nodes` lists
-- them); `ecorest db add-node` creates them (and the postgres_fdw and dblink extensions) as the
-- administrator. Nothing here is used on a single server.

drop view if exists etl.nodes;  -- an earlier listing of the nodes (now `ecorest db nodes`)

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
  for k in 1 .. n loop
    if p_servers[k] not like 'ecorest\_node\_%'
       or not exists (select from pg_foreign_server where srvname = p_servers[k]) then
      raise exception 'raster.create_node_tile_table: % is not a registered data node',
        p_servers[k];
    end if;
  end loop;
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
  servers text[];
  s text;
  q text;
  opened text[] := '{}';
  cur_srv text;
  detail text;
  failed_on text;
begin
  servers := raster.node_placement(array[p_a, p_b]);
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
  begin
    foreach s in array servers loop
      cur_srv := s;
      q := format('select v1, v2, pixels from raster.node_crosstab(%L, %L)',
                  (raster.node_tables(array[p_a], s))[1], (raster.node_tables(array[p_b], s))[1]);
      opened := opened || raster.node_connection(s);
      if public.dblink_send_query(opened[cardinality(opened)], q) <> 1 then
        raise exception 'could not send the query: %',
          public.dblink_error_message(opened[cardinality(opened)]);
      end if;
    end loop;
    cur_srv := null;
    perform raster.node_wait(opened);
    return query
      select r.v1, r.v2, sum(r.pixels)::bigint
        from unnest(opened) as c(name),
             lateral public.dblink_get_result(c.name) as r(v1 integer, v2 integer, pixels bigint)
       group by 1, 2 order by 1, 2;
  exception when query_canceled then
    -- this statement was cancelled: so are the node queries, and their connections closed
    perform raster.node_call_failed(servers, opened, null);
    raise;
  when others then
    get stacked diagnostics detail = pg_exception_detail;
    failed_on := raster.node_call_failed(servers, opened, cur_srv);
    raise exception 'node-side cross-tab of catalog entries % and % failed on %: %',
      p_a, p_b, failed_on, sqlerrm || coalesce(' (' || nullif(detail, '') || ')', '');
  end;
  -- the connections stay open for the next call (raster.node_connection)
end $$;
comment on function raster.np_node_crosstab(bigint, bigint) is
  'Pixel counts per (value in a, value in b) of two catalog entries, computed on each data '
  'node over its own tiles and summed here (on one server: the local raster.crosstab)';

-- The data nodes of a set of catalog entries when their tiles are co-located there: every
-- entry's partition is split by hash of tile_y into foreign tables only, with the same modulus
-- and the same server at every remainder, so a tile key lies on one node for all of them and a
-- node-side kernel joins them on that node's own tiles. Returns the servers in remainder order;
-- null when any entry is a local partition (one server, or loaded before the first node) or the
-- layouts differ (loaded before and after a node was added, not rebalanced since): callers then
-- compute on this server through postgres_fdw (correct; the tiles travel).
create or replace function raster.node_placement(p_ids bigint[])
returns text[]
language plpgsql stable as $$
declare
  ref text[];
  cur text[];
  ok boolean;
  id bigint;
begin
  if p_ids is null or cardinality(p_ids) = 0 then
    return null;
  end if;
  foreach id in array p_ids loop
    with parts as (
      select c.relkind, fs.srvname,
             substring(pg_get_expr(c.relpartbound, c.oid) from 'modulus (\d+)')::int as modulus,
             substring(pg_get_expr(c.relpartbound, c.oid) from 'remainder (\d+)')::int
               as remainder
        from pg_inherits i
        join pg_class c on c.oid = i.inhrelid
        left join pg_foreign_table ft on ft.ftrelid = c.oid
        left join pg_foreign_server fs on fs.oid = ft.ftserver
       where i.inhparent = to_regclass(format('raster.tiles_%s', id))
    )
    select array_agg(srvname order by remainder),
           count(*) > 0
           and bool_and(relkind = 'f' and srvname like 'ecorest\_node\_%'
                        and modulus = (select count(*) from parts))
           and count(distinct remainder) = count(*)
      into cur, ok
      from parts;
    if not coalesce(ok, false) then
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

-- The names, on data node p_server, of the tile tables of catalog entries p_ids (in their
-- order): the table_name option of their foreign tables there (raster.tiles_N, or
-- raster.tiles_N_rK after a rebalance).
create or replace function raster.node_tables(p_ids bigint[], p_server text)
returns text[]
language sql stable as $$
  select array_agg((select substring(o from 12) from unnest(ft.ftoptions) as o
                     where o like 'table_name=%') order by e.n)
    from unnest(p_ids) with ordinality as e(id, n)
    join pg_inherits i on i.inhparent = to_regclass(format('raster.tiles_%s', e.id))
    join pg_foreign_table ft on ft.ftrelid = i.inhrelid
    join pg_foreign_server fs on fs.oid = ft.ftserver and fs.srvname = p_server
$$;
comment on function raster.node_tables(bigint[], text) is
  'Names of the node tables holding the tiles of catalog entries on one data node';

-- Land-cover trajectories (the cross-tab behind int_landcover_trajectories: pixels per zone
-- and class at every epoch) counted where the tiles are. p_ids: the land-cover catalog entries
-- in time order; p_zone_set null: the whole region (zone 0), else the region's zones of that
-- set, burnt onto the tiles of the first epoch (zone 0, outside every zone, left out).
-- With the tiles co-located on data nodes (raster.node_placement) each node runs
-- raster.node_trajectories over its own tiles, all nodes at once (dblink asynchronous queries,
-- the caller's user mapping), and only the per-node counts travel; the zones travel as their
-- polygons, burnt on each node. Otherwise the same counts on this server, as the model computes
-- them. A node that fails makes the call fail, naming the nodes.
create or replace function raster.np_node_trajectories(p_ids bigint[], p_zone_set text)
returns table (zone_id integer, classes integer[], pixels bigint)
language plpgsql as $$
declare
  servers text[] := raster.node_placement(p_ids);
  codes integer[];
  geoms geometry[];
  q text;
  srv text;
  opened text[] := '{}';
  cur_srv text;
  detail text;
  failed_on text;
  t0 timestamptz := clock_timestamp();
begin
  if p_zone_set is not null then
    select array_agg(z.zone_id::integer order by z.zone_id),
           array_agg(st_transform(z.geom, r.srid) order by z.zone_id)
      into codes, geoms
      from raster.catalog c
      join registry.regions r on r.region_id = c.region_id
      join registry.zones z on z.region_id = c.region_id and z.zone_set = p_zone_set
     where c.catalog_id = p_ids[1];
    if codes is null then
      return;
    end if;
  end if;
  if servers is null then
    -- the tiles on this server (or not co-located): the counts of the local kernel, for the
    -- whole region (no zones) or per zone of the set (zones burnt on the first entry's tiles)
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
  begin
    foreach srv in array servers loop
      cur_srv := srv;
      q := format('select zone_id, classes, pixels from raster.node_trajectories(%L::text[], '
                  '%L::integer[], %L::geometry[])', raster.node_tables(p_ids, srv), codes, geoms);
      opened := opened || raster.node_connection(srv);
      if public.dblink_send_query(opened[cardinality(opened)], q) <> 1 then
        raise exception 'could not send the query: %',
          public.dblink_error_message(opened[cardinality(opened)]);
      end if;
    end loop;
    cur_srv := null;
    perform raster.node_wait(opened);
    return query
      select r.zone_id, r.classes, sum(r.pixels)::bigint
        from unnest(opened) as c(name),
             lateral public.dblink_get_result(c.name)
               as r(zone_id integer, classes integer[], pixels bigint)
       group by 1, 2;
  exception when query_canceled then
    -- this statement was cancelled: so are the node queries, and their connections closed
    perform raster.node_call_failed(servers, opened, null);
    raise;
  when others then
    get stacked diagnostics detail = pg_exception_detail;
    failed_on := raster.node_call_failed(servers, opened, cur_srv);
    raise exception 'node-side trajectories of catalog entries % failed on %: %',
      array_to_string(p_ids, ', '), failed_on,
      sqlerrm || coalesce(' (' || nullif(detail, '') || ')', '');
  end;
  -- the connections stay open for the next call (raster.node_connection)
  raise debug 'raster.np_node_trajectories(%, %): % nodes, % ms', p_ids, p_zone_set,
    cardinality(servers), round(extract(epoch from clock_timestamp() - t0) * 1000);
end $$;
comment on function raster.np_node_trajectories(bigint[], text) is
  'Pixels per (zone, class at every epoch) of land-cover catalog entries, counted on each data '
  'node over its own tiles and summed here (on one server: the local raster.trajectories)';
