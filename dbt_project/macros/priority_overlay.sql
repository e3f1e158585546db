{# the weighted overlay of the run's factor tiles, per tile position (raster.np_overlay);
   with_breaks: grade D, I and composite with int_score_breaks and the priority matrix #}
{% macro priority_overlay(with_breaks) -%}
with {{ overlay_params(with_breaks) }}

-- each tile position reads its factor tiles through raster.named_tile_stack (in factor order,
-- null where a factor has no tile there; no row where none has), so that the kernel runs once
-- per position, in PostgreSQL's parallel workers too (the run's parameters enter as scalar
-- subqueries: a one-row relation joined to the positions would keep the kernel out of them)
select
    p.tile_x,
    p.tile_y,
    st_rastfromwkb(raster.np_overlay(
        g.rasts, (select lo from params), (select hi from params), (select dir from params),
        (select grp from params), (select wt from params), {{ var('degradation_share') }},
        {% if with_breaks %}(select d_breaks from breaks), (select i_breaks from breaks),
        (select c_breaks from breaks), (select m from matrix)
        {% else %}null, null, null, null{% endif %})) as rast
from {{ ref('int_tile_positions') }} as p
cross join lateral raster.named_tile_stack(
    '{{ ref("int_factor_tiles").include(database=false) }}'::regclass,
    (select factors from params), p.tile_x, p.tile_y) as g (rasts)
where (select factors from params) is not null
{%- endmacro %}

{# The overlay's parameters (CTEs w, params; with_breaks: breaks, matrix): the run's factors in
   factor_no order with their normalisation bounds, directions, groups and weights; the class
   breaks of the three scores and the priority matrix. #}
{% macro overlay_params(with_breaks) -%}
w as (
    select w.*, s.p_low, s.p_high
    from {{ ref('int_factor_weights') }} as w
    join {{ ref('int_factor_stats') }} as s on s.factor = w.factor
),

params as (
    select array_agg(factor order by factor_no) as factors,
           array_agg(p_low order by factor_no) as lo,
           array_agg(p_high order by factor_no) as hi,
           array_agg(direction order by factor_no) as dir,
           array_agg(group_no order by factor_no) as grp,
           array_agg(weight order by factor_no) as wt
    from w
){% if with_breaks %},

breaks as (
    select
        max(case when score = 'degradation' then breaks end) as d_breaks,
        max(case when score = 'importance' then breaks end) as i_breaks,
        max(case when score = 'composite' then breaks end) as c_breaks
    from {{ ref('int_score_breaks') }}
),

matrix as (
    select array_agg(grade order by importance_class, degradation_class) as m
    from {{ ref('priority_matrix') }}
){% endif %}
{%- endmacro %}

{# The overlay of priority_overlay as one query for the data nodes (an SQL expression giving
   its text): rows (tile_x, tile_y, rast) over each node's factor tiles, raster.%1$I, %2$I …
   standing for the run's factors in factor_no order (node_overlay_sources), each tile position
   where a factor has a tile; rast is the kernel's bytea (as_raster: a raster). #}
{% macro node_overlay_query(with_breaks, as_raster) -%}
(with {{ overlay_params(with_breaks) }}
select format(
    'select p.tile_x, p.tile_y, {{ "st_rastfromwkb(%s)" if as_raster else "%s" }} as rast '
    'from (%s) as p %s',
    format('raster.np_overlay(array[%s]::bytea[], %L::double precision[], '
           '%L::double precision[], %L::integer[], %L::integer[], %L::double precision[], '
           '{{ var("degradation_share") }}, %s)',
           string_agg(format('f%s.rast::bytea', k.k), ', ' order by k.k),
           pa.lo, pa.hi, pa.dir, pa.grp, pa.wt,
           {% if with_breaks -%}
           format('%L::double precision[], %L::double precision[], %L::double precision[], '
                  '%L::integer[]', b.d_breaks, b.i_breaks, b.c_breaks, m.m)
           {%- else -%}
           'null, null, null, null'
           {%- endif %}),
    string_agg(format('select tile_x, tile_y from raster.%%%s$I', k.k), ' union '
               order by k.k),
    string_agg(format('left join raster.%%%1$s$I as f%1$s on f%1$s.tile_x = p.tile_x '
                      'and f%1$s.tile_y = p.tile_y', k.k), ' ' order by k.k))
from params as pa
cross join lateral generate_series(1, cardinality(pa.factors)) as k(k)
{% if with_breaks %}cross join breaks as b cross join matrix as m{% endif %}
group by pa.lo, pa.hi, pa.dir, pa.grp, pa.wt{% if with_breaks %}, b.d_breaks, b.i_breaks,
         b.c_breaks, m.m{% endif %})
{%- endmacro %}

{# The data nodes' tables of the run's factor tiles in factor_no order, as node_overlay_query
   numbers them (an SQL expression). #}
{% macro node_overlay_sources() -%}
(select array_agg('derived_factor_' || w.factor order by w.factor_no)
 from {{ ref('int_factor_weights') }} as w
 join {{ ref('int_factor_stats') }} as s on s.factor = w.factor)
{%- endmacro %}
