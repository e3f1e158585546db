{{ config(pre_hook="{{ delete_this_run() }}") }}
-- NDVI trend classes per zone (every zone set and the whole region): area and share of each
-- class, and the zone's mean Theil-Sen slope over pixels with a trend
with tt as (
    select tile_x, tile_y, rast,
           st_rastfromwkb(raster.np_physical(rast::bytea, 7)) as cls
    from {{ ref('int_ndvi_trend_tiles') }}
),

zt as (
    select * from {{ ref('int_ident_zone_tiles') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

counts as (
    select 'region' as zone_set, 0 as zone_id, x.v1 as trend_class, sum(x.pixels) as pixels
    from tt cross join lateral raster.crosstab(null, tt.cls, null) as x
    group by x.v1
    union all
    select zt.zone_set, x.zone_id, x.v1, sum(x.pixels)
    from zt
    join tt on tt.tile_x = zt.tile_x and tt.tile_y = zt.tile_y
    cross join lateral raster.crosstab(zt.rast, tt.cls, null) as x
    where x.zone_id <> 0
    group by zt.zone_set, x.zone_id, x.v1
),

slopes as (
    select 'region' as zone_set, 0 as zone_id, sum(z.total) / sum(z.pixels) as mean_slope
    from tt cross join lateral raster.np_zonal(null, tt.rast::bytea) as z
    where z.band = 1
    union all
    select zt.zone_set, z.zone_id, sum(z.total) / sum(z.pixels)
    from zt
    join tt on tt.tile_x = zt.tile_x and tt.tile_y = zt.tile_y
    cross join lateral raster.np_zonal(zt.rast::bytea, tt.rast::bytea) as z
    where z.band = 1
    group by zt.zone_set, z.zone_id
)

select
    {{ var('run_id') }}::bigint as run_id,
    c.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    coalesce(z.zone_name, r.region_name) as zone_name,
    c.trend_class,
    k.name_en as trend_name_en,
    k.name_zh as trend_name_zh,
    c.pixels,
    c.pixels * r.pixel_area_ha as area_ha,
    100.0 * c.pixels::float8 / sum(c.pixels) over (partition by c.zone_set, c.zone_id)
        as share_pct,
    s.mean_slope as zone_mean_sen_slope_per_yr
from counts as c
cross join region as r
join {{ ref('ndvi_trend_classes') }} as k on k.trend_class = c.trend_class
left join {{ ref('stg_registry__zones') }} as z
    on z.zone_id = c.zone_id and z.zone_set = c.zone_set
left join slopes as s on s.zone_set = c.zone_set and s.zone_id = c.zone_id
