{{ config(indexes=[{'columns': ['tile_x', 'tile_y']}]) }}

-- zone ids of every zone set of the region on the identification grid. A region's layers are
-- tiled on its one grid, so a tile position has the same extent in every layer: the zone tiles
-- of the land cover (int_landcover_zone_tiles: the loader's tiles on the region grid) serve
-- here too. A zone set loaded before the loader kept its tiles was burnt on the first
-- land-cover epoch's tiles only: it is burnt here at the positions of the identification's
-- reference layer where that epoch has no tile (burning polygons is PostGIS work per tile and
-- zone set).
with first_epoch as (
    select catalog_id from {{ ref('stg_raster__landcover_epochs') }} where epoch_no = 1
),

stored as (
    select distinct zone_set from {{ source('registry', 'zone_tiles') }}
    where region_id = {{ var('region_id') }}
)

select zone_set, tile_x, tile_y, rast from {{ ref('int_landcover_zone_tiles') }}
union all
select s.zone_set, zt.tile_x, zt.tile_y, zt.rast
from (select distinct zone_set from {{ ref('stg_registry__zones') }}) as s
cross join {{ ref('int_ident_reference') }} as ref
cross join lateral raster.zone_tiles(ref.catalog_id,
                                     s.zone_set,
                                     (select catalog_id from first_epoch)) as zt
where s.zone_set not in (select zone_set from stored)
