-- zone ids of every zone set of the region on the identification grid. A region's layers are
-- tiled on its one grid, so a tile position has the same extent in every layer: the zone tiles
-- burnt for the land cover (int_landcover_zone_tiles, on the first land-cover epoch) serve
-- here too, and zones are burnt only at the positions of the identification's reference layer
-- where that epoch has no tile (burning polygons is PostGIS work per tile and zone set)
with first_epoch as (
    select catalog_id from {{ ref('stg_raster__landcover_epochs') }} where epoch_no = 1
)

select zone_set, tile_x, tile_y, rast from {{ ref('int_landcover_zone_tiles') }}
union all
select s.zone_set, zt.tile_x, zt.tile_y, zt.rast
from (select distinct zone_set from {{ ref('stg_registry__zones') }}) as s
cross join {{ ref('int_ident_reference') }} as ref
cross join lateral raster.zone_tiles(ref.catalog_id,
                                     s.zone_set,
                                     (select catalog_id from first_epoch)) as zt
