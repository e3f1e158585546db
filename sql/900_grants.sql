-- Least-privilege grants (idempotent; applied after every migration to head).
--   ecorest_etl      writes registry, raster, etl; builds the dbt schemas
--   ecorest_analyst  reads every ecorest schema, writes nothing
--   ecorest_bi       reads the bi schema only

revoke create on schema public from public;

-- loader / model builder
grant usage on schema registry, raster, etl to ecorest_etl;
grant select, insert, update on all tables in schema registry, raster, etl to ecorest_etl;
grant delete on registry.zones, registry.reference_samples, registry.legend_classes,
                registry.parameter_values, raster.tiles, raster.catalog to ecorest_etl;
revoke delete, truncate on registry.projects, etl.loads, etl.quarantine from ecorest_etl;
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

-- kernels
grant execute on function raster.crosstab(raster, raster, raster),
  raster.crosstab(bytea, bytea, bytea), raster.np_kernels_loaded(),
  raster.zone_tiles(bigint, text), raster.project_tiles(bigint, double precision),
  raster.burn_tiles(bigint, integer[], geometry[]),
  raster.np_lookup(bytea, integer[], double precision[], double precision),
  raster.carbon_density_tiles(bigint, text, text),
  raster.np_ndvi_trend(bytea[], integer[], double precision[], double precision[], text, integer,
                       double precision, double precision, double precision),
  raster.np_slope(bytea, bytea[], double precision),
  raster.np_pair_lookup(bytea, bytea, integer[], integer[], double precision[]),
  raster.np_physical(bytea, integer, double precision, double precision),
  raster.np_steep_class(bytea, bytea, integer[], double precision),
  raster.np_histogram(bytea, integer, double precision, double precision, integer),
  raster.np_overlay(bytea[], double precision[], double precision[], integer[], integer[],
                    double precision[], double precision, double precision[], double precision[],
                    double precision[], integer[]),
  raster.np_zonal(bytea, bytea)
  to ecorest_etl, ecorest_analyst;

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
  else
    raise notice 'not a member of ecorest_etl: default privileges for its objects not set';
  end if;
end $$;
