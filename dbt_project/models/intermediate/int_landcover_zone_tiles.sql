{{ config(indexes=[{'columns': ['tile_x', 'tile_y']}]) }}

-- zone ids of every zone set of the region on the region's grid, for the land-cover models that
-- count by zone: the tiles the zone loader rasterised (registry.zone_tiles, etl/zone_grid.py),
-- and for a zone set loaded before the loader kept them, its polygons burnt here onto the
-- tiles of the first land-cover epoch (PostGIS work per tile and zone, the same rule: pixel
-- centres inside the zone, the larger id where zones overlap)
with sets as (
    select distinct zone_set from {{ ref('stg_registry__zones') }}
),

stored as (
    select zt.zone_set, zt.tile_x, zt.tile_y, zt.rast
    from {{ source('registry', 'zone_tiles') }} as zt
    join sets on sets.zone_set = zt.zone_set
    where zt.region_id = {{ var('region_id') }}
)

select zone_set, tile_x, tile_y, rast from stored
union all
select s.zone_set, zt.tile_x, zt.tile_y, zt.rast
from sets as s
cross join (
    select catalog_id from {{ ref('stg_raster__landcover_epochs') }} where epoch_no = 1
) as first_epoch
cross join lateral raster.zone_tiles(first_epoch.catalog_id, s.zone_set) as zt
where not exists (select 1 from stored where stored.zone_set = s.zone_set)
