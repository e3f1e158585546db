-- where the identification of this run is computed: on_nodes when every factor with tiles is
-- computed on the data nodes (node_kinds: node_factor_kinds, from the run's land cover, NDVI
-- and DEM co-located there), no factor comes from this server (services, soil, sensitivity,
-- extra layers: factor_tile_ctes('coordinator') gives no tile) and the constraint mask's
-- layers lie with the land cover. The nodes then keep the factor and priority tiles and send
-- only aggregates (macro overlay_on_nodes); otherwise everything after the factors is
-- computed here, as on one server. One row.
{% set kinds = node_factor_kinds() %}
{{ factor_tile_ctes('coordinator') }},

masks as (
    select catalog_id from layers
    where role = 'landcover_now' or (role = 'layer' and layer like 'mask\_%')
)

select
    array[{% for k in kinds %}'{{ k }}'{{ ", " if not loop.last }}{% endfor %}]::text[]
        as node_kinds,
    {{ 'true' if kinds else 'false' }}
        and not exists (select 1 from raw)
        and raster.node_placement(array(select catalog_id from masks order by catalog_id))
            is not null as on_nodes
