{{ config(pre_hook="{{ delete_this_run() }}") }}
-- restoration benefit per run, project, period and pool: stock change inside the project minus
-- the baseline change, expressed per year and as a CO2e sink. Baseline (var project_baseline):
--   ring       the change of comparable pixels (same class at t1) in a ring of baseline_ring_m
--              outside all projects (default)
--   no_change  the declared scenario: without the project the land keeps its t1 classes
with tr as (
    select * from {{ ref('int_project_transitions') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

densities as (
    select * from {{ ref('int_carbon_densities') }}
),

deltas as (
    -- carbon change (t C/ha) of each transition, per pool
    select tr.*, d1.pool, d2.carbon_t_per_ha - d1.carbon_t_per_ha as delta_t_per_ha
    from tr
    join densities as d1 on d1.class_code = tr.class_t1
    join densities as d2 on d2.class_code = tr.class_t2 and d2.pool = d1.pool
),

ring_rate as (
    -- mean change per ha of ring pixels by starting class
    select epoch_t1, epoch_t2, project_version_id, pool, class_t1,
           sum(pixels * delta_t_per_ha) / sum(pixels) as delta_t_per_ha
    from deltas
    where area_kind = 'baseline_ring'
    group by 1, 2, 3, 4, 5
),

inside as (
    select d.epoch_t1, d.epoch_t2, d.years, d.project_version_id, d.pool, d.class_t1,
           sum(d.pixels) as pixels,
           sum(d.pixels * d.delta_t_per_ha) as change_px_t_per_ha
    from deltas as d
    where d.area_kind = 'project'
    group by 1, 2, 3, 4, 5, 6
),

per_project as (
    select i.epoch_t1, i.epoch_t2, i.years, i.project_version_id, i.pool,
           sum(i.pixels) * max(r.pixel_area_ha) as area_ha,
           sum(i.change_px_t_per_ha) * max(r.pixel_area_ha) as change_t,
           {% if var('project_baseline') == 'no_change' %}0::float8
           {% else %}sum(i.pixels * coalesce(rr.delta_t_per_ha, 0)) * max(r.pixel_area_ha)
           {% endif %} as baseline_change_t,
           sum(case when rr.delta_t_per_ha is not null then i.pixels else 0 end)::float8
               / sum(i.pixels) as baseline_coverage
    from inside as i
    cross join region as r
    left join ring_rate as rr
        on rr.epoch_t1 = i.epoch_t1 and rr.epoch_t2 = i.epoch_t2
       and rr.project_version_id = i.project_version_id and rr.pool = i.pool
       and rr.class_t1 = i.class_t1
    group by 1, 2, 3, 4, 5
)

select
    {{ var('run_id') }}::bigint as run_id,
    p.project_version_id,
    p.project_id,
    p.project_name,
    p.project_type,
    p.is_example,
    pp.epoch_t1,
    pp.epoch_t2,
    pp.years,
    pp.pool,
    pp.area_ha,
    pp.change_t,
    pp.baseline_change_t,
    pp.change_t - pp.baseline_change_t as benefit_t,
    (pp.change_t - pp.baseline_change_t) / nullif(pp.years, 0) as benefit_t_per_yr,
    -ipcc.co2e((pp.change_t - pp.baseline_change_t) / nullif(pp.years, 0))
        as sink_enhancement_co2e_t_per_yr,
    pp.baseline_coverage,
    {{ var('baseline_ring_m') }}::float8 as baseline_ring_m,
    '{{ var("project_baseline") }}'::text as baseline_method
from per_project as pp
join {{ ref('stg_registry__projects') }} as p on p.project_version_id = pp.project_version_id
