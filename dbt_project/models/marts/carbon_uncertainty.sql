{{ config(pre_hook="{{ delete_this_run() }}") }}
-- uncertainty of stock totals (per epoch) and of stock changes (per period), per zone and pool:
-- IPCC Approach 1 (error propagation over classes) and Approach 2 (seeded Monte Carlo, each
-- class density drawn once per iteration so t1 and t2 share it). Stock totals include the
-- uncertainty of the class areas where landcover_accuracy has it (reference samples with a
-- reference class); changes carry the density uncertainty only.
with area_u as (
    select epoch_label, class_code, area_uncertainty_pct
    from {{ ref('landcover_accuracy') }}
    where run_id = {{ var('run_id') }}
),

stock_terms as (
    -- one term per class: area x density, whose uncertainty combines the density's and, where
    -- reference samples give it, the class area's (Approach 1 product rule)
    select c.zone_set, c.zone_code, 'stock' as quantity, c.epoch_label as epoch_t1,
           c.epoch_label as epoch_t2, c.pool, c.class_code, 1.0::float8 as coef,
           c.area_ha * c.carbon_t_per_ha as density,
           sqrt(coalesce(c.uncertainty_pct, 0) ^ 2
                + coalesce(a.area_uncertainty_pct, 0) ^ 2) as u_pct
    from {{ ref('carbon_stocks') }} as c
    left join area_u as a on a.epoch_label = c.epoch_label and a.class_code = c.class_code
    where c.run_id = {{ var('run_id') }}
),

region as (
    select * from {{ ref('stg_registry__regions') }}
),

zones as (
    select zone_id, zone_set, zone_code from {{ ref('stg_registry__zones') }}
),

net_area as (
    -- area gained (t2) minus area lost (t1) per class, over pixels valid in both epochs
    select t.epoch_t1, t.epoch_t2, t.zone_set, t.zone_id, c.class_code,
           sum(case when t.class_t2 = c.class_code then t.pixels else 0 end
               - case when t.class_t1 = c.class_code then t.pixels else 0 end)
               * max(r.pixel_area_ha) as coef
    from {{ ref('int_landcover_transitions') }} as t
    cross join region as r
    cross join lateral (select t.class_t1 as class_code union select t.class_t2) as c
    group by 1, 2, 3, 4, 5
),

change_terms as (
    select n.zone_set, coalesce(z.zone_code, r.region_name) as zone_code,
           'change' as quantity, n.epoch_t1, n.epoch_t2, d.pool, n.class_code, n.coef,
           d.carbon_t_per_ha as density, coalesce(d.uncertainty_pct, 0) as u_pct
    from net_area as n
    cross join region as r
    left join zones as z on z.zone_id = n.zone_id and z.zone_set = n.zone_set
    join {{ ref('int_carbon_densities') }} as d on d.class_code = n.class_code
),

terms as (
    select * from stock_terms
    union all
    select * from change_terms
),

grouped as (
    select zone_set, zone_code, quantity, epoch_t1, epoch_t2, pool,
           sum(coef * density) as total_t,
           array_agg(coef order by class_code) as coefs,
           array_agg(density order by class_code) as densities,
           array_agg(u_pct order by class_code) as u_pcts,
           array_agg(coef * density order by class_code) as contributions
    from terms
    group by 1, 2, 3, 4, 5, 6
)

select
    {{ var('run_id') }}::bigint as run_id,
    g.zone_set,
    g.zone_code,
    g.quantity,
    g.epoch_t1,
    g.epoch_t2,
    g.pool,
    g.total_t,
    ipcc.u_sum(g.contributions, g.u_pcts) as u_approach1_pct,
    mc.mc_mean as mc_mean_t,
    mc.p2_5 as mc_p2_5_t,
    mc.p97_5 as mc_p97_5_t,
    {{ var('mc_draws') }} as mc_draws,
    {{ var('mc_seed') }} as mc_seed,
    g.quantity = 'stock' and exists (select 1 from area_u) as includes_area_uncertainty
from grouped as g
cross join lateral ipcc.monte_carlo_linear(g.coefs, g.densities, g.u_pcts,
                                           {{ var('mc_draws') }}, {{ var('mc_seed') }}) as mc
