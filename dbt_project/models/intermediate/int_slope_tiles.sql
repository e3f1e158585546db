-- slope (degrees, Horn) and HJ slope class of every DEM tile, its border read from the
-- neighbouring tiles (raster.np_slope, 2 bands); the neighbours are gathered by a lateral
-- query (a correlated subquery would keep the kernel out of PostgreSQL's parallel workers)
with dem as (
    select catalog_id from {{ ref('stg_raster__ident_layers') }} where role = 'dem'
)

select
    c.tile_x,
    c.tile_y,
    st_rastfromwkb(raster.np_slope(c.rast::bytea, nb.tiles)) as rast
from dem
join {{ source('raster', 'tiles') }} as c on c.catalog_id = dem.catalog_id
cross join lateral (
    select array_agg(n.rast::bytea) as tiles
    from {{ source('raster', 'tiles') }} as n
    where n.catalog_id = c.catalog_id
      and n.tile_x between c.tile_x - 1 and c.tile_x + 1
      and n.tile_y between c.tile_y - 1 and c.tile_y + 1
      and (n.tile_x, n.tile_y) <> (c.tile_x, c.tile_y)
) as nb
