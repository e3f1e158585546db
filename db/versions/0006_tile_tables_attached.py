"""tile tables loaded on their own and attached at the end of the load

A raster load used to create its tile partition with CREATE TABLE ... PARTITION OF, which
holds an ACCESS EXCLUSIVE lock on raster.tiles until the load commits: tile readers of every
region waited for it. The loader now fills a stand-alone table shaped like a partition
(raster.create_tile_table) and attaches it right before committing
(raster.attach_tile_table: SHARE UPDATE EXCLUSIVE on raster.tiles, which readers and writers
of other partitions do not wait for).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = """
create or replace function raster.create_tile_table(p_catalog_id bigint,
                                                    p_compress boolean default true)
returns regclass
language plpgsql security definer set search_path = pg_catalog, public as $$
declare
  part text := format('tiles_%s', p_catalog_id);
begin
  if to_regclass(format('raster.%I', part)) is null then
    -- the check constraint equals the partition bound, so attaching does not scan the table
    execute format('create table raster.%I (like raster.tiles including defaults '
                   'including indexes, check (catalog_id = %s))', part, p_catalog_id);
    if p_compress then
      begin
        execute format('alter table raster.%I alter column rast set compression lz4', part);
      exception when feature_not_supported then
        null;
      end;
    else
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
comment on function raster.create_tile_table(bigint, boolean) is
  'Create (if missing) the stand-alone tile table of one catalog entry, to be attached to '
  'raster.tiles by raster.attach_tile_table when its load ends';

create or replace function raster.attach_tile_table(p_catalog_id bigint) returns void
language plpgsql security definer set search_path = pg_catalog, public as $$
begin
  if not exists (select 1 from pg_inherits
                 where inhrelid = to_regclass(format('raster.tiles_%s', p_catalog_id))) then
    execute format('alter table raster.tiles attach partition raster.%I for values in (%s)',
                   format('tiles_%s', p_catalog_id), p_catalog_id);
  end if;
end $$;
comment on function raster.attach_tile_table(bigint) is
  'Attach the tile table of one catalog entry to raster.tiles as its partition';

revoke all on function raster.create_tile_table(bigint, boolean),
                      raster.attach_tile_table(bigint) from public;
do $$ begin
  if exists (select 1 from pg_roles where rolname = 'ecorest_etl') then
    grant execute on function raster.create_tile_table(bigint, boolean),
                             raster.attach_tile_table(bigint) to ecorest_etl;
  end if;
end $$;
"""


def upgrade() -> None:
    op.execute(CREATE)


def downgrade() -> None:
    op.execute("drop function if exists raster.attach_tile_table(bigint)")
    op.execute("drop function if exists raster.create_tile_table(bigint, boolean)")
