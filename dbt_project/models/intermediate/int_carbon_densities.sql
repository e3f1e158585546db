-- the density used for every class and pool, by tier: plot-derived (Tier 2: mean of at least
-- min_plots distinct plots of the class, and never fewer than 2; the region is the stratum: one
-- IPCC climate zone and soil type) else the active parameter set else the IPCC Tier 1 default
-- for the region's climate and soil (int_ipcc_default_densities).
-- Tier 2 sample unit = the plot: a plot's value in a class is the mean of its per-epoch values
-- in that class (int_plot_classes: one measurement per plot, pool and observed epoch), so
-- repeated measurements of one plot count once; uncertainty = 95 % CI half-width of the mean,
-- t(0.975, n - 1) x s / sqrt(n) (Student t, ipcc.t_quantile), in % of the mean.
with plot_values as (
    select class_code, pool, plot_uid, avg(measured_t_per_ha) as t_per_ha
    from {{ ref('int_plot_classes') }}
    where class_code is not null
    group by 1, 2, 3
),

plots as (
    select class_code, pool, count(*) as n, avg(t_per_ha) as mean_t_per_ha,
           stddev_samp(t_per_ha) / sqrt(count(*)) as se_t_per_ha,
           ipcc.t_quantile(0.975, (count(*) - 1)::int) as t_975
    from plot_values
    group by 1, 2
    having count(*) >= greatest({{ var('min_plots') }}, 2)
),

params as (
    select * from {{ ref('stg_registry__carbon_densities') }}
),

defaults as (
    -- Tier 1 rows without a value (a stratum IPCC gives nothing for) are not densities:
    -- int_density_gaps names them and fails the run unless plots or the parameter set fill them
    select * from {{ ref('int_ipcc_default_densities') }}
    where carbon_t_per_ha is not null
),

keys as (
    select class_code, pool from params
    union
    select class_code, pool from plots
    union
    select class_code, pool from defaults
)

select
    k.class_code,
    k.pool,
    coalesce(pl.mean_t_per_ha, pa.carbon_t_per_ha, df.carbon_t_per_ha) as carbon_t_per_ha,
    case when pl.class_code is not null
         then 100.0 * pl.t_975 * pl.se_t_per_ha / nullif(pl.mean_t_per_ha, 0)
         when pa.class_code is not null then pa.uncertainty_pct
         else df.uncertainty_pct end as uncertainty_pct,
    case when pl.class_code is not null then 'plots'
         when pa.class_code is not null then pa.tier
         else df.tier end as tier,
    -- the factors whose product is the density, [key, value, u_pct] (ipcc.factor_uncertainty)
    case when pl.class_code is not null
         then jsonb_build_array(jsonb_build_array(
             'plots class ' || k.class_code || ' ' || k.pool, pl.mean_t_per_ha,
             100.0 * pl.t_975 * pl.se_t_per_ha / nullif(pl.mean_t_per_ha, 0)))
         when pa.class_code is not null
         then jsonb_build_array(jsonb_build_array(
             pa.parameter_set_name || ' v' || pa.parameter_set_version || ' class '
             || k.class_code || ' ' || k.pool, pa.carbon_t_per_ha, pa.uncertainty_pct))
         else df.factors end as factors,
    pl.n as plot_count,
    pa.parameter_set_id,
    pa.parameter_set_name,
    pa.parameter_set_version,
    case when pl.class_code is not null
         then 'mean of ' || pl.n || ' survey plots (Tier 2; 95 % CI with t(0.975, '
              || pl.n - 1 || ') = ' || round(pl.t_975::numeric, 3) || ')'
         when pa.class_code is not null then pa.source
         else df.source || ' [IPCC ' || '{{ var("ipcc_edition") }}' || ' Tier 1]' end as source
from keys as k
left join plots as pl on pl.class_code = k.class_code and pl.pool = k.pool
left join params as pa on pa.class_code = k.class_code and pa.pool = k.pool
left join defaults as df on df.class_code = k.class_code and df.pool = k.pool
