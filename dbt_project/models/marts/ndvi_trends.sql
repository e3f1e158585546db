{{ config(pre_hook="{{ delete_this_run() }}") }}
-- NDVI trend classes per zone (every zone set and the whole region): area and share of each
-- class, and the zone's mean Theil-Sen slope over pixels with a trend
-- Each trend tile is read once for the region and all zone sets (raster.np_zone_stats: the
-- counts of band 7, the trend class, and the valid pixels and sums of every band).
with zone_tiles as (
    select tile_x, tile_y, array_agg(zone_set order by zone_set) as sets,
           array_agg(rast::bytea order by zone_set) as rasts
    from {{ ref('int_ident_zone_tiles') }}
    group by tile_x, tile_y
),

stats as (
    select case when z.zone_no = 0 then 'region' else zt.sets[z.zone_no] end as zone_set,
           z.zone_id, z.band, z.value, z.pixels, z.total
    from {{ ref('int_ndvi_trend_tiles') }} as t
    left join zone_tiles as zt on zt.tile_x = t.tile_x and zt.tile_y = t.tile_y
    cross join lateral raster.np_zone_stats(t.rast::bytea, zt.rasts, 7) as z
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

counts as (
    select zone_set, zone_id, value as trend_class, sum(pixels) as pixels
    from stats where value is not null
    group by zone_set, zone_id, value
),

slopes as (
    select zone_set, zone_id, sum(total) / sum(pixels) as mean_slope
    from stats where value is null and band = 1
    group by zone_set, zone_id
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
