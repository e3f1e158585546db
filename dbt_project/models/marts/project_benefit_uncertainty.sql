{{ config(pre_hook="{{ delete_this_run() }}") }}
-- uncertainty of the restoration benefit per run, project, period and pool. The benefit is
-- linear in the class densities, benefit = sum_k coef_k x d_k, with coef_k = (pixels that
-- became k - pixels that left k) inside the project minus the same implied by the baseline
-- (ring: n_i x share of ring pixels going i -> k, less n_k; no_change: 0), x pixel area.
-- IPCC Approach 1 on the terms and Approach 2: seeded Monte Carlo drawing each class density
-- once per iteration (so the same density inside and in the baseline stays correlated).
-- project_benefits books the dynamic stocks (growth of converted land, linear SOC/DOM
-- transitions): where they differ from the class-density benefit above, the difference is
-- added to the benefit and its interval as a term without uncertainty of its own (the
-- absolute half-width stays that of the density terms)
with tr as (
    select * from {{ ref('int_project_transitions') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

inside_net as (
    select t.epoch_t1, t.epoch_t2, t.years, t.project_version_id, c.class_code,
           sum(case when t.class_t2 = c.class_code then t.pixels else 0 end
               - case when t.class_t1 = c.class_code then t.pixels else 0 end)::float8 as n
    from tr as t
    cross join lateral (select t.class_t1 as class_code union select t.class_t2) as c
    where t.area_kind = 'project'
    group by 1, 2, 3, 4, 5
),

inside_start as (
    select epoch_t1, epoch_t2, project_version_id, class_t1, sum(pixels)::float8 as n_i
    from tr where area_kind = 'project'
    group by 1, 2, 3, 4
),

ring_share as (
    select epoch_t1, epoch_t2, project_version_id, class_t1, class_t2,
           pixels::float8 / sum(pixels) over (partition by epoch_t1, epoch_t2,
                                              project_version_id, class_t1) as s
    from tr where area_kind = 'baseline_ring'
),

baseline_coef as (
    -- + n_i x s_ij on class j, - n_i on class i (for starting classes with ring pixels)
    select i.epoch_t1, i.epoch_t2, i.project_version_id, r.class_t2 as class_code,
           sum(i.n_i * r.s) as n
    from inside_start as i
    join ring_share as r
        on r.epoch_t1 = i.epoch_t1 and r.epoch_t2 = i.epoch_t2
       and r.project_version_id = i.project_version_id and r.class_t1 = i.class_t1
    group by 1, 2, 3, 4
    union all
    select i.epoch_t1, i.epoch_t2, i.project_version_id, i.class_t1, -i.n_i
    from inside_start as i
    where exists (select 1 from ring_share as r
                  where r.epoch_t1 = i.epoch_t1 and r.epoch_t2 = i.epoch_t2
                    and r.project_version_id = i.project_version_id
                    and r.class_t1 = i.class_t1)
),

coefs as (
    select epoch_t1, epoch_t2, project_version_id, class_code, sum(n) as n
    from (
        select epoch_t1, epoch_t2, project_version_id, class_code, n from inside_net
        {% if var('project_baseline') != 'no_change' %}
        union all
        select epoch_t1, epoch_t2, project_version_id, class_code, -n from baseline_coef
        {% endif %}
    ) as u
    group by 1, 2, 3, 4
),

terms as (
    select c.epoch_t1, c.epoch_t2, y.years, c.project_version_id, d.pool, c.class_code,
           c.n * r.pixel_area_ha as coef, d.carbon_t_per_ha as density,
           coalesce(d.uncertainty_pct, 0) as u_pct
    from coefs as c
    cross join region as r
    join {{ ref('int_carbon_densities') }} as d on d.class_code = c.class_code
    join (select distinct epoch_t1, epoch_t2, years from tr) as y
        on y.epoch_t1 = c.epoch_t1 and y.epoch_t2 = c.epoch_t2
),

grouped as (
    select epoch_t1, epoch_t2, years, project_version_id, pool,
           sum(coef * density) as benefit_t,
           array_agg(coef order by class_code) as coefs,
           array_agg(density order by class_code) as densities,
           array_agg(u_pct order by class_code) as u_pcts,
           array_agg(coef * density order by class_code) as contributions
    from terms
    group by 1, 2, 3, 4, 5
)

select
    {{ var('run_id') }}::bigint as run_id,
    g.project_version_id,
    p.project_id,
    g.epoch_t1,
    g.epoch_t2,
    g.years,
    g.pool,
    g.benefit_t + dyn.shift_t as benefit_t,
    ipcc.u_sum(g.contributions, g.u_pcts) * abs(g.benefit_t)
        / nullif(abs(g.benefit_t + dyn.shift_t), 0) as u_approach1_pct,
    mc.mc_mean + dyn.shift_t as mc_mean_t,
    mc.p2_5 + dyn.shift_t as mc_p2_5_t,
    mc.p97_5 + dyn.shift_t as mc_p97_5_t,
    -ipcc.co2e((mc.p97_5 + dyn.shift_t) / nullif(g.years, 0))
        as sink_enhancement_co2e_p2_5_t_per_yr,
    -ipcc.co2e((mc.p2_5 + dyn.shift_t) / nullif(g.years, 0))
        as sink_enhancement_co2e_p97_5_t_per_yr,
    '{{ var("project_baseline") }}'::text as baseline_method,
    {{ var('mc_draws') }} as mc_draws,
    {{ var('mc_seed') }} as mc_seed
from grouped as g
join {{ ref('stg_registry__projects') }} as p on p.project_version_id = g.project_version_id
cross join lateral ipcc.monte_carlo_linear(g.coefs, g.densities, g.u_pcts,
                                           {{ var('mc_draws') }}, {{ var('mc_seed') }}) as mc
cross join lateral (
    select coalesce(max(b.benefit_t) - g.benefit_t, 0) as shift_t
    from {{ ref('project_benefits') }} as b
    where b.run_id = {{ var('run_id') }} and b.project_version_id = g.project_version_id
      and b.epoch_t1 = g.epoch_t1 and b.pool = g.pool
) as dyn
