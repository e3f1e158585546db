{# Land-cover trajectories (the pixel cross-tab of all epochs) counted where the tiles are, for
   the whole region (zone_set 'region', zone 0) and every zone set of `zone_sets` (a relation
   with column zone_set). The caller's block is the computation on this server (over the tile
   stacks); it runs when the epochs' tiles are here, or on data nodes but not co-located. When
   they lie co-located on data nodes (raster.node_placement) raster.np_node_trajectories runs
   the kernel on every node over its own tiles and only the counts travel. The placement
   is read when the model runs (dbt compiles a model just before running it), and only the
   branch that applies is compiled: a query holding the node branch (dblink, a function that
   PostgreSQL must not run in parallel mode) could not use parallel workers for the other.
   Rows: (zone_set, zone_id, classes, pixels). #}
{% macro node_trajectories(zone_sets) -%}
    {%- set catalog_ids = "array(select catalog_id from " ~ ref('stg_raster__landcover_epochs')
                          ~ " order by epoch_no)" -%}
    {% if not tiles_on_nodes(catalog_ids) -%}
        {{ caller() }}
    {%- else -%}
    select 'region' as zone_set, n.zone_id, n.classes, n.pixels
    from raster.np_node_trajectories({{ catalog_ids }}, null) as n
    union all
    select zs.zone_set, n.zone_id, n.classes, n.pixels
    from {{ zone_sets }} as zs
    cross join lateral raster.np_node_trajectories({{ catalog_ids }}, zs.zone_set) as n
    {%- endif %}
{%- endmacro %}


{# Whether the tiles of the catalog entries of SQL array expression `ids` lie co-located on data
   nodes (raster.node_placement), or with colocated=false whether any of them lies on data
   nodes (raster.node_layout of its partition); read when the model runs (false while dbt
   parses) #}
{% macro tiles_on_nodes(ids, colocated=true) -%}
    {%- if execute -%}
        {%- if colocated -%}
            {%- set query = "select raster.node_placement(" ~ ids ~ ") is not null" -%}
        {%- else -%}
            {%- set query = "select coalesce(bool_or(raster.node_layout(to_regclass("
                            ~ "format('raster.tiles_%s', id))) is not null), false) "
                            ~ "from unnest(" ~ ids ~ ") as id" -%}
        {%- endif -%}
        {{- return(run_query(query).columns[0].values()[0]) -}}
    {%- endif -%}
    {{- return(false) -}}
{%- endmacro %}
