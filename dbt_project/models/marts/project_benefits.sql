{{ config(pre_hook="{{ delete_this_run() }}") }}
-- restoration benefit per run, project, period and pool: stock change inside the project minus
-- the baseline change, expressed per year and as a CO2e sink. Stocks are the dynamic stocks of
-- the pixels' land-cover trajectories (int_trajectory_stocks: converted land grows toward its
-- class density, SOC and dead organic matter move linearly toward their new equilibrium).
-- Baseline (var project_baseline):
--   ring       the change of comparable pixels (same class at t1) in a ring of baseline_ring_m
--              outside all projects (default)
--   no_change  the declared scenario: without the project the land keeps its t1 classes from
--              t1 on (and so continues any transition it is in at t1)
with traj as (
    select * from {{ ref('int_project_trajectories') }}
),

changes as (
    select * from {{ ref('int_trajectory_changes') }}
),

stocks as (
    select classes, epoch_label, pool, carbon_t_per_ha from {{ ref('int_trajectory_stocks') }}
),

epochs as (
    select epoch_no, epoch_label from {{ ref('stg_raster__landcover_epochs') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

deltas as (
    -- dynamic carbon change (t C/ha) of each trajectory in each period, per pool, and the
    -- change of the same pixels had they kept their t1 class (no-change counterfactual)
    select t.project_version_id, t.area_kind, t.pixels, c.epoch_t1, c.epoch_t2, c.years,
           c.pool, c.class_t1,
           c.stock_t2_t_per_ha - c.stock_t1_t_per_ha as delta_t_per_ha,
           cf.carbon_t_per_ha - c.stock_t1_t_per_ha as kept_delta_t_per_ha
    from traj as t
    join changes as c on c.classes = t.classes
    join epochs as e1 on e1.epoch_label = c.epoch_t1
    left join stocks as cf
        on cf.classes = t.classes[1:e1.epoch_no]
                        || array_fill(c.class_t1,
                                      array[(cardinality(t.classes) - e1.epoch_no)::int])
       and cf.epoch_label = c.epoch_t2 and cf.pool = c.pool
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
           sum(d.pixels * d.delta_t_per_ha) as change_px_t_per_ha,
           sum(d.pixels * d.kept_delta_t_per_ha) as kept_px_t_per_ha
    from deltas as d
    where d.area_kind = 'project'
    group by 1, 2, 3, 4, 5, 6
),

per_project as (
    select i.epoch_t1, i.epoch_t2, i.years, i.project_version_id, i.pool,
           sum(i.pixels) * max(r.pixel_area_ha) as area_ha,
           sum(i.change_px_t_per_ha) * max(r.pixel_area_ha) as change_t,
           {% if var('project_baseline') == 'no_change' %}
           sum(i.kept_px_t_per_ha) * max(r.pixel_area_ha)
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
