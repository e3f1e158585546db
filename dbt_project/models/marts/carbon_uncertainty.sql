{{ config(pre_hook="{{ delete_this_run() }}") }}
-- uncertainty of stock totals (per epoch) and of stock changes (per period), per zone and pool,
-- of the same dynamic stocks as carbon_stocks and carbon_stock_changes (int_trajectory_stocks).
-- Each total is a sum of products of factors (ipcc.factor_uncertainty): every dynamic stock is
-- a linear form of the class densities, B_after and growth rates (terms), and every density a
-- product of its factors (a plot mean, a parameter value, or Tier 1 SOC_REF x F_LU ...). A
-- factor used by several classes, both epochs, or SOC_REF behind every class's SOC is one
-- quantity: Approach 1 differentiates the total with respect to each factor, the Monte Carlo
-- draws it once per iteration (lognormal where U > 30 %).
-- Stock totals of an epoch with land-cover reference samples (landcover_accuracy) take the
-- area-adjusted class areas as the estimate (Olofsson et al. 2014: each class's mapped stock x
-- adjusted area / mapped area, the same ratio in every zone) with the adjusted area's CI as a
-- factor; mapped_total_t keeps the mapped figure. Changes use the mapped transitions (adjusting
-- change areas needs a sample of the change map). A factor without a quantified uncertainty
-- leaves the row's uncertainty null and is named in unquantified (never counted as 0).
with region as (
    select * from {{ ref('stg_registry__regions') }}
),

zones as (
    select zone_id, zone_set, zone_code from {{ ref('stg_registry__zones') }}
),

traj as (
    select * from {{ ref('int_landcover_trajectories') }}
),

quantity_values as (
    select quantity, value, factors from {{ ref('int_quantity_factors') }}
),

adjusted_area as (
    -- per epoch with reference samples and class: adjusted / mapped area, and its uncertainty
    select epoch_label, class_code,
           estimated_area_ha / nullif(mapped_area_ha, 0) as ratio,
           area_uncertainty_pct
    from {{ ref('landcover_accuracy') }}
    where run_id = {{ var('run_id') }}
),

stock_parts as (
    -- t C per (zone, epoch, pool, class at the epoch, quantity): pixels x pixel area x the
    -- quantity's coefficient in the dynamic stock
    select t.zone_set, t.zone_id, s.epoch_label, s.pool, s.class_code, q.key as quantity,
           sum(t.pixels * r.pixel_area_ha * q.value::text::float8) as coef
    from traj as t
    join {{ ref('int_trajectory_stocks') }} as s on s.classes = t.classes
    cross join region as r
    cross join lateral jsonb_each(s.terms) as q
    group by 1, 2, 3, 4, 5, 6
),

stock_terms as (
    select p.zone_set, p.zone_id, 'stock' as quantity, p.epoch_label as epoch_t1,
           p.epoch_label as epoch_t2, p.pool, p.coef, p.coef * f.value as mapped_t,
           case when a.ratio is null then f.factors
                else jsonb_build_array(jsonb_build_array(
                         'adjusted area ' || p.epoch_label || ' class ' || p.class_code,
                         a.ratio, a.area_uncertainty_pct)) || f.factors end as factors,
           a.ratio is not null as adjusted
    from stock_parts as p
    join quantity_values as f on f.quantity = p.quantity
    left join adjusted_area as a on a.epoch_label = p.epoch_label and a.class_code = p.class_code
),

change_parts as (
    -- t C per (zone, period, pool, quantity) of t2 - t1 over pixels valid in both epochs
    select t.zone_set, t.zone_id, c.epoch_t1, c.epoch_t2, c.pool, q.key as quantity,
           sum(t.pixels * r.pixel_area_ha * q.value::text::float8) as coef
    from traj as t
    join {{ ref('int_trajectory_changes') }} as c on c.classes = t.classes
    cross join region as r
    -- (a zone without any change keeps a row: one term 0)
    left join lateral jsonb_each(ipcc.lin_combine(c.terms_t2, 1, c.terms_t1, -1)) as q on true
    group by 1, 2, 3, 4, 5, 6
),

change_terms as (
    select p.zone_set, p.zone_id, 'change' as quantity, p.epoch_t1, p.epoch_t2, p.pool,
           coalesce(p.coef, 0) as coef, coalesce(p.coef * f.value, 0) as mapped_t,
           coalesce(f.factors, '[]'::jsonb) as factors, false as adjusted
    from change_parts as p
    left join quantity_values as f on f.quantity = p.quantity
),

grouped as (
    select zone_set, zone_id, quantity, epoch_t1, epoch_t2, pool,
           sum(mapped_t) as mapped_total_t,
           jsonb_agg(jsonb_build_object('c', coef, 'f', factors)) as terms,
           bool_or(adjusted) as adjusted
    from (select * from stock_terms union all select * from change_terms) as t
    group by 1, 2, 3, 4, 5, 6
)

select
    {{ var('run_id') }}::bigint as run_id,
    g.zone_set,
    coalesce(z.zone_code, r.region_name) as zone_code,
    g.quantity,
    g.epoch_t1,
    g.epoch_t2,
    g.pool,
    u.total as total_t,
    g.mapped_total_t,
    case when g.adjusted then 'olofsson_adjusted' else 'mapped' end as area_basis,
    u.u_approach1_pct,
    u.mc_mean as mc_mean_t,
    u.p2_5 as mc_p2_5_t,
    u.p97_5 as mc_p97_5_t,
    {{ var('mc_draws') }} as mc_draws,
    {{ var('mc_seed') }} as mc_seed,
    g.adjusted as includes_area_uncertainty,
    u.unquantified
from grouped as g
cross join region as r
left join zones as z on z.zone_id = g.zone_id and z.zone_set = g.zone_set
cross join lateral ipcc.factor_uncertainty(g.terms, {{ var('mc_draws') }},
                                           {{ var('mc_seed') }}) as u
