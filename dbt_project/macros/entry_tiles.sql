{# The tiles (tile_x, tile_y, rast) of one catalog entry whose id is a column of an earlier
   table of the query (id, e.g. 'c.precip_id'): a lateral subquery kept apart by offset 0, so
   that PostgreSQL reads only that entry's partition of raster.tiles, chosen when the query
   runs. A plain join on catalog_id reads every partition, and with data nodes every tile of
   every layer travels over postgres_fdw. Written
   `cross join {{ entry_tiles('c.lc_id') }} as t`, then
   `join {{ entry_tiles('c.p_id') }} as p on p.tile_x = t.tile_x and p.tile_y = t.tile_y`. #}
{% macro entry_tiles(id) -%}
lateral (select tile_x, tile_y, rast from {{ source('raster', 'tiles') }}
         where catalog_id = {{ id }} offset 0)
{%- endmacro %}


{# SQL array expression of the run's catalog entries of the service inputs whose layer name
   begins with `prefix` (stg_raster__service_layers) #}
{% macro service_layer_ids(prefix) -%}
    {{- return("array(select distinct catalog_id from " ~ ref('stg_raster__service_layers')
               ~ " where left(layer, " ~ prefix | length ~ ") = '" ~ prefix ~ "')") -}}
{%- endmacro %}

{# For a model that reads each tile of the entries `ids` several times (neighbourhoods):
   reread_tiles(ids, name) is the relation to read them from, raster.tiles, or, when any of
   them lies on data nodes, the temporary table `name` that the model's pre-hook
   copy_node_tiles(ids, name) fills, indexed by entry and position, so that each tile travels
   over postgres_fdw once, not once for every neighbourhood it is in. Both decide alike when
   the model runs. #}
{% macro reread_tiles(ids, name) -%}
    {{- return(name if tiles_on_nodes(ids, colocated=false) else source('raster', 'tiles')) -}}
{%- endmacro %}

{% macro copy_node_tiles(ids, name) -%}
    {%- if tiles_on_nodes(ids, colocated=false) -%}
    create temporary table {{ name }} on commit drop as
    select e.catalog_id, t.tile_x, t.tile_y, t.rast
    from unnest({{ ids }}) as e (catalog_id)
    cross join {{ entry_tiles('e.catalog_id') }} as t;
    create index on {{ name }} (catalog_id, tile_x, tile_y);
    analyze {{ name }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
