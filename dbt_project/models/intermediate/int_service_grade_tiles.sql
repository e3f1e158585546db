-- importance class of each graded service on every tile of the last observed land cover:
-- 3 极重要, 2 重要, 1 一般 by the breaks of int_service_breaks; nodata where the service has
-- no value or the constraint mask excludes the pixel (raster.np_grade_band)
with lc_now as (
    select catalog_id from {{ ref('stg_raster__ident_layers') }} where role = 'landcover_now'
)

select s.service, s.tile_x, s.tile_y,
       st_rastfromwkb(raster.np_grade_band(s.rast::bytea, s.band, b.breaks,
                                           array[1, 2, 3]::float8[], m.rast::bytea)) as rast
from {{ ref('int_service_values') }} as s
join lc_now on lc_now.catalog_id = s.landcover_catalog_id
join {{ ref('int_service_breaks') }} as b on b.service = s.service
left join {{ ref('int_constraint_mask_tiles') }} as m
    on m.tile_x = s.tile_x and m.tile_y = s.tile_y
where b.breaks is not null
