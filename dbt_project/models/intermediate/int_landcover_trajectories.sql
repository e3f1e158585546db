-- pixels per (zone, land-cover trajectory): the class of each pixel at every epoch (classes[k]
-- = class at epoch_no k, null where the pixel is invalid then), for the whole region (zone_set
-- 'region') and every zone set, counted on the aligned tiles of all epochs by the
-- raster.zone_trajectories kernel (numpy inside the server), once per tile position for the
-- region and all zone sets: the zone tiles (int_landcover_zone_tiles) are read per position
-- with raster.named_tiles. The positions read
-- their stacks through raster.tile_stack, so that the kernel runs once per position, in
-- PostgreSQL's parallel workers too (the epochs enter as a scalar subquery: a one-row relation
-- joined to the positions would keep the kernel out of the workers). int_landcover_counts and
-- int_landcover_transitions are sums over these rows.
-- With the epochs' tiles on data nodes each node counts its own tiles (macro node_trajectories).
with e as (
    {{ landcover_epoch_ids(observed=false) }}
),

zone_sets as (
    select distinct zone_set from {{ ref('stg_registry__zones') }}
),

sets as (
    select array_agg(distinct zone_set order by zone_set) as names
    from {{ ref('int_landcover_zone_tiles') }}
)

{% call node_trajectories('zone_sets') -%}
select case when (x.r).zone_no = 0 then 'region' else ((select names from sets))[(x.r).zone_no]
       end as zone_set,
       (x.r).zone_id, (x.r).classes, sum((x.r).pixels) as pixels
from (
    -- the kernel in the select list: the planner counts its cost once per position (called
    -- laterally, once in all) and so runs it in parallel workers
    select raster.zone_trajectories(
               raster.named_tiles('{{ ref('int_landcover_zone_tiles') }}'::regclass,
                                  (select names from sets), p.tile_x, p.tile_y, 'zone_set'),
               s.tiles) as r
    from {{ ref('int_tile_positions') }} as p
    cross join lateral raster.tile_stack((select ids from e), p.tile_x, p.tile_y) as s (tiles)
) as x
group by 1, 2, 3
{%- endcall %}
