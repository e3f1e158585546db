{# the weighted overlay of the run's factor tiles, per tile position (raster.np_overlay);
   with_breaks: grade D, I and composite with int_score_breaks and the priority matrix #}
{% macro priority_overlay(with_breaks) -%}
with w as (
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
