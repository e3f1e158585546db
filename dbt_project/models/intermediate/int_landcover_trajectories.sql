-- pixels per (zone, land-cover trajectory): the class of each pixel at every epoch (classes[k]
-- = class at epoch_no k, null where the pixel is invalid then), for the whole region (zone_set
-- 'region') and every zone set, counted on the aligned tiles of all epochs by the
-- raster.trajectories kernel (numpy inside the server). Zones are burnt onto the tiles of the
-- first epoch once per run (int_landcover_zone_tiles). Each row of the tile positions and of
-- the zone tiles reads its stack through raster.tile_stack, so that the kernel runs once per
-- row, in PostgreSQL's parallel workers too (the epochs enter as a scalar subquery: a one-row
-- relation joined to the positions would keep the kernel out of the workers). int_landcover_counts and int_landcover_transitions are
-- sums over these rows.
-- With the epochs' tiles on data nodes each node counts its own tiles (macro node_trajectories).
with e as (
    {{ landcover_epoch_ids(observed=false) }}
),

zone_sets as (
    select distinct zone_set from {{ ref('stg_registry__zones') }}
),

region_rows as (
    {% call node_trajectories() -%}
    select 'region' as zone_set, 0 as zone_id, x.classes, sum(x.pixels) as pixels
    from {{ ref('int_tile_positions') }} as p
    cross join lateral raster.tile_stack((select ids from e), p.tile_x, p.tile_y) as s (tiles)
    cross join lateral raster.trajectories(null, s.tiles) as x
    group by x.classes
    {%- endcall %}
),

zone_rows as (
    {% call node_trajectories('zone_sets') -%}
    select zt.zone_set, x.zone_id, x.classes, sum(x.pixels) as pixels
    from {{ ref('int_landcover_zone_tiles') }} as zt
    cross join lateral raster.tile_stack((select ids from e), zt.tile_x, zt.tile_y) as s (tiles)
    cross join lateral raster.trajectories(zt.rast::bytea, s.tiles) as x
    where x.zone_id <> 0
    group by zt.zone_set, x.zone_id, x.classes
    {%- endcall %}
)

select * from region_rows
union all
select * from zone_rows
