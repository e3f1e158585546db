-- distribution of every factor over the region: pixels, min, max, mean, the bounds of its
-- min-max normalisation (fixed bounds where the factor table gives them, else the clipping
-- percentiles from a 1000-bin histogram) and the entropy of the normalised values.
-- Two passes over the factor tiles, both in PostgreSQL's parallel workers: the pixels, sum,
-- min and max of each tile (raster.np_band_stats), then, with each factor's range, each
-- tile's histogram (raster.np_histogram). The kernels are called in the select list of a
-- subquery (in a lateral join PostgreSQL counts a kernel's cost once for all tiles and plans
-- no workers), the ranges enter as scalar subqueries, and ident.histogram_quantile is
-- declared parallel safe (one parallel-unsafe function anywhere keeps the whole query serial)
-- With the run's identification on the data nodes (int_factor_placement), both passes run on
-- every node over its own factor tiles (raster.node_rows) and only the per-tile statistics
-- and the histograms' bins travel; the rest is computed here from them as on one server.
-- depends_on: {{ ref('int_factor_placement') }}
{% set on_nodes = overlay_on_nodes() %}
{% set kinds = placed_factor_kinds() if on_nodes else [] %}
{% set kinds_array %}array[{% for k in kinds %}'{{ k }}'{{ ", " if not loop.last }}{% endfor %}]::text[]{% endset %}
{% set sources %}array[{% for k in kinds %}'derived_factor_{{ k }}'{{ ", " if not loop.last }}{% endfor %}]::text[]{% endset %}
with f as (
    select * from {{ ref('int_ident_factors') }}
),

tile_stats as (
{%- if on_nodes %}
    -- each data node's factor tiles (int_factor_placement): the per-tile statistics there
    select r.factor, r.tile_x, r.tile_y, r.pixels, r.total, r.min_value, r.max_value
    from raster.node_rows(
        'node-side factor statistics', {{ sources }},
        'select s.factor, s.tile_x, s.tile_y, (s.st).* from ('
        {%- for k in kinds %}
        '{{ "" if loop.first else " union all " }}select ''{{ k }}'' as factor, tile_x, tile_y, '
        'raster.np_band_stats(rast::bytea, 1) as st from raster.%{{ loop.index }}$I'
        {%- endfor %}
        ') as s') as j
    cross join lateral jsonb_to_recordset(j.rows)
        as r(factor text, tile_x integer, tile_y integer, pixels bigint, total float8,
             min_value float8, max_value float8)
{%- else %}
    select s.factor, s.tile_x, s.tile_y, (s.st).*
    from (select factor, tile_x, tile_y, raster.np_band_stats(rast::bytea, 1) as st
          from {{ ref('int_factor_tiles') }}) as s
{%- endif %}
),

mm as (
    -- factors with at least one valid pixel (a factor whose inputs are missing everywhere,
    -- e.g. a sensitivity without its soil layers, has tiles of nodata only and is left out);
    -- the sum in tile order, so that the mean does not depend on the order of the rows
    select factor, sum(pixels)::bigint as count, min(min_value) as min, max(max_value) as max,
           sum(total order by tile_x, tile_y) / sum(pixels)::float8 as mean
    from tile_stats
    group by factor
    having sum(pixels) > 0
),

ranges as (
    select array_agg(factor order by factor) as factors,
           array_agg(min order by factor) as lo,
           array_agg(max order by factor) as hi
    from mm
),

bins as (
{%- if on_nodes %}
    -- each data node's histograms of its factor tiles, summed per bin there and here
    select r.factor, r.i, sum(r.c)::bigint as c
    from raster.node_rows(
        'node-side factor histograms', {{ sources }},
        (select coalesce(
                    'select h.factor, u.i, sum(u.c)::bigint as c from ('
                    || string_agg(format(
                           'select %L as factor, raster.np_histogram(rast::bytea, 1, '
                           '%s::float8, %s::float8, 1000) as h from raster.%%%s$I',
                           k.factor, k.lo, k.hi, array_position({{ kinds_array }}, k.factor)),
                           ' union all ')
                    || ') as h cross join lateral unnest((h.h).counts) with ordinality '
                       'as u(c, i) group by 1, 2',
                    'select null::text as factor, null::integer as i, null::bigint as c '
                    'where false')
         from ranges as r
         cross join lateral unnest(r.factors, r.lo, r.hi) as k(factor, lo, hi))) as j
    cross join lateral jsonb_to_recordset(j.rows) as r(factor text, i integer, c bigint)
    group by r.factor, r.i
{%- else %}
    -- the bins of every tile's histogram, summed per factor (the bins unnested in a select
    -- list: one pass over the histograms, not a join per tile)
    select s.factor, s.i, sum(s.c)::bigint as c
    from (
        select h.factor, generate_subscripts((h.h).counts, 1) as i, unnest((h.h).counts) as c
        from (
            select t.factor,
                   raster.np_histogram(
                       t.rast::bytea, 1,
                       (select lo from ranges)[array_position((select factors from ranges),
                                                              t.factor)],
                       (select hi from ranges)[array_position((select factors from ranges),
                                                              t.factor)],
                       1000) as h
            from {{ ref('int_factor_tiles') }} as t
            where array_position((select factors from ranges), t.factor) is not null
        ) as h
    ) as s
    group by s.factor, s.i
{%- endif %}
),

agg as (
    select b.factor, array_agg(b.c order by b.i) as counts
    from bins as b group by b.factor
),

pct as (
    select f.factor, f.direction, mm.count as pixels, mm.min as min_value, mm.max as max_value,
           mm.mean as mean_value, agg.counts,
           coalesce(f.fixed_low, ident.histogram_quantile(agg.counts, mm.min, mm.max,
                                                          f.clip_low_pct / 100.0)) as p_low,
           coalesce(f.fixed_high, ident.histogram_quantile(agg.counts, mm.min, mm.max,
                                                           f.clip_high_pct / 100.0)) as p_high
    from f
    join mm on mm.factor = f.factor
    join agg on agg.factor = f.factor
),

norm as (
    -- normalised value of each bin centre, for the entropy weight
    select p.factor, u.c,
           greatest(0, least(1,
               case when p.p_high > p.p_low
                    then (p.min_value + (p.max_value - p.min_value) / 1000.0 * (u.i - 0.5)
                          - p.p_low) / (p.p_high - p.p_low)
                    else 0 end)) as x0,
           p.direction
    from pct as p cross join lateral unnest(p.counts) with ordinality as u(c, i)
),

entropy as (
    select factor,
           sum(c * x) as s,
           sum(case when x > 0 then c * x * ln(x) else 0 end) as s_ln
    from (select factor, c, case when direction < 0 then 1 - x0 else x0 end as x from norm) as n
    group by factor
)

select
    p.factor,
    p.pixels,
    p.min_value,
    p.max_value,
    p.mean_value,
    p.p_low,
    -- a constant or two-valued factor keeps its full range
    case when p.p_high > p.p_low then p.p_high else p.max_value end as p_high,
    case when p.pixels > 1 and e.s > 0
         then -(e.s_ln / e.s - ln(e.s)) / ln(p.pixels::float8) end as entropy
from pct as p
join entropy as e on e.factor = p.factor
