{# Land-cover trajectories (the pixel cross-tab of all epochs) counted where the tiles are.
   The caller's block is the computation on this server (raster.trajectories over the tile
   stacks); it runs when the epochs' tiles are here, or on data nodes but not co-located. When
   they lie co-located on data nodes (raster.node_placement, decided in SQL at run time, so the
   compiled SQL is the same on one server and on a coordinator) raster.np_node_trajectories
   runs the same kernel on every node over its own tiles and only the counts travel. Rows:
   (zone_set, zone_id, classes, pixels); zone_sets: a relation of zone sets (column zone_set)
   for the per-zone rows, none for the whole region (zone_set 'region', zone 0).
   catalog_ids: an SQL array of the land-cover catalog entries in time order. #}
{% macro node_trajectories(catalog_ids, zone_sets=none) -%}
    select * from (
        {{ caller() }}
    ) as on_this_server
    where raster.node_placement({{ catalog_ids }}) is null
    union all
    {% if zone_sets is none -%}
    select 'region', n.zone_id, n.classes, n.pixels
    from raster.np_node_trajectories({{ catalog_ids }}, null) as n
    {%- else -%}
    select zs.zone_set, n.zone_id, n.classes, n.pixels
    from {{ zone_sets }} as zs
    cross join lateral raster.np_node_trajectories({{ catalog_ids }}, zs.zone_set) as n
    {%- endif %}
    where raster.node_placement({{ catalog_ids }}) is not null
{%- endmacro %}
