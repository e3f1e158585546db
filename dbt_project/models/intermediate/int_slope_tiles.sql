-- slope (degrees, Horn) and HJ slope class of every DEM tile, its border read from the
-- neighbouring tiles (raster.np_slope, 2 bands; the neighbours through raster.neighbour_tiles,
-- a function, so that the kernel runs in PostgreSQL's parallel workers too)
{% if 'slope' in var('derived_on_nodes') %}
-- With the DEM on data nodes (docs/ARCHITECTURE.md, "Scale-out") every node computes the slope
-- of its own tiles, the borders from the edge rows of the other nodes' tiles, and keeps it
-- (raster.np_node_slope, run by the pre-hook in this model's transaction); this model is then
-- a view of those tiles. The same tiles, bit for bit.
{{ config(materialized='view', pre_hook="{{ node_slope() }}") }}
-- depends_on: {{ ref('stg_raster__ident_layers') }}
select tile_x, tile_y, rast from raster.derived_slope
{% else %}
with dem as (
    select catalog_id from {{ ref('stg_raster__ident_layers') }} where role = 'dem'
)

select
    c.tile_x,
    c.tile_y,
    st_rastfromwkb(raster.np_slope(c.rast::bytea,
                                   raster.neighbour_tiles(c.catalog_id, c.tile_x, c.tile_y)))
        as rast
from {{ source('raster', 'tiles') }} as c
-- (= a scalar subquery: only the DEM's partition of raster.tiles is read)
where c.catalog_id = (select catalog_id from dem)
{% endif %}
