-- per tile position of the NDVI layer: Theil-Sen slope, Mann-Kendall S / Var(S) / Z / p,
-- valid years, trend class and the latest year's NDVI (raster.np_ndvi_trend, 8 bands)
with e as (
    select * from {{ ref('stg_raster__ident_layers') }} where role = 'ndvi'
)

select
    t.tile_x,
    t.tile_y,
    st_rastfromwkb(raster.np_ndvi_trend(
        array_agg(t.rast::bytea order by e.epoch_year, e.catalog_id),
        array_agg(e.epoch_year order by e.epoch_year, e.catalog_id),
        array_agg(e.scale_factor order by e.epoch_year, e.catalog_id),
        array_agg(e.add_offset order by e.epoch_year, e.catalog_id),
        '{{ var("ndvi_annual_reduce") }}', {{ var('trend_min_years') }},
        {{ var('trend_stable_slope') }}, {{ var('trend_alpha') }}, {{ var('ndvi_min') }}))
        as rast
from e
join {{ source('raster', 'tiles') }} as t on t.catalog_id = e.catalog_id
group by t.tile_x, t.tile_y
having count(distinct e.epoch_year) >= 3
