{# consecutive land-cover epochs as periods: (no_t1, no_t2, epoch_t1, epoch_t2, years) #}
{% macro landcover_periods() -%}
    select e1.epoch_no as no_t1, e2.epoch_no as no_t2,
           e1.epoch_label as epoch_t1, e2.epoch_label as epoch_t2,
           e2.epoch_year - e1.epoch_year as years
    from {{ ref('stg_raster__landcover_epochs') }} as e1
    join {{ ref('stg_raster__landcover_epochs') }} as e2 on e2.epoch_no = e1.epoch_no + 1
{%- endmacro %}

{# one tile per land-cover epoch at each tile position, in time order (null: no tile then) #}
{% macro landcover_tile_stacks() -%}
    select p.tile_x, p.tile_y, array_agg(t.rast::bytea order by e.epoch_no) as tiles
    from (
        select distinct t.tile_x, t.tile_y
        from {{ source('raster', 'tiles') }} as t
        join {{ ref('stg_raster__landcover_epochs') }} as e on e.catalog_id = t.catalog_id
    ) as p
    cross join {{ ref('stg_raster__landcover_epochs') }} as e
    left join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = e.catalog_id and t.tile_x = p.tile_x and t.tile_y = p.tile_y
    group by p.tile_x, p.tile_y
{%- endmacro %}
