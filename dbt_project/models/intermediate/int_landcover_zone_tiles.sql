-- zone ids of every zone set of the region burnt onto the tiles of the first land-cover
-- epoch, once per run, for the land-cover models that count by zone (burning the
-- polygons is PostGIS work per tile and zone set: each model repeating it cost as much as its
-- own kernels)
select zs.zone_set, zt.tile_x, zt.tile_y, zt.rast
from (select distinct zone_set from {{ ref('stg_registry__zones') }}) as zs
cross join (
    select catalog_id from {{ ref('stg_raster__landcover_epochs') }} where epoch_no = 1
) as first_epoch
cross join lateral raster.zone_tiles(first_epoch.catalog_id, zs.zone_set) as zt
