-- Least-privilege grants (idempotent; applied after every migration to head).
--   ecorest_etl      writes registry, raster, etl; builds the dbt schemas
--   ecorest_analyst  reads every ecorest schema, writes nothing
--   ecorest_bi       reads the bi schema only
--   ecorest_runner   the login of everyday commands and dbt: ecorest_etl's privileges, no more
--                    (created by revision 0005; no superuser session ever runs the models)

revoke create on schema public from public;

-- loader / model builder
grant usage on schema registry, raster, etl to ecorest_etl;
grant select, insert, update on all tables in schema registry, raster, etl to ecorest_etl;
grant delete on registry.zones, registry.zone_tiles, registry.reference_samples, registry.legend_classes,
                raster.tiles, raster.catalog to ecorest_etl;
revoke delete, truncate on registry.projects, etl.loads, etl.quarantine from ecorest_etl;
-- history: past parameter values are never changed (a corrected table is a new version); of a
-- parameter set only whether it is active may change
revoke update, delete, truncate on registry.parameter_values from ecorest_etl;
revoke update on registry.parameter_sets from ecorest_etl;
grant update (is_active) on registry.parameter_sets to ecorest_etl;
-- the load log: a load records how it ended; its file, checksum, loader, layer, epoch, start,
-- user and options are written once (trigger etl.protect_load_log keeps finished rows)
revoke update on etl.loads from ecorest_etl;
grant update (region_id, status, finished_at, rows_read, rows_loaded, rows_quarantined,
              warnings, message, replaces_load_id) on etl.loads to ecorest_etl;
-- the schema gate (ecorest.store.db.require_current) of the runner login and of analysts
grant select on public.alembic_version to ecorest_etl, ecorest_analyst;
grant usage on all sequences in schema registry, raster, etl to ecorest_etl;
grant usage, create on schema staging, intermediate, marts, bi to ecorest_etl;
revoke all on function registry.register_crs(text, text) from public;
grant execute on function registry.register_crs(text, text) to ecorest_etl;
revoke all on function raster.create_tile_partition(bigint, boolean),
                      raster.constrain_tile_partition(bigint),
                      raster.drop_tile_partition(bigint) from public;
grant execute on function raster.create_tile_partition(bigint, boolean),
                         raster.constrain_tile_partition(bigint),
                         raster.drop_tile_partition(bigint) to ecorest_etl;

-- kernels: every function of schemas raster and benefit (PL/Python + numpy over whole tiles, tile
-- partitions) is executable by ecorest_etl only: an analyst or BI login could otherwise run
-- them on arbitrary bytea with unbounded memory and time. Functions get EXECUTE for PUBLIC when
-- created, so this is applied to all of them on every migration, whatever their signature.
do $$
declare
  f regprocedure;
begin
  for f in select p.oid::regprocedure from pg_proc p
           where p.pronamespace in ('raster'::regnamespace, 'benefit'::regnamespace)
  loop
    execute format('revoke all on function %s from public, ecorest_analyst, ecorest_bi', f);
    execute format('grant execute on function %s to ecorest_etl', f);
  end loop;
end $$;
alter default privileges in schema raster revoke execute on functions from public;
-- the matched-benefit kernel (sql/050_benefit.sql), the same rule
grant usage on schema benefit to ecorest_etl;
alter default privileges in schema benefit revoke execute on functions from public;

-- identification functions (AHP, class breaks, accuracy)
grant usage on schema ident to ecorest_etl, ecorest_analyst;
grant execute on all functions in schema ident to ecorest_etl, ecorest_analyst;

-- IPCC equations: usable by the loader/model builder and the analyst
grant usage on schema ipcc to ecorest_etl, ecorest_analyst;
grant execute on all functions in schema ipcc to ecorest_etl, ecorest_analyst;

-- analyst: read everything
grant usage on schema registry, raster, etl, staging, intermediate, marts, bi to ecorest_analyst;
grant select on all tables in schema registry, raster, etl, staging, intermediate, marts, bi
  to ecorest_analyst;

-- BI: the bi schema only
grant usage on schema bi to ecorest_bi;
grant select on all tables in schema bi to ecorest_bi;

-- published raster layers (schema maps, revision 0007): built by ecorest_etl, read by the
-- analyst and BI logins (QGIS); nobody else writes them
grant usage, create on schema maps to ecorest_etl;
grant select, insert, delete on maps.layers to ecorest_etl;
grant usage on schema maps to ecorest_analyst, ecorest_bi;
grant select on all tables in schema maps to ecorest_analyst, ecorest_bi;

-- objects created later (tile partitions, dbt models) get the same grants, whether they are
-- created by the migration owner or by ecorest_etl
alter default privileges in schema staging, intermediate, marts, bi
  grant select on tables to ecorest_analyst;
alter default privileges in schema bi grant select on tables to ecorest_bi;
alter default privileges in schema raster grant select on tables to ecorest_analyst;
do $$
begin
  if pg_has_role(current_user, 'ecorest_etl', 'USAGE') then
    alter default privileges for role ecorest_etl in schema staging, intermediate, marts, bi
      grant select on tables to ecorest_analyst;
    alter default privileges for role ecorest_etl in schema bi
      grant select on tables to ecorest_bi;
    alter default privileges for role ecorest_etl in schema maps
      grant select on tables to ecorest_analyst, ecorest_bi;
  else
    raise notice 'not a member of ecorest_etl: default privileges for its objects not set';
  end if;
end $$;
