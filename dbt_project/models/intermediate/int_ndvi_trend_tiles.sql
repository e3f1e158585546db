-- per tile position of the NDVI layer: Theil-Sen slope, Mann-Kendall S / Var(S) / Z / p,
-- valid years, trend class and the latest year's NDVI (raster.np_ndvi_trend, 8 bands).
-- Driven by the tile positions (a lateral query gathers each position's stack), so that the
-- kernel runs in parallel workers too.
with e as (
    select * from {{ ref('stg_raster__ident_layers') }} where role = 'ndvi'
)

select
    p.tile_x,
    p.tile_y,
    st_rastfromwkb(raster.np_ndvi_trend(
        s.tiles, s.years, s.scales, s.offsets,
        '{{ var("ndvi_annual_reduce") }}', {{ var('trend_min_years') }},
        {{ var('trend_stable_slope') }}, {{ var('trend_alpha') }}, {{ var('ndvi_min') }}))
        as rast
from {{ ref('int_tile_positions') }} as p
cross join lateral (
    select array_agg(t.rast::bytea order by e.epoch_year, e.catalog_id) as tiles,
           array_agg(e.epoch_year order by e.epoch_year, e.catalog_id) as years,
           array_agg(e.scale_factor order by e.epoch_year, e.catalog_id) as scales,
           array_agg(e.add_offset order by e.epoch_year, e.catalog_id) as offsets,
           count(distinct e.epoch_year) as n_years
    from e
    join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = e.catalog_id and t.tile_x = p.tile_x and t.tile_y = p.tile_y
) as s
where s.n_years >= 3
