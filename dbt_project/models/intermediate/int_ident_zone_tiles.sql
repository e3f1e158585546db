-- zone ids of every zone set of the region on the identification grid
select s.zone_set, zt.tile_x, zt.tile_y, zt.rast
from (select distinct zone_set from {{ ref('stg_registry__zones') }}) as s
cross join {{ ref('int_ident_reference') }} as ref
cross join lateral raster.zone_tiles(ref.catalog_id, s.zone_set) as zt
