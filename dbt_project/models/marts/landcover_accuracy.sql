{{ config(pre_hook="{{ delete_this_run() }}") }}
-- accuracy of each land-cover epoch against reference samples with a reference class
-- (HJ 1176: overall accuracy > 85 %), with the area-adjusted class areas and their 95 %
-- confidence intervals (Olofsson et al. 2014). area_uncertainty_pct (CI / adjusted area) is
-- the activity-data uncertainty that carbon_uncertainty combines with the density
-- uncertainty of the stocks
with s as (
    select * from {{ ref('int_landcover_samples') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

mapped as (
    select epoch_label, class_code, sum(pixels) as pixels
    from {{ ref('int_landcover_counts') }}
    where zone_set = 'region'
    group by 1, 2
),

classes as (
    select epoch_label, class_code from mapped where epoch_label in (select epoch_label from s)
    union
    select epoch_label, map_class from s
    union
    select epoch_label, reference_class from s
),

cells as (
    select a.epoch_label, a.class_code as map_class, b.class_code as ref_class,
           (select count(*) from s where s.epoch_label = a.epoch_label
              and s.map_class = a.class_code and s.reference_class = b.class_code) as n
    from classes as a
    join classes as b on b.epoch_label = a.epoch_label
),

inputs as (
    select c.epoch_label,
           array_agg(c.n::float8 order by c.map_class, c.ref_class) as counts,
           (select array_agg(k.class_code order by k.class_code) from classes as k
            where k.epoch_label = c.epoch_label) as codes,
           (select array_agg(coalesce(m.pixels, 0) * r.pixel_area_ha order by k.class_code)
            from classes as k
            left join mapped as m on m.epoch_label = k.epoch_label
                                 and m.class_code = k.class_code
            cross join region as r
            where k.epoch_label = c.epoch_label) as areas,
           (select count(*) from s where s.epoch_label = c.epoch_label) as samples
    from cells as c
    group by c.epoch_label
)

select
    {{ var('run_id') }}::bigint as run_id,
    i.epoch_label,
    o.class_code,
    {{ olofsson_columns() }},
    100.0 * o.estimated_area_ci / nullif(o.estimated_area, 0) as area_uncertainty_pct
from inputs as i
cross join lateral ident.olofsson(i.counts, i.codes, i.areas) as o
where i.samples > 0
