-- pixels per (zone, land-cover trajectory): the class of each pixel at every epoch (classes[k]
-- = class at epoch_no k, null where the pixel is invalid then), for the whole region (zone_set
-- 'region') and every zone set, counted on the aligned tiles of all epochs by the
-- raster.trajectories kernel (numpy inside the server). Zones are burnt onto the tiles of the
-- first epoch. int_landcover_counts and int_landcover_transitions are sums over these rows.
-- With the epochs' tiles on data nodes each node counts its own tiles (macro node_trajectories).
with epochs as (
    select catalog_id, epoch_no from {{ ref('stg_raster__landcover_epochs') }}
),

stacks as (
    {{ landcover_tile_stacks() }}
),

zone_sets as (
    select distinct zone_set from {{ ref('stg_registry__zones') }}
),

{%- set epoch_ids = "array(select catalog_id from epochs order by epoch_no)" %}

region_rows as (
    {% call node_trajectories(epoch_ids) -%}
    select 'region' as zone_set, 0 as zone_id, x.classes, sum(x.pixels) as pixels
    from stacks as s
    cross join lateral raster.trajectories(null, s.tiles) as x
    group by x.classes
    {%- endcall %}
),

zone_rows as (
    {% call node_trajectories(epoch_ids, 'zone_sets') -%}
    select zs.zone_set, x.zone_id, x.classes, sum(x.pixels) as pixels
    from zone_sets as zs
    cross join (select catalog_id from epochs where epoch_no = 1) as first_epoch
    cross join lateral raster.zone_tiles(first_epoch.catalog_id, zs.zone_set) as zt
    join stacks as s on s.tile_x = zt.tile_x and s.tile_y = zt.tile_y
    cross join lateral raster.trajectories(zt.rast::bytea, s.tiles) as x
    where x.zone_id <> 0
    group by zs.zone_set, x.zone_id, x.classes
    {%- endcall %}
)

select * from region_rows
union all
select * from zone_rows
