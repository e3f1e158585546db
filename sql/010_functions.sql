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

-- etl.loads is the load log: a finished load's row is never rewritten. Its identity (file,
-- SHA-256, loader, layer, epoch, start, user, options) is not writable by ecorest_etl at all
-- (column privileges, sql/900_grants.sql); a running load may record how it ended, and a
-- succeeded load may only become 'superseded' when a corrected file replaces it.
-- Superusers (migrations, repairs by an administrator) are not held back.
create or replace function etl.protect_load_log() returns trigger
language plpgsql set search_path = pg_catalog as $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    return new;
  end if;
  if old.status = 'running' or to_jsonb(new) = to_jsonb(old) then
    return new;
  end if;
  if old.status = 'succeeded' and new.status = 'superseded'
     and (to_jsonb(new) - 'status') = (to_jsonb(old) - 'status') then
    return new;
  end if;
  raise exception 'etl.loads is the load log: load % (%) is finished and cannot be changed',
    old.load_id, old.status
    using errcode = 'insufficient_privilege',
          hint = 'a new load of the file adds a row; only a superuser may repair the log';
end $$;
drop trigger if exists loads_keep_log on etl.loads;
create trigger loads_keep_log
  before update on etl.loads
  for each row execute function etl.protect_load_log();

-- Past parameter values are history: a parameter set, once loaded, keeps its values (a changed
-- table is loaded as a new version). ecorest_etl may neither update nor delete them
-- (sql/900_grants.sql); this trigger holds for every other non-superuser as well.
create or replace function registry.protect_parameter_values() returns trigger
language plpgsql set search_path = pg_catalog as $$
begin
  if (select rolsuper from pg_roles where rolname = current_user) then
    return coalesce(new, old);
  end if;
  raise exception 'registry.parameter_values keeps history: the values of parameter set % '
                  'cannot be changed or deleted', coalesce(old.parameter_set_id, 0)
    using errcode = 'insufficient_privilege',
          hint = 'load the corrected table as a new version (ecorest load params)';
end $$;
drop trigger if exists parameter_values_keep_history on registry.parameter_values;
create trigger parameter_values_keep_history
  before update or delete on registry.parameter_values
  for each row execute function registry.protect_parameter_values();

-- bi views are security barriers: a reader's own function in a WHERE clause (e.g. a temporary
-- function of an ecorest_bi login) must only ever see the rows the view shows, not those the
-- view's own filter (latest succeeded run per region) drops. dbt (re)creates the bi views on
-- every run, so an event trigger marks each view created in schema bi right away; the view's
-- owner (ecorest_etl) runs it. Creating event triggers needs a superuser: on a managed server
-- without one, ask the administrator to run this file once (or the bi models set the option).
create or replace function etl.bi_views_security_barrier() returns event_trigger
language plpgsql set search_path = pg_catalog as $$
declare
  r record;
begin
  for r in select objid from pg_event_trigger_ddl_commands()
           where object_type = 'view' and schema_name = 'bi'
  loop
    if not exists (select from pg_class where oid = r.objid
                   and reloptions @> array['security_barrier=true']) then
      execute format('alter view %s set (security_barrier = true)', r.objid::regclass);
    end if;
  end loop;
end $$;
comment on function etl.bi_views_security_barrier() is
  'Event trigger: every view created in schema bi becomes a security barrier';
do $$
declare
  v regclass;
begin
  drop event trigger if exists ecorest_bi_security_barrier;
  create event trigger ecorest_bi_security_barrier on ddl_command_end
    when tag in ('CREATE VIEW') execute function etl.bi_views_security_barrier();
  for v in select c.oid::regclass from pg_class c
           where c.relnamespace = 'bi'::regnamespace and c.relkind = 'v'
             and not coalesce(c.reloptions @> array['security_barrier=true'], false)
  loop
    execute format('alter view %s set (security_barrier = true)', v);
  end loop;
exception when insufficient_privilege then
  raise notice 'not a superuser: bi views are not marked security_barrier automatically';
end $$;
