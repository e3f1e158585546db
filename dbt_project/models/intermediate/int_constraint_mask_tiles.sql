-- the constraint mask of the identification on every tile of the last observed land cover:
-- 1 where a pixel is not graded (its class is of an excluded ecosystem type, setting
-- exclude_types, or an excluded class code, setting exclude_classes, or the latest epoch of
-- any mask_<name> layer marks it), 0 elsewhere (raster.np_constraint_mask). No rows when
-- nothing is excluded.
with lc_now as (
    select catalog_id from {{ ref('stg_raster__ident_layers') }} where role = 'landcover_now'
),

masks as (
    select catalog_id, layer from {{ ref('stg_raster__ident_layers') }}
    where role = 'layer' and layer like 'mask\_%'
),

excluded as (
    {{ excluded_classes() }}
),

tiles as (
    select t.tile_x, t.tile_y,
           st_rastfromwkb(raster.np_constraint_mask(
               t.rast::bytea, e.codes,
               array(select m.rast::bytea
                     from masks
                     join {{ source('raster', 'tiles') }} as m
                         on m.catalog_id = masks.catalog_id
                        and m.tile_x = t.tile_x and m.tile_y = t.tile_y))) as rast
    from {{ source('raster', 'tiles') }} as t
    cross join excluded as e
    -- (= a scalar subquery: only that entry's partition of raster.tiles is read)
    where t.catalog_id = (select catalog_id from lc_now)
      and (cardinality(e.codes) > 0 or exists (select 1 from masks))
)

select tile_x, tile_y, rast, coalesce((st_summarystats(rast, 1, true)).sum, 0)::bigint
           as excluded_pixels
from tiles
