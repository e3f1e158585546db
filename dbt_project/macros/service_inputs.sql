{# The input layers of a service model per land-cover epoch (stg_raster__service_layers):
   for each (layer, alias) of `inputs` its catalog id <alias>_id, and the arrays scales and
   offsets of the layers in that order; with veg=true also the vegetation cover (an fvc layer,
   else NDVI) as veg_id, veg_is_fvc and the last entry of the arrays. #}
{% macro service_epoch_layers(inputs, veg=false) -%}
    select landcover_catalog_id,
           landcover_epoch,
    {%- for layer, alias in inputs %}
           max(catalog_id) filter (where layer = '{{ layer }}') as {{ alias }}_id,
    {%- endfor %}
    {%- if veg %}
           coalesce(max(catalog_id) filter (where layer = 'fvc'),
                    max(catalog_id) filter (where layer = 'ndvi')) as veg_id,
           bool_or(layer = 'fvc') as veg_is_fvc,
    {%- endif %}
    {%- for col, name in [('scale_factor', 'scales'), ('add_offset', 'offsets')] %}
           array[
        {%- for layer, alias in inputs %}
                 max({{ col }}) filter (where layer = '{{ layer }}')
                 {{- ',' if not loop.last or veg }}
        {%- endfor %}
        {%- if veg %}
                 coalesce(max({{ col }}) filter (where layer = 'fvc'),
                          max({{ col }}) filter (where layer = 'ndvi'))
        {%- endif %}
           ]::float8[] as {{ name }}{{ ',' if loop.first }}
    {%- endfor %}
    from {{ ref('stg_raster__service_layers') }}
    group by landcover_catalog_id, landcover_epoch
{%- endmacro %}

{# NDVI end members of the dimidiate model (FVC from NDVI where no fvc layer is loaded): the
   fvc_ndvi_soil_pct and fvc_ndvi_veg_pct percentiles of each NDVI epoch over the region (a
   1000-bin histogram of the stored values, then scale and offset). CTEs ndvi, ndvi_range,
   ndvi_bins and ndvi_ends (catalog_id, ndvi_soil, ndvi_veg), read from the CTE `computable`
   (veg_id, veg_is_fvc, scales, offsets; the cover's scale and offset at position `k`). #}
{% macro ndvi_end_members(k) -%}
ndvi as (
    select distinct veg_id as catalog_id, scales[{{ k }}] as scale,
           offsets[{{ k }}] as "offset"
    from computable where not veg_is_fvc
),

ndvi_range as (
    select n.catalog_id, (st_summarystatsagg(t.rast, 1, true)).*
    from ndvi as n
    cross join {{ entry_tiles('n.catalog_id') }} as t
    group by n.catalog_id
),

ndvi_bins as (
    select r.catalog_id, u.i, sum(u.c)::bigint as c
    from ndvi_range as r
    cross join {{ entry_tiles('r.catalog_id') }} as t
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
)
{%- endmacro %}
