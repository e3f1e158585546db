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

{# pixels per (period, keys..., class at t1, class at t2) summed over a trajectory model's
   rows (its column classes: the class at every epoch); only pixels valid in both epochs #}
{% macro transitions_from_trajectories(trajectories, keys) -%}
with periods as (
    {{ landcover_periods() }}
)

select
    p.epoch_t1,
    p.epoch_t2,
    p.years,
    {%- for key in keys %}
    t.{{ key }},
    {%- endfor %}
    t.classes[p.no_t1] as class_t1,
    t.classes[p.no_t2] as class_t2,
    sum(t.pixels) as pixels
from {{ trajectories }} as t
cross join periods as p
where t.classes[p.no_t1] is not null and t.classes[p.no_t2] is not null
group by 1, 2, 3{% for key in keys %}, t.{{ key }}{% endfor %}, {{ 4 + keys | length }},
         {{ 5 + keys | length }}
{%- endmacro %}
