-- the catalog entry whose tiles serve as the grid for burning zones and patches: the
-- identification layer with the most tiles
select catalog_id
from {{ ref('stg_raster__ident_layers') }}
order by tile_count desc nulls last, catalog_id
limit 1
