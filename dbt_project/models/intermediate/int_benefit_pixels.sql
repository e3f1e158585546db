-- the pixels the benefit against matched controls reads (raster.np_benefit_pixels): every pixel
-- of a project (zone_id 2 x project_version_id) or of its leakage belt (2 x id + 1: within
-- leakage_belt_m of the project, outside every project), and a fixed systematic sample of the
-- region (in_sample; about control_sample_pixels pixels, the same in every run), with the
-- class at every observed land-cover epoch, the yearly signal (int_signal_epochs), elevation
-- and slope. Sampled pixels outside every project and belt are the control pool.
{% set lc_ids = "array(select catalog_id from (" ~ observed_landcover_epochs()
                 ~ ") as e order by epoch_no)" %}
{% set dem_ids = "array(select catalog_id from " ~ ref('stg_raster__ident_layers')
                  ~ " where role = 'dem')" %}
{% set sig_ids = "array(select catalog_id from " ~ ref('int_signal_epochs')
                  ~ " order by epoch_date)" %}
{% set on_nodes = tiles_on_nodes(lc_ids ~ " || " ~ sig_ids ~ " || " ~ dem_ids)
                  and 'slope' in var('derived_on_nodes') %}
with epochs as (
    {{ observed_landcover_epochs() }}
),

project_count as (
    select count(*) as n from {{ ref('stg_registry__projects') }}
),

step as (
    select greatest(1, ceil(sum(c.pixels)::float8
                            / {{ var('control_sample_pixels') }}))::int as step
    from {{ ref('int_landcover_counts') }} as c
    where c.zone_set = 'region'
      and c.epoch_label = (select epoch_label from epochs order by epoch_no limit 1)
),

{% if on_nodes %}
-- the land cover, signal and DEM co-located on data nodes, the slope kept there: every node
-- burns the projects and belts onto its own tiles and takes their pixels and its part of the
-- sample (raster.np_node_benefit_pixels); only those pixels travel
sg as (
    {{ signal_epoch_ids() }}
)

select x.*
from raster.np_node_benefit_pixels(
    {{ lc_ids }}, (select ids from sg), (select years from sg), (select scales from sg),
    (select offsets from sg), ({{ dem_ids }})[1], {{ var('leakage_belt_m') }},
    (select step from step), '{{ var("ndvi_annual_reduce") }}') as x
where (select n from project_count) > 0
{% else %}
stacks as (
    {{ observed_landcover_stacks() }}
),

signal as (
    {{ signal_tile_stacks() }}
),

zones as (
    select zt.tile_x, zt.tile_y, zt.rast
    from (select catalog_id from epochs order by epoch_no limit 1) as first_epoch
    cross join lateral raster.project_tiles(first_epoch.catalog_id,
                                            {{ var('leakage_belt_m') }}) as zt
),

dem as (
    select t.tile_x, t.tile_y, t.rast
    from {{ source('raster', 'tiles') }} as t
    where t.catalog_id = (select catalog_id from {{ ref('stg_raster__ident_layers') }}
                          where role = 'dem')
)

select x.*
from stacks as s
cross join step
left join zones as z on z.tile_x = s.tile_x and z.tile_y = s.tile_y
left join signal as g on g.tile_x = s.tile_x and g.tile_y = s.tile_y
left join dem as d on d.tile_x = s.tile_x and d.tile_y = s.tile_y
left join {{ ref('int_slope_tiles') }} as sl on sl.tile_x = s.tile_x and sl.tile_y = s.tile_y
cross join lateral raster.np_benefit_pixels(z.rast::bytea, s.tiles, g.tiles, g.years, g.scales,
                                            g.offsets, d.rast::bytea, sl.rast::bytea,
                                            step.step, '{{ var("ndvi_annual_reduce") }}') as x
-- an uncorrelated scalar subquery: a one-time filter, so that without projects no tile is read
-- (joined as a relation, its filter came after the scans, and on data nodes every stack
-- travelled over postgres_fdw for nothing: 32 s at 10^8 px)
where (select n from project_count) > 0
{% endif %}
