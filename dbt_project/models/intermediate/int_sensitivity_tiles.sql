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
with layers as (
    select * from {{ ref('stg_raster__service_layers') }}
),

epochs as (
    select landcover_catalog_id,
           landcover_epoch,
           max(catalog_id) filter (where layer = 'erosivity') as erosivity_id,
           max(catalog_id) filter (where layer = 'erodibility') as erodibility_id,
           max(catalog_id) filter (where layer = 'dem') as dem_id,
           max(catalog_id) filter (where layer = 'et0') as et0_id,
           max(catalog_id) filter (where layer = 'precip') as precip_id,
           max(catalog_id) filter (where layer = 'soil_sand') as sand_id,
           max(catalog_id) filter (where layer = 'soil_clay') as clay_id,
           max(catalog_id) filter (where layer = 'lithology') as lithology_id,
           coalesce(max(catalog_id) filter (where layer = 'fvc'),
                    max(catalog_id) filter (where layer = 'ndvi')) as veg_id,
           bool_or(layer = 'fvc') as veg_is_fvc,
           array[max(scale_factor) filter (where layer = 'erosivity'),
                 max(scale_factor) filter (where layer = 'erodibility'),
                 max(scale_factor) filter (where layer = 'dem'),
                 max(scale_factor) filter (where layer = 'et0'),
                 max(scale_factor) filter (where layer = 'precip'),
                 max(scale_factor) filter (where layer = 'soil_sand'),
                 max(scale_factor) filter (where layer = 'soil_clay'),
                 max(scale_factor) filter (where layer = 'lithology'),
                 coalesce(max(scale_factor) filter (where layer = 'fvc'),
                          max(scale_factor) filter (where layer = 'ndvi'))]::float8[] as scales,
           array[max(add_offset) filter (where layer = 'erosivity'),
                 max(add_offset) filter (where layer = 'erodibility'),
                 max(add_offset) filter (where layer = 'dem'),
                 max(add_offset) filter (where layer = 'et0'),
                 max(add_offset) filter (where layer = 'precip'),
                 max(add_offset) filter (where layer = 'soil_sand'),
                 max(add_offset) filter (where layer = 'soil_clay'),
                 max(add_offset) filter (where layer = 'lithology'),
                 coalesce(max(add_offset) filter (where layer = 'fvc'),
                          max(add_offset) filter (where layer = 'ndvi'))]::float8[] as offsets
    from layers
    group by landcover_catalog_id, landcover_epoch
),

computable as (
    select * from epochs
    where veg_id is not null
      and ((erosivity_id is not null and erodibility_id is not null and dem_id is not null)
           or (et0_id is not null and precip_id is not null and sand_id is not null
               and clay_id is not null)
           or (lithology_id is not null and dem_id is not null))
),

-- NDVI end members of the dimidiate model (as int_wind_tiles)
ndvi as (
    select distinct veg_id as catalog_id, scales[9] as scale, offsets[9] as "offset"
    from computable where not veg_is_fvc
),

ndvi_range as (
    select n.catalog_id, (st_summarystatsagg(t.rast, 1, true)).*
    from ndvi as n
    join {{ source('raster', 'tiles') }} as t on t.catalog_id = n.catalog_id
    group by n.catalog_id
),

ndvi_bins as (
    select r.catalog_id, u.i, sum(u.c)::bigint as c
    from ndvi_range as r
    join {{ source('raster', 'tiles') }} as t on t.catalog_id = r.catalog_id
    cross join lateral raster.np_histogram(t.rast::bytea, 1, r.min, r.max, 1000) as h
    cross join lateral unnest(h.counts) with ordinality as u(c, i)
    group by r.catalog_id, u.i
),

ndvi_ends as (
    select n.catalog_id,
           ident.histogram_quantile(array_agg(b.c order by b.i), r.min, r.max,
                                    {{ var('fvc_ndvi_soil_pct', 5) }} / 100.0)
               * coalesce(n.scale, 1) + coalesce(n."offset", 0) as ndvi_soil,
           ident.histogram_quantile(array_agg(b.c order by b.i), r.min, r.max,
                                    {{ var('fvc_ndvi_veg_pct', 95) }} / 100.0)
               * coalesce(n.scale, 1) + coalesce(n."offset", 0) as ndvi_veg
    from ndvi as n
    join ndvi_range as r on r.catalog_id = n.catalog_id
    join ndvi_bins as b on b.catalog_id = n.catalog_id
    group by n.catalog_id, n.scale, n."offset", r.min, r.max
),

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
    join {{ source('raster', 'tiles') }} as t on t.catalog_id = c.landcover_catalog_id
    join {{ source('raster', 'tiles') }} as v
        on v.catalog_id = c.veg_id and v.tile_x = t.tile_x and v.tile_y = t.tile_y
    left join {{ source('raster', 'tiles') }} as er
        on er.catalog_id = c.erosivity_id and er.tile_x = t.tile_x and er.tile_y = t.tile_y
    left join {{ source('raster', 'tiles') }} as ek
        on ek.catalog_id = c.erodibility_id and ek.tile_x = t.tile_x and ek.tile_y = t.tile_y
    left join {{ source('raster', 'tiles') }} as et
        on et.catalog_id = c.et0_id and et.tile_x = t.tile_x and et.tile_y = t.tile_y
    left join {{ source('raster', 'tiles') }} as p
        on p.catalog_id = c.precip_id and p.tile_x = t.tile_x and p.tile_y = t.tile_y
    left join {{ source('raster', 'tiles') }} as sa
        on sa.catalog_id = c.sand_id and sa.tile_x = t.tile_x and sa.tile_y = t.tile_y
    left join {{ source('raster', 'tiles') }} as cl
        on cl.catalog_id = c.clay_id and cl.tile_x = t.tile_x and cl.tile_y = t.tile_y
    left join {{ source('raster', 'tiles') }} as li
        on li.catalog_id = c.lithology_id and li.tile_x = t.tile_x and li.tile_y = t.tile_y
)

select landcover_catalog_id, epoch_label, tile_x, tile_y, rast
from tiles
where rast is not null
