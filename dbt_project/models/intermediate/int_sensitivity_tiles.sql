-- ecological sensitivity classes per land-cover epoch and tile (raster.np_sensitivity;
-- docs/SERVICES.md): factors graded 1, 3, 5, 7, 9 by their breaks (settings sensitivity_*),
-- combined by the geometric mean and graded into five classes (1.0-2.0, 2.1-4.0, 4.1-6.0,
-- 6.1-8.0, > 8.0: 1 not sensitive 不敏感, 2 slightly 轻度敏感, 3 moderately 中度敏感,
-- 4 highly 高度敏感, 5 extremely sensitive 极敏感). Bands (32BF): 1 erosion_sensitivity,
-- 2 desertification_sensitivity, 3 rocky_desertification_sensitivity; 0 where that
-- sensitivity's inputs are missing, nodata where the land cover has none.
--   erosion: erosivity, erodibility, dem (relief), vegetation cover
--   desertification: et0 and precip (aridity), soil_sand and soil_clay (texture), cover
--   rocky desertification: lithology (carbonate-rock share; 0 = not karst, class 0), dem
--     (slope), cover
-- Vegetation cover: an fvc layer, else NDVI by the dimidiate model (region percentiles
-- fvc_ndvi_soil_pct / fvc_ndvi_veg_pct). Rows only where at least one sensitivity has every
-- input (no guess).
with epochs as (
    {{ service_epoch_layers([('erosivity', 'erosivity'), ('erodibility', 'erodibility'),
                             ('dem', 'dem'), ('et0', 'et0'), ('precip', 'precip'),
                             ('soil_sand', 'sand'), ('soil_clay', 'clay'),
                             ('lithology', 'lithology')], veg=true) }}
),

computable as (
    select * from epochs
    where veg_id is not null
      and ((erosivity_id is not null and erodibility_id is not null and dem_id is not null)
           or (et0_id is not null and precip_id is not null and sand_id is not null
               and clay_id is not null)
           or (lithology_id is not null and dem_id is not null))
),

-- NDVI end members of the dimidiate model
{{ ndvi_end_members(9) }},

tiles as (
    select
        c.landcover_catalog_id,
        c.landcover_epoch as epoch_label,
        t.tile_x,
        t.tile_y,
        st_rastfromwkb(raster.np_sensitivity(
            t.rast::bytea, er.rast::bytea, ek.rast::bytea,
            array(select d.rast::bytea from {{ source('raster', 'tiles') }} as d
                  where d.catalog_id = c.dem_id
                    and d.tile_x between t.tile_x - 1 and t.tile_x + 1
                    and d.tile_y between t.tile_y - 1 and t.tile_y + 1),
            et.rast::bytea, p.rast::bytea, sa.rast::bytea, cl.rast::bytea, li.rast::bytea,
            v.rast::bytea, c.scales, c.offsets, ne.ndvi_soil, ne.ndvi_veg,
            {{ var('sensitivity_relief_window_m', 1000) }},
            array{{ var('sensitivity_erosivity_breaks', [25, 100, 400, 600]) }}::float8[],
            array{{ var('sensitivity_erodibility_breaks', [0.01, 0.02, 0.03, 0.04]) }}::float8[],
            array{{ var('sensitivity_relief_breaks', [20, 50, 100, 300]) }}::float8[],
            array{{ var('sensitivity_erosion_cover_breaks', [0.2, 0.4, 0.6, 0.8]) }}::float8[],
            array{{ var('sensitivity_erosion_class_breaks', [2, 4, 6, 8]) }}::float8[],
            array{{ var('sensitivity_aridity_breaks', [1.5, 4, 16, 24]) }}::float8[],
            array{{ var('sensitivity_desert_cover_breaks', [0.2, 0.4, 0.6, 0.8]) }}::float8[],
            array{{ var('sensitivity_desert_class_breaks', [2, 4, 6, 8]) }}::float8[],
            array{{ var('sensitivity_lithology_breaks', [0.1, 0.3, 0.5, 0.7]) }}::float8[],
            array{{ var('sensitivity_slope_breaks', [5, 15, 25, 35]) }}::float8[],
            array{{ var('sensitivity_rocky_cover_breaks', [0.2, 0.4, 0.6, 0.8]) }}::float8[],
            array{{ var('sensitivity_rocky_class_breaks', [2, 4, 6, 8]) }}::float8[]))
            as rast
    from computable as c
    left join ndvi_ends as ne on ne.catalog_id = c.veg_id and not c.veg_is_fvc
    cross join {{ entry_tiles('c.landcover_catalog_id') }} as t
    join {{ entry_tiles('c.veg_id') }} as v
        on v.tile_x = t.tile_x and v.tile_y = t.tile_y
    left join {{ entry_tiles('c.erosivity_id') }} as er
        on er.tile_x = t.tile_x and er.tile_y = t.tile_y
    left join {{ entry_tiles('c.erodibility_id') }} as ek
        on ek.tile_x = t.tile_x and ek.tile_y = t.tile_y
    left join {{ entry_tiles('c.et0_id') }} as et
        on et.tile_x = t.tile_x and et.tile_y = t.tile_y
    left join {{ entry_tiles('c.precip_id') }} as p
        on p.tile_x = t.tile_x and p.tile_y = t.tile_y
    left join {{ entry_tiles('c.sand_id') }} as sa
        on sa.tile_x = t.tile_x and sa.tile_y = t.tile_y
    left join {{ entry_tiles('c.clay_id') }} as cl
        on cl.tile_x = t.tile_x and cl.tile_y = t.tile_y
    left join {{ entry_tiles('c.lithology_id') }} as li
        on li.tile_x = t.tile_x and li.tile_y = t.tile_y
)

select landcover_catalog_id, epoch_label, tile_x, tile_y, rast
from tiles
where rast is not null
