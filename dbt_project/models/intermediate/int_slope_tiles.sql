-- slope (degrees, Horn) and HJ slope class of every DEM tile, its border read from the
-- neighbouring tiles (raster.np_slope, 2 bands; the neighbours through raster.neighbour_tiles,
-- a function, so that the kernel runs in PostgreSQL's parallel workers too)
with dem as (
    select catalog_id from {{ ref('stg_raster__ident_layers') }} where role = 'dem'
)

select
    c.tile_x,
    c.tile_y,
    st_rastfromwkb(raster.np_slope(c.rast::bytea,
                                   raster.neighbour_tiles(c.catalog_id, c.tile_x, c.tile_y)))
        as rast
from dem
join {{ source('raster', 'tiles') }} as c on c.catalog_id = dem.catalog_id
