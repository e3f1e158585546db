{# The NDVI trend of the run computed on the data nodes where its NDVI epochs lie
   (raster.np_node_ndvi_trend: each node writes its trend tiles, and raster.derived_ndvi_trend
   reads them), with the same arguments as the single-server model int_ndvi_trend_tiles. #}
{% macro node_ndvi_trend() -%}
    select raster.np_node_ndvi_trend(
        array_agg(catalog_id order by epoch_year, catalog_id),
        array_agg(epoch_year order by epoch_year, catalog_id),
        array_agg(scale_factor order by epoch_year, catalog_id),
        array_agg(add_offset order by epoch_year, catalog_id),
        '{{ var("ndvi_annual_reduce") }}', {{ var('trend_min_years') }},
        {{ var('trend_stable_slope') }}, {{ var('trend_alpha') }}, {{ var('ndvi_min') }})
    from {{ ref('stg_raster__ident_layers') }}
    where role = 'ndvi'
{%- endmacro %}

{# The slope of the run's DEM computed on the data nodes where its tiles lie
   (raster.np_node_slope: each node writes the slope tiles of its own DEM tiles, and
   raster.derived_slope reads them), as the single-server model int_slope_tiles computes it. #}
{% macro node_slope() -%}
    select raster.np_node_slope(catalog_id)
    from {{ ref('stg_raster__ident_layers') }}
    where role = 'dem'
{%- endmacro %}
