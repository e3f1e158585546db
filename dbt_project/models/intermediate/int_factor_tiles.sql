{% if 'factors' in var('derived_on_nodes') %}
-- With the run's land cover, NDVI and DEM co-located on data nodes, the factors computed from
-- them (node_factor_kinds: the NDVI trend score, FVC, slope, land-cover degradation, steep
-- cropland, carbon density) are computed by every node over its own tiles (the pre-hook, macro
-- node_factors: the kernels of the branches of factor_tile_ctes) and read here as one-band
-- tiles; the mask and every other factor as on one server. When every factor of the run is
-- computed there (int_factor_placement), the nodes apply the mask too and keep the tiles: the
-- statistics, overlay, grades, patch parts and zone sums run there as well (macro
-- overlay_on_nodes), and this table stays empty.
{{ config(indexes=[{'columns': ['tile_x', 'tile_y']}], pre_hook="{{ node_factors() }}") }}
{% else %}
{{ config(indexes=[{'columns': ['tile_x', 'tile_y']}]) }}
{% endif %}
-- every factor of the run as one-band float tiles (physical values) on the region grid, with
-- the pixels of the constraint mask (int_constraint_mask_tiles) set to nodata
-- depends_on: {{ ref('int_factor_placement') }}
{% if overlay_on_nodes() %}
select null::text as factor, null::integer as tile_x, null::integer as tile_y,
       null::raster as rast
where false
{% else %}
{{ factor_tile_ctes('all') }}

select r.factor, r.tile_x, r.tile_y,
       case when m.excluded_pixels > 0
            then st_rastfromwkb(raster.np_apply_mask(r.rast::bytea, m.rast::bytea))
            else r.rast end as rast
from raw as r
left join {{ ref('int_constraint_mask_tiles') }} as m
    on m.tile_x = r.tile_x and m.tile_y = r.tile_y
{% endif %}
