-- Functions and triggers of the loaded-data schemas (idempotent: create or replace).

-- Versions of the server-side Python and numpy (PL/Python kernels run numpy on whole tiles).
create or replace function etl.plpython_info() returns text
language plpython3u stable as $$
import sys
import numpy
return "Python %s, numpy %s" % (sys.version.split()[0], numpy.__version__)
$$;
comment on function etl.plpython_info() is
  'Python and numpy versions seen by PL/Python inside the server';

-- registry.projects keeps full history: a row is never deleted, and the only change allowed
-- to a stored version is closing it (valid_to from null to a time).
create or replace function registry.protect_project_history() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' then
    raise exception 'registry.projects keeps full history: project % version % cannot be deleted',
      old.project_id, old.version
      using errcode = 'integrity_constraint_violation',
            hint = 'load a new version of the project instead';
  elsif tg_op = 'TRUNCATE' then
    raise exception 'registry.projects keeps full history: it cannot be truncated'
      using errcode = 'integrity_constraint_violation';
  end if;
  if old.valid_to is not null
     or (to_jsonb(new) - 'valid_to') is distinct from (to_jsonb(old) - 'valid_to') then
    raise exception 'registry.projects keeps full history: project % version % is immutable '
                    '(only closing the current version by setting valid_to is allowed)',
      old.project_id, old.version
      using errcode = 'integrity_constraint_violation',
            hint = 'load a new version of the project instead';
  end if;
  return new;
end $$;

drop trigger if exists projects_keep_history on registry.projects;
create trigger projects_keep_history
  before update or delete on registry.projects
  for each row execute function registry.protect_project_history();
drop trigger if exists projects_no_truncate on registry.projects;
create trigger projects_no_truncate
  before truncate on registry.projects
  for each statement execute function registry.protect_project_history();

-- One tile partition per catalog entry: created by the loader (which does not own raster.tiles)
-- through this function, so that each partition can carry its own raster constraints
-- (SRID, scale, block size, alignment, pixel type) for raster_columns and QGIS.
drop function if exists raster.create_tile_partition(bigint);
create or replace function raster.create_tile_partition(p_catalog_id bigint,
                                                        p_compress boolean default true)
returns regclass
language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  part text := format('tiles_%s', p_catalog_id);
begin
  if to_regclass(format('raster.%I', part)) is null then
    execute format('create table raster.%I partition of raster.tiles for values in (%s)',
                   part, p_catalog_id);
    if p_compress then
      -- class codes compress well; lz4 is several times faster than pglz
      begin
        execute format('alter table raster.%I alter column rast set compression lz4', part);
      exception when feature_not_supported then
        null;  -- server built without lz4: keep pglz
      end;
    else
      -- continuous values (NDVI, DEM) barely compress: store them out of line as they are
      execute format('alter table raster.%I alter column rast set storage external', part);
    end if;
    execute format('alter table raster.%I owner to %I',
                   part, (select tableowner from pg_tables
                          where schemaname = 'raster' and tablename = 'tiles'));
    execute format('grant select, insert, delete on raster.%I to ecorest_etl', part);
    execute format('grant select on raster.%I to ecorest_analyst', part);
  end if;
  return format('raster.%I', part)::regclass;
end $$;
comment on function raster.create_tile_partition(bigint, boolean) is
  'Create (if missing) the tile partition of one catalog entry; returns its name';

-- Add the PostGIS raster constraints to a loaded partition (srid, scale, blocksize, alignment,
-- pixel types, nodata, band count) so raster_columns describes it.
create or replace function raster.constrain_tile_partition(p_catalog_id bigint) returns boolean
language plpgsql security definer set search_path = pg_catalog, public as $$
begin
  return public.addrasterconstraints('raster', format('tiles_%s', p_catalog_id), 'rast',
    true, true, true, true, true, true, false, true, true, true, true, false);
end $$;
comment on function raster.constrain_tile_partition(bigint) is
  'Add PostGIS raster constraints to the tile partition of one catalog entry';

-- Drop the tiles of a replaced catalog entry (inside the replacing load's transaction).
create or replace function raster.drop_tile_partition(p_catalog_id bigint) returns void
language plpgsql security definer set search_path = pg_catalog, public as $$
begin
  execute format('drop table if exists raster.%I', format('tiles_%s', p_catalog_id));
end $$;
comment on function raster.drop_tile_partition(bigint) is
  'Drop the tile partition of one catalog entry (used when a corrected file replaces it)';

-- Register a grid CRS that PostGIS does not know (e.g. an ESRI code or a region-centred
-- Lambert azimuthal equal-area); returns the SRID of an identical existing entry if any.
create or replace function registry.register_crs(p_wkt text, p_proj4 text) returns integer
language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  v_srid integer;
begin
  select srid into v_srid from public.spatial_ref_sys
   where auth_name = 'ECOREST' and proj4text = p_proj4;
  if v_srid is not null then
    return v_srid;
  end if;
  perform pg_advisory_xact_lock(990100);
  select coalesce(max(srid), 990099) + 1 into v_srid from public.spatial_ref_sys
   where srid between 990100 and 998999;
  insert into public.spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)
  values (v_srid, 'ECOREST', v_srid, p_wkt, p_proj4);
  return v_srid;
end $$;
comment on function registry.register_crs(text, text) is
  'Register a CRS under the ECOREST authority (SRIDs 990100-998999) and return its SRID';
