{# the observed land-cover epochs of the run (scenario maps dated after today left out) #}
{% macro observed_landcover_epochs() -%}
    select catalog_id, epoch_no, epoch_label, epoch_year
    from {{ ref('stg_raster__landcover_epochs') }}
    where epoch_date <= current_date
{%- endmacro %}

{# one tile per observed land-cover epoch at each tile position, in time order (null: no tile),
   with the epochs' years #}
{% macro observed_landcover_stacks() -%}
    select p.tile_x, p.tile_y, array_agg(t.rast::bytea order by e.epoch_no) as tiles,
           array_agg(e.epoch_year order by e.epoch_no) as years
    from (
        select distinct t.tile_x, t.tile_y
        from {{ source('raster', 'tiles') }} as t
        join ({{ observed_landcover_epochs() }}) as e on e.catalog_id = t.catalog_id
    ) as p
    cross join ({{ observed_landcover_epochs() }}) as e
    left join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = e.catalog_id and t.tile_x = p.tile_x and t.tile_y = p.tile_y
    group by p.tile_x, p.tile_y
{%- endmacro %}

{# the vegetation signal's tiles at each tile position (int_signal_epochs), in time order, with
   their years, scales and offsets #}
{% macro signal_tile_stacks() -%}
    select t.tile_x, t.tile_y,
           array_agg(t.rast::bytea order by s.epoch_date) as tiles,
           array_agg(s.epoch_year order by s.epoch_date) as years,
           array_agg(s.scale_factor order by s.epoch_date) as scales,
           array_agg(s.add_offset order by s.epoch_date) as offsets
    from {{ ref('int_signal_epochs') }} as s
    join {{ source('raster', 'tiles') }} as t on t.catalog_id = s.catalog_id
    group by t.tile_x, t.tile_y
{%- endmacro %}

{# the same two stacks at one tile position (p: a row with tile_x, tile_y), as lateral
   subqueries: a model that drives them from int_tile_positions calls its kernel once per
   position, in parallel workers too. The land-cover stack has n_tiles = 0 where no epoch has a
   tile there; the signal stack's arrays are null where the signal has none. #}
{% macro landcover_stack_at(p) -%}
    select array_agg(t.rast::bytea order by e.epoch_no) as tiles,
           array_agg(e.epoch_year order by e.epoch_no) as years,
           count(t.rast) as n_tiles
    from ({{ observed_landcover_epochs() }}) as e
    left join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = e.catalog_id and t.tile_x = {{ p }}.tile_x and t.tile_y = {{ p }}.tile_y
{%- endmacro %}

{% macro signal_stack_at(p) -%}
    select array_agg(t.rast::bytea order by s.epoch_date) as tiles,
           array_agg(s.epoch_year order by s.epoch_date) as years,
           array_agg(s.scale_factor order by s.epoch_date) as scales,
           array_agg(s.add_offset order by s.epoch_date) as offsets
    from {{ ref('int_signal_epochs') }} as s
    join {{ source('raster', 'tiles') }} as t
        on t.catalog_id = s.catalog_id and t.tile_x = {{ p }}.tile_x and t.tile_y = {{ p }}.tile_y
{%- endmacro %}
