-- Data nodes (etl/nodes.py, docs/ARCHITECTURE.md "Scale-out"): raster tiles kept on
-- other PostgreSQL servers, read through postgres_fdw foreign tables. The node registry is the
-- set of foreign servers named ecorest_node_<name> (pg_foreign_server; `ecorest db nodes` lists
-- them); `ecorest db add-node` creates them (and the postgres_fdw and dblink extensions) as the
-- administrator. Nothing here is used on a single server.

drop view if exists etl.nodes;  -- an earlier listing of the nodes (now `ecorest db nodes`)

-- The partition of one catalog entry whose tiles live on data nodes: partitioned by hash of
-- tile_y, one foreign table per node (raster.tiles_<id>_<k> reads raster.tiles_<id> on node k).
-- Created in the load's transaction and attached by raster.attach_tile_table when it ends.
create or replace function raster.create_node_tile_table(p_catalog_id bigint, p_servers text[])
returns regclass
language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  part text := format('tiles_%s', p_catalog_id);
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
                     format('%s_%s', part, k - 1), part, n, k - 1, p_servers[k], 'raster', part);
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
comment on function raster.create_node_tile_table(bigint, text[]) is
  'Create the partition of one catalog entry whose tiles live on data nodes: hash of tile_y, '
  'one postgres_fdw foreign table per node';
revoke all on function raster.create_node_tile_table(bigint, text[]) from public;
do $$ begin
  if exists (select 1 from pg_roles where rolname = 'ecorest_etl') then
    grant execute on function raster.create_node_tile_table(bigint, text[]) to ecorest_etl;
  end if;
end $$;

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
  q text := format('select v1, v2, pixels from raster.node_crosstab(%s, %s)', p_a, p_b);
  opened text[] := '{}';
begin
  select array_agg(distinct fs.srvname order by fs.srvname) into servers
    from pg_inherits i
    join pg_foreign_table ft on ft.ftrelid = i.inhrelid
    join pg_foreign_server fs on fs.oid = ft.ftserver
   where i.inhparent = to_regclass(format('raster.tiles_%s', p_a));
  if servers is null then
    -- tiles on this server: the same counts from the local kernel
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
      perform public.dblink_connect('ecorest_' || s, s);
      opened := opened || ('ecorest_' || s);
      perform public.dblink_send_query('ecorest_' || s, q);
    end loop;
    return query
      select r.v1, r.v2, sum(r.pixels)::bigint
        from unnest(opened) as c(name),
             lateral public.dblink_get_result(c.name) as r(v1 integer, v2 integer, pixels bigint)
       group by 1, 2 order by 1, 2;
  exception when others then
    foreach s in array opened loop
      perform public.dblink_disconnect(s);
    end loop;
    raise exception 'node-side cross-tab of catalog entries % and % failed on the data nodes '
                    '(%): %', p_a, p_b, array_to_string(servers, ', '), sqlerrm;
  end;
  foreach s in array opened loop
    perform public.dblink_disconnect(s);
  end loop;
end $$;
comment on function raster.np_node_crosstab(bigint, bigint) is
  'Pixel counts per (value in a, value in b) of two catalog entries, computed on each data '
  'node over its own tiles and summed here (on one server: the local raster.crosstab)';
