{# Pixel counts per (zone, value) of a raster column of `tiles` (a CTE with tile_x, tile_y):
   the whole region (zone_set 'region', zone_id 0) and every zone set of
   int_ident_zone_tiles. Columns: zone_set, zone_id, <value_name>, pixels. #}
{% macro zone_value_counts(tiles, rast, value_name) -%}
    select 'region' as zone_set, 0 as zone_id, x.v1 as {{ value_name }}, sum(x.pixels) as pixels
    from {{ tiles }} as t cross join lateral raster.crosstab(null, t.{{ rast }}, null) as x
    group by x.v1
    union all
    select zt.zone_set, x.zone_id, x.v1, sum(x.pixels)
    from {{ ref('int_ident_zone_tiles') }} as zt
    join {{ tiles }} as t on t.tile_x = zt.tile_x and t.tile_y = zt.tile_y
    cross join lateral raster.crosstab(zt.rast, t.{{ rast }}, null) as x
    where x.zone_id <> 0
    group by zt.zone_set, x.zone_id, x.v1
{%- endmacro %}

{# Valid pixels and value sums per (zone, band) of a raster column of `tiles`, for the whole
   region and every zone set. Columns: zone_set, zone_id, band, pixels, total. #}
{% macro zone_band_sums(tiles, rast) -%}
    select 'region' as zone_set, 0 as zone_id, z.band, sum(z.pixels) as pixels,
           sum(z.total) as total
    from {{ tiles }} as t cross join lateral raster.np_zonal(null, t.{{ rast }}::bytea) as z
    group by z.band
    union all
    select zt.zone_set, z.zone_id, z.band, sum(z.pixels), sum(z.total)
    from {{ ref('int_ident_zone_tiles') }} as zt
    join {{ tiles }} as t on t.tile_x = zt.tile_x and t.tile_y = zt.tile_y
    cross join lateral raster.np_zonal(zt.rast::bytea, t.{{ rast }}::bytea) as z
    group by zt.zone_set, z.zone_id, z.band
{%- endmacro %}

{# Zone statistics of a raster column of `tiles` (a relation with tile_x, tile_y), each tile
   read once for the whole region (zone_set 'region', zone_id 0) and every zone set of
   int_ident_zone_tiles (raster.np_zone_stats): rows with `value` set count the pixels of band
   count_band per value; rows with `value` null hold every band's valid pixels and sum.
   node_table: the derived tile table on the data nodes that `tiles` reads (raster.<name>), when
   it is there: each node then computes the statistics over its own tiles with the zone tiles
   it keeps (the zone loader's, copied there once per load), and only the sums travel
   (raster.np_node_zone_stats).
   Columns: zone_set, zone_id, band, value, pixels, total. #}
{% macro zone_tile_stats(tiles, rast='rast', count_band=1, node_table=none) -%}
    {%- if node_table -%}
    select n.zone_set, n.zone_id, n.band, n.value, n.pixels, n.total
    from raster.np_node_zone_stats(
        '{{ node_table }}', {{ count_band }}, {{ var('region_id') }},
        array(select distinct zone_set from {{ ref('stg_registry__zones') }})) as n
    {%- else -%}
    select case when (z.r).zone_no = 0 then 'region' else z.sets[(z.r).zone_no] end
               as zone_set,
           (z.r).zone_id, (z.r).band, (z.r).value, (z.r).pixels, (z.r).total
    from (
        -- the kernel in the select list: the planner counts its cost once per tile (called
        -- laterally, once in all) and so runs it in parallel workers
        select zt.sets,
               raster.np_zone_stats(t.{{ rast }}::bytea, zt.rasts, {{ count_band }}) as r
        from {{ tiles }} as t
        left join (
            select tile_x, tile_y, array_agg(zone_set order by zone_set) as sets,
                   array_agg(rast::bytea order by zone_set) as rasts
            from {{ ref('int_ident_zone_tiles') }}
            group by tile_x, tile_y
        ) as zt on zt.tile_x = t.tile_x and zt.tile_y = t.tile_y
    ) as z
    {%- endif %}
{%- endmacro %}
