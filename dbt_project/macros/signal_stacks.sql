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

{# the catalog entries of the two stacks, in time order, with their years (and the signal's
   scales and offsets): a model reads a position's tiles with raster.tile_stack(ids, x, y),
   null where an entry has no tile there (the kernels skip those) #}
{% macro landcover_epoch_ids(observed=true) -%}
    select array_agg(catalog_id order by epoch_no) as ids,
           array_agg(epoch_year order by epoch_no) as years
    from ({% if observed %}{{ observed_landcover_epochs() }}{% else -%}
          select catalog_id, epoch_no, epoch_year
          from {{ ref('stg_raster__landcover_epochs') }}{% endif %}) as e
{%- endmacro %}

{% macro signal_epoch_ids() -%}
    select array_agg(catalog_id order by epoch_date) as ids,
           array_agg(epoch_year order by epoch_date) as years,
           array_agg(scale_factor order by epoch_date) as scales,
           array_agg(add_offset order by epoch_date) as offsets
    from {{ ref('int_signal_epochs') }}
{%- endmacro %}
