-- distribution of every factor over the region: pixels, min, max, mean, the bounds of its
-- min-max normalisation (fixed bounds where the factor table gives them, else the clipping
-- percentiles from a 1000-bin histogram) and the entropy of the normalised values
with f as (
    select * from {{ ref('int_ident_factors') }}
),

tiles as (
    select * from {{ ref('int_factor_tiles') }}
),

mm as (
    -- factors with at least one valid pixel (a factor whose inputs are missing everywhere,
    -- e.g. a sensitivity without its soil layers, has tiles of nodata only and is left out)
    select * from (select factor, (st_summarystatsagg(rast, 1, true)).*
                   from tiles group by factor) as s
    where s.count > 0
),

hist as (
    select t.factor, h.*
    from tiles as t
    join mm on mm.factor = t.factor
    cross join lateral raster.np_histogram(t.rast::bytea, 1, mm.min, mm.max, 1000) as h
),

bins as (
    select h.factor, u.i, sum(u.c)::bigint as c
    from hist as h cross join lateral unnest(h.counts) with ordinality as u(c, i)
    group by h.factor, u.i
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
