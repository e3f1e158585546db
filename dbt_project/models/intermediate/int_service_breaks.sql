-- importance classes of each ecosystem service of the last observed land cover (HJ 1173; the
-- ecological red-line guideline): the service's distribution over the region's graded pixels
-- (constraint mask applied) and its two class breaks by the setting service_grading:
--   cumulative_share  the values at which the sum of the largest values reaches
--                     service_shares (50 % and 80 %) of the total: at or above the upper break
--                     极重要 (class 3), at or above the lower 重要 (2), below 一般 (1)
--   natural_breaks    Fisher-Jenks, 3 classes;   quantile   terciles
-- from a 4096-bin histogram with per-bin value sums (ident.cumulative_share_breaks).
-- Water yield is graded only where the run has no water conservation (no runoff
-- coefficients): one water service enters the importance.
with lc_now as (
    select catalog_id from {{ ref('stg_raster__ident_layers') }} where role = 'landcover_now'
),

v as (
    select s.service,
           st_rastfromwkb(raster.np_apply_mask(raster.np_physical(s.rast::bytea, s.band),
                                               m.rast::bytea)) as rast
    from {{ ref('int_service_values') }} as s
    join lc_now on lc_now.catalog_id = s.landcover_catalog_id
    left join {{ ref('int_constraint_mask_tiles') }} as m
        on m.tile_x = s.tile_x and m.tile_y = s.tile_y
),

stats as (
    select v.service, sum(st.count)::bigint as pixels, min(st.min) as lo, max(st.max) as hi,
           sum(st.sum) as total
    from v cross join lateral st_summarystats(v.rast, 1, true) as st
    where st.count > 0
    group by v.service
),

graded as (
    select * from stats
    where service <> 'water_yield'
       or not exists (select 1 from stats as w where w.service = 'water_conservation')
),

hist as (
    select v.service, u.i, sum(u.c)::bigint as c, sum(u.s) as s
    from v
    join graded as g on g.service = v.service
    cross join lateral raster.np_value_histogram(v.rast::bytea, 1, g.lo, g.hi, 4096) as h
    cross join lateral unnest(h.counts, h.sums) with ordinality as u(c, s, i)
    group by v.service, u.i
),

agg as (
    select service, array_agg(c order by i) as counts, array_agg(s order by i) as sums
    from hist group by service
)

select
    g.service,
    g.pixels,
    g.lo as min_value,
    g.hi as max_value,
    g.total,
    '{{ var("service_grading") }}'::text as grading_method,
    case '{{ var("service_grading") }}'
        when 'cumulative_share' then ident.cumulative_share_breaks(
            a.counts, a.sums, g.lo, g.hi,
            array{{ var('service_shares') | list }}::float8[])
        when 'natural_breaks' then ident.histogram_breaks(a.counts, g.lo, g.hi, 3,
                                                          'natural_breaks')
        else array[ident.histogram_quantile(a.counts, g.lo, g.hi, 1 / 3.0),
                   ident.histogram_quantile(a.counts, g.lo, g.hi, 2 / 3.0)]
    end as breaks
from graded as g
join agg as a using (service)
