{{ config(pre_hook="{{ delete_this_run() }}") }}
-- uncertainty of the restoration benefit per run, project, period and pool, of the same
-- dynamic stocks as project_benefits (int_trajectory_stocks: growth of converted land, linear
-- SOC and dead-organic-matter transitions). The benefit is a linear form of the run's
-- quantities (class densities, B_after, growth rates; int_quantity_factors):
--   inside    sum over project pixels of (stock t2 - stock t1)
--   baseline  ring: n_i x the mean change per pixel of ring pixels of starting class i;
--             no_change: the same pixels' change had they kept their t1 class
-- benefit = inside - baseline. Every quantity is a product of factors (a plot mean, a
-- parameter value, SOC_REF x F_LU ...); ipcc.factor_uncertainty propagates them with each
-- factor one quantity wherever it appears (inside and in the baseline, at t1 and t2, behind
-- every class's SOC): Approach 1 and a seeded Monte Carlo drawing it once per iteration. A
-- factor without a quantified uncertainty leaves the interval null and is named in
-- unquantified. The sampling uncertainty of the ring's mean change is not included.
with traj as (
    select * from {{ ref('int_project_trajectories') }}
),

changes as (
    select * from {{ ref('int_trajectory_changes') }}
),

stocks as (
    select classes, epoch_label, pool, terms from {{ ref('int_trajectory_stocks') }}
),

epochs as (
    select epoch_no, epoch_label from {{ ref('stg_raster__landcover_epochs') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

deltas as (
    -- per trajectory and period: the change as a linear form, and the change of the same
    -- pixels had they kept their t1 class (no-change counterfactual)
    select t.project_version_id, t.area_kind, t.pixels, c.epoch_t1, c.epoch_t2, c.years,
           c.pool, c.class_t1,
           ipcc.lin_combine(c.terms_t2, 1, c.terms_t1, -1) as delta_terms,
           ipcc.lin_combine(cf.terms, 1, c.terms_t1, -1) as kept_terms
    from traj as t
    join changes as c on c.classes = t.classes
    join epochs as e1 on e1.epoch_label = c.epoch_t1
    left join stocks as cf
        on cf.classes = t.classes[1:e1.epoch_no]
                        || array_fill(c.class_t1,
                                      array[(cardinality(t.classes) - e1.epoch_no)::int])
       and cf.epoch_label = c.epoch_t2 and cf.pool = c.pool
),

keys as (
    select distinct epoch_t1, epoch_t2, years, project_version_id, pool
    from deltas where area_kind = 'project'
),

inside as (
    select d.epoch_t1, d.project_version_id, d.pool, q.key as quantity,
           d.pixels * q.value::text::float8 as n
    from deltas as d
    cross join lateral jsonb_each(d.delta_terms) as q
    where d.area_kind = 'project'
),

{% if var('project_baseline') == 'no_change' %}
baseline as (
    select d.epoch_t1, d.project_version_id, d.pool, q.key as quantity,
           d.pixels * q.value::text::float8 as n
    from deltas as d
    cross join lateral jsonb_each(d.kept_terms) as q
    where d.area_kind = 'project'
),
{% else %}
ring_pixels as (
    select epoch_t1, project_version_id, pool, class_t1, sum(pixels)::float8 as pixels
    from deltas where area_kind = 'baseline_ring'
    group by 1, 2, 3, 4
),

ring_rate as (
    -- mean change per pixel of ring pixels by starting class, as a linear form
    select d.epoch_t1, d.project_version_id, d.pool, d.class_t1, q.key as quantity,
           sum(d.pixels * q.value::text::float8) / max(rp.pixels) as per_pixel
    from deltas as d
    join ring_pixels as rp
        on rp.epoch_t1 = d.epoch_t1 and rp.project_version_id = d.project_version_id
       and rp.pool = d.pool and rp.class_t1 = d.class_t1
    cross join lateral jsonb_each(d.delta_terms) as q
    where d.area_kind = 'baseline_ring'
    group by 1, 2, 3, 4, 5
),

inside_start as (
    select epoch_t1, project_version_id, pool, class_t1, sum(pixels)::float8 as n_i
    from deltas where area_kind = 'project'
    group by 1, 2, 3, 4
),

baseline as (
    select i.epoch_t1, i.project_version_id, i.pool, r.quantity, i.n_i * r.per_pixel as n
    from inside_start as i
    join ring_rate as r
        on r.epoch_t1 = i.epoch_t1 and r.project_version_id = i.project_version_id
       and r.pool = i.pool and r.class_t1 = i.class_t1
),
{% endif %}

coefs as (
    select epoch_t1, project_version_id, pool, quantity, sum(n) * max(r.pixel_area_ha) as coef
    from (
        select * from inside
        union all
        select epoch_t1, project_version_id, pool, quantity, -n from baseline
    ) as u
    cross join region as r
    group by 1, 2, 3, 4
),

grouped as (
    select k.epoch_t1, k.epoch_t2, k.years, k.project_version_id, k.pool,
           coalesce(jsonb_agg(jsonb_build_object('c', c.coef, 'f', f.factors))
                        filter (where c.quantity is not null), '[]'::jsonb) as terms
    from keys as k
    left join coefs as c
        on c.epoch_t1 = k.epoch_t1 and c.project_version_id = k.project_version_id
       and c.pool = k.pool
    left join {{ ref('int_quantity_factors') }} as f on f.quantity = c.quantity
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
    u.total as benefit_t,
    u.u_approach1_pct,
    u.mc_mean as mc_mean_t,
    u.p2_5 as mc_p2_5_t,
    u.p97_5 as mc_p97_5_t,
    -ipcc.co2e(u.p97_5 / nullif(g.years, 0)) as sink_enhancement_co2e_p2_5_t_per_yr,
    -ipcc.co2e(u.p2_5 / nullif(g.years, 0)) as sink_enhancement_co2e_p97_5_t_per_yr,
    '{{ var("project_baseline") }}'::text as baseline_method,
    {{ var('mc_draws') }} as mc_draws,
    {{ var('mc_seed') }} as mc_seed,
    u.unquantified
from grouped as g
join {{ ref('stg_registry__projects') }} as p on p.project_version_id = g.project_version_id
cross join lateral ipcc.factor_uncertainty(g.terms, {{ var('mc_draws') }},
                                           {{ var('mc_seed') }}) as u
