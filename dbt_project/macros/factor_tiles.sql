{# The factor tiles of int_factor_tiles before the constraint mask, as CTEs ending in "raw"
   (factor, tile_x, tile_y, rast). part 'all': every factor of the run, those of
   node_factor_kinds() read from the tiles the data nodes wrote (raster.derived_factor_<name>);
   part 'coordinator': only the factors computed on this server (int_factor_placement asks
   whether there are any). #}
{% macro factor_tile_ctes(part) -%}
{%- if part not in ('all', 'coordinator') -%}
{{ exceptions.raise_compiler_error("factor_tile_ctes: part is 'all' or 'coordinator'") }}
{%- endif -%}
{%- set on_nodes = node_factor_kinds() -%}
-- the per-run lookup arrays enter each branch as scalar subqueries (a one-row relation joined
-- to the tiles kept PostgreSQL from calling the branch's kernels in parallel workers)
-- a branch reads the tiles of a single entry (lc_now, landcover_t1 ...) with
-- catalog_id = (select ...): PostgreSQL then reads only that entry's partition of raster.tiles
-- (a join on catalog_id read all of them, and with data nodes every tile of every layer)
-- (f, layers and lc_now are read in several branches: inlined, not materialized, since a
-- CTE scan would keep its branch out of the workers)
with f as not materialized (
    select * from {{ ref('int_ident_factors') }}
),

layers as not materialized (
    select * from {{ ref('stg_raster__ident_layers') }}
),

lc_now as not materialized (
    select catalog_id from layers where role = 'landcover_now'
),

density as (
    -- total carbon density per class (sum over pools) as the carbon models resolved it
    {{ factor_lookup('density') }}
),

severity as (
    {{ factor_lookup('severity') }}
),

trend_scores as (
    {{ factor_lookup('trend_scores') }}
),

cropland as (
    {{ factor_lookup('cropland') }}
),

raw as (
{% call factor_branch('ndvi_trend', on_nodes, part) %}
select 'ndvi_trend' as factor, t.tile_x, t.tile_y,
       st_rastfromwkb(raster.np_lookup(raster.np_physical(t.rast::bytea, 7),
                                       (select codes from trend_scores),
                                       (select vals from trend_scores))) as rast
from {{ ref('int_ndvi_trend_tiles') }} as t
where exists (select 1 from f where factor = 'ndvi_trend')
{% endcall %}

union all
{% call factor_branch('fvc', on_nodes, part) %}
select 'fvc', tile_x, tile_y, st_rastfromwkb(raster.np_physical(rast::bytea, 8))
from {{ ref('int_ndvi_trend_tiles') }}
where exists (select 1 from f where factor = 'fvc')
{% endcall %}

union all
{% call factor_branch('slope', on_nodes, part) %}
select 'slope', tile_x, tile_y, st_rastfromwkb(raster.np_physical(rast::bytea, 1))
from {{ ref('int_slope_tiles') }}
where exists (select 1 from f where factor = 'slope')
{% endcall %}

union all
{% call factor_branch('landcover_degradation', on_nodes, part) %}
select 'landcover_degradation', a.tile_x, a.tile_y,
       st_rastfromwkb(raster.np_pair_lookup(a.rast::bytea, b.rast::bytea,
                                            (select t1 from severity), (select t2 from severity),
                                            (select sev from severity)))
from {{ source('raster', 'tiles') }} as a
join {{ source('raster', 'tiles') }} as b on b.tile_x = a.tile_x and b.tile_y = a.tile_y
where a.catalog_id = (select catalog_id from layers where role = 'landcover_t1')
  and b.catalog_id = (select catalog_id from layers where role = 'landcover_t2')
  and exists (select 1 from f where factor = 'landcover_degradation')
{% endcall %}

union all
{% call factor_branch('steep_cropland', on_nodes, part) %}
select 'steep_cropland', t.tile_x, t.tile_y,
       st_rastfromwkb(raster.np_steep_class(t.rast::bytea, s.rast::bytea,
                                            (select codes from cropland),
                                            {{ var('steep_slope_deg') }}))
from {{ source('raster', 'tiles') }} as t
join {{ ref('int_slope_tiles') }} as s on s.tile_x = t.tile_x and s.tile_y = t.tile_y
where t.catalog_id = (select catalog_id from lc_now)
  and exists (select 1 from f where factor = 'steep_cropland')
{% endcall %}

union all
{% call factor_branch('carbon_density', on_nodes, part) %}
select 'carbon_density', t.tile_x, t.tile_y,
       st_rastfromwkb(raster.np_lookup(t.rast::bytea, (select codes from density),
                                       (select vals from density), -9999))
from {{ source('raster', 'tiles') }} as t
where t.catalog_id = (select catalog_id from lc_now)
  and (select codes from density) is not null
  and exists (select 1 from f where factor = 'carbon_density')
{% endcall %}

union all
select f.factor, t.tile_x, t.tile_y,
       st_rastfromwkb(raster.np_physical(t.rast::bytea, 1, l.scale_factor, l.add_offset))
from f
join layers as l on l.layer = f.source_layer and l.role in ('layer', 'dem')
cross join {{ entry_tiles('l.catalog_id') }} as t
where f.is_extra_layer

union all
-- ecosystem services (importance): the importance class 1 一般, 2 重要, 3 极重要
select g.service, g.tile_x, g.tile_y, g.rast
from {{ ref('int_service_grade_tiles') }} as g
where exists (select 1 from f where factor = g.service)

union all
-- soil erosion intensity (SL 190 class 1 micro ... 6 severe) of the last observed land cover
select 'soil_erosion', s.tile_x, s.tile_y,
       st_rastfromwkb(raster.np_lookup(raster.np_physical(s.rast::bytea, 7),
                                       array[1, 2, 3, 4, 5, 6], array[1, 2, 3, 4, 5, 6]))
from {{ ref('int_soil_tiles') }} as s
join lc_now on lc_now.catalog_id = s.landcover_catalog_id
where exists (select 1 from f where factor = 'soil_erosion')

union all
-- ecological sensitivity (degradation): classes 1 ... 5, 0 (not computed) left out
select x.factor, s.tile_x, s.tile_y,
       st_rastfromwkb(raster.np_lookup(raster.np_physical(s.rast::bytea, x.band),
                                       array[1, 2, 3, 4, 5], array[1, 2, 3, 4, 5]))
from {{ ref('int_sensitivity_tiles') }} as s
join lc_now on lc_now.catalog_id = s.landcover_catalog_id
cross join (values ('erosion_sensitivity', 1), ('desertification_sensitivity', 2),
                   ('rocky_desertification_sensitivity', 3)) as x (factor, band)
where exists (select 1 from f where f.factor = x.factor)
)
{%- endmacro %}

{# One branch of factor_tile_ctes for a factor the data nodes may compute: the tiles they wrote
   (raster.derived_factor_<kind>) when kind is one of on_nodes, none of them in part
   'coordinator', else the single-server query (the body of the call). #}
{% macro factor_branch(kind, on_nodes, part) -%}
{%- if kind in on_nodes and part == 'coordinator' -%}
select null::text as factor, null::integer as tile_x, null::integer as tile_y,
       null::raster as rast where false
{%- elif kind in on_nodes -%}
select '{{ kind }}' as factor, tile_x, tile_y, rast from raster.derived_factor_{{ kind }}
{%- else -%}
{{ caller() }}
{%- endif -%}
{%- endmacro %}
