-- per tile position of the NDVI layer: Theil-Sen slope, Mann-Kendall S / Var(S) / Z / p,
-- valid years, trend class and the latest year's NDVI (raster.np_ndvi_trend, 8 bands), where
-- at least 3 years have a tile. Every tile position reads its stack through raster.tile_stack,
-- so that the kernel runs once per position, in PostgreSQL's parallel workers too.
-- The run's constant arrays enter as scalar subqueries (evaluated once, before the workers
-- start): a one-row relation joined to the positions would keep the kernel out of them.
{% if 'ndvi_trend' in var('derived_on_nodes') %}
-- With the NDVI epochs co-located on data nodes (docs/ARCHITECTURE.md, "Scale-out") every
-- node computes the trend over its own tiles and keeps the result (raster.np_node_ndvi_trend,
-- run by the pre-hook in this model's transaction); this model is then a view of those tiles,
-- read through postgres_fdw by whatever needs them (the factors). The same tiles, bit for bit.
{{ config(materialized='view', pre_hook="{{ node_ndvi_trend() }}") }}
-- depends_on: {{ ref('stg_raster__ident_layers') }}, {{ ref('int_tile_positions') }}
select tile_x, tile_y, rast from raster.derived_ndvi_trend
{% else %}
with e as (
    select array_agg(catalog_id order by epoch_year, catalog_id) as ids,
           array_agg(epoch_year order by epoch_year, catalog_id) as years,
           array_agg(scale_factor order by epoch_year, catalog_id) as scales,
           array_agg(add_offset order by epoch_year, catalog_id) as offsets
    from {{ ref('stg_raster__ident_layers') }}
    where role = 'ndvi'
)

select
    p.tile_x,
    p.tile_y,
    st_rastfromwkb(raster.np_ndvi_trend(
        k.tiles, (select years from e), (select scales from e), (select offsets from e),
        '{{ var("ndvi_annual_reduce") }}', {{ var('trend_min_years') }},
        {{ var('trend_stable_slope') }}, {{ var('trend_alpha') }}, {{ var('ndvi_min') }}))
        as rast
from {{ ref('int_tile_positions') }} as p
cross join lateral raster.tile_stack((select ids from e), p.tile_x, p.tile_y,
                                     (select years from e), 3) as k (tiles)
where (select ids from e) is not null
{% endif %}
