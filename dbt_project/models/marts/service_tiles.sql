{{ config(pre_hook="{{ delete_this_run() }}",
          post_hook="{{ ensure_primary_key(['run_id', 'layer', 'tile_x', 'tile_y']) }}") }}
-- the service and sensitivity rasters of a run for its last observed land cover (maps of the
-- report, exports, QGIS), one band per layer and tile (32BF, physical values):
--   soil_loss, soil_retention (t/ha/yr), water_yield, water_conservation (mm), sand_fixation
--   (t/ha/yr), habitat_quality (0..1), soil_erosion (SL 190 class), erosion_sensitivity,
--   desertification_sensitivity, rocky_desertification_sensitivity (classes), and
--   importance_<service> (1 一般, 2 重要, 3 极重要)
with lc_now as (
    select catalog_id from {{ ref('stg_raster__ident_layers') }} where role = 'landcover_now'
),

layers as (
    select x.layer, s.tile_x, s.tile_y, raster.np_physical(s.rast::bytea, x.band) as wkb
    from {{ ref('int_soil_tiles') }} as s
    join lc_now on lc_now.catalog_id = s.landcover_catalog_id
    cross join (values ('soil_loss', 2), ('soil_retention', 3), ('soil_erosion', 7))
        as x (layer, band)
    union all
    select x.layer, s.tile_x, s.tile_y, raster.np_physical(s.rast::bytea, x.band)
    from {{ ref('int_water_tiles') }} as s
    join lc_now on lc_now.catalog_id = s.landcover_catalog_id
    cross join (values ('water_yield', 1), ('water_conservation', 3)) as x (layer, band)
    union all
    select 'sand_fixation', s.tile_x, s.tile_y, raster.np_physical(s.rast::bytea, 3)
    from {{ ref('int_wind_tiles') }} as s
    join lc_now on lc_now.catalog_id = s.landcover_catalog_id
    union all
    select 'habitat_quality', s.tile_x, s.tile_y, raster.np_physical(s.rast::bytea, 1)
    from {{ ref('int_habitat_tiles') }} as s
    join lc_now on lc_now.catalog_id = s.landcover_catalog_id
    union all
    select x.layer, s.tile_x, s.tile_y, raster.np_physical(s.rast::bytea, x.band)
    from {{ ref('int_sensitivity_tiles') }} as s
    join lc_now on lc_now.catalog_id = s.landcover_catalog_id
    cross join (values ('erosion_sensitivity', 1), ('desertification_sensitivity', 2),
                       ('rocky_desertification_sensitivity', 3)) as x (layer, band)
    union all
    select 'importance_' || g.service, g.tile_x, g.tile_y, g.rast::bytea
    from {{ ref('int_service_grade_tiles') }} as g
)

select {{ var('run_id') }}::bigint as run_id, layer, tile_x, tile_y, st_rastfromwkb(wkb) as rast
from layers
where wkb is not null
