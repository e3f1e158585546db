{# Land-cover trajectories (the pixel cross-tab of all epochs) counted where the tiles are.
   The caller's block is the computation on this server (raster.trajectories over the tile
   stacks); it runs when the epochs' tiles are here, or on data nodes but not co-located. When
   they lie co-located on data nodes (raster.node_placement) raster.np_node_trajectories runs
   the same kernel on every node over its own tiles and only the counts travel. The placement
   is read when the model runs (dbt compiles a model just before running it), and only the
   branch that applies is compiled: a query holding the node branch (dblink, a function that
   PostgreSQL must not run in parallel mode) could not use parallel workers for the other.
   Rows: (zone_set, zone_id, classes, pixels); zone_sets: a relation of zone sets (column
   zone_set) for the per-zone rows, none for the whole region (zone_set 'region', zone 0). #}
{% macro node_trajectories(zone_sets=none) -%}
    {%- set on_nodes = false -%}
    {%- if execute -%}
        {%- set placed = run_query(
            "select raster.node_placement(array(select catalog_id from "
            ~ ref('stg_raster__landcover_epochs') ~ " order by epoch_no)) is not null") -%}
        {%- set on_nodes = placed.columns[0].values()[0] -%}
    {%- endif -%}
    {%- set catalog_ids = "array(select catalog_id from " ~ ref('stg_raster__landcover_epochs')
                          ~ " order by epoch_no)" -%}
    {% if not on_nodes -%}
        {{ caller() }}
    {%- elif zone_sets is none -%}
    select 'region' as zone_set, n.zone_id, n.classes, n.pixels
    from raster.np_node_trajectories({{ catalog_ids }}, null) as n
    {%- else -%}
    select zs.zone_set, n.zone_id, n.classes, n.pixels
    from {{ zone_sets }} as zs
    cross join lateral raster.np_node_trajectories({{ catalog_ids }}, zs.zone_set) as n
    {%- endif %}
{%- endmacro %}
