{{ config(pre_hook="{{ delete_this_run() }}") }}
-- NDVI trend classes per zone (every zone set and the whole region): area and share of each
-- class, and the zone's mean Theil-Sen slope over pixels with a trend
-- Each trend tile is read once for the region and all zone sets (raster.np_zone_stats: the
-- counts of band 7, the trend class, and the valid pixels and sums of every band); where the
-- trend tiles are kept on data nodes, on each node over its own tiles.
with stats as (
    {{ zone_tile_stats(ref('int_ndvi_trend_tiles'), count_band=7,
                       node_table=('derived_ndvi_trend' if 'ndvi_trend' in var('derived_on_nodes')
                                   else none)) }}
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
