-- the density used for every class and pool, by tier: plot-derived (Tier 2: mean and standard
-- error of at least min_plots plots of the class) else the active parameter set
with plots as (
    select class_code, pool, count(*) as n, avg(measured_t_per_ha) as mean_t_per_ha,
           stddev_samp(measured_t_per_ha) / sqrt(count(*)) as se_t_per_ha
    from {{ ref('int_plot_classes') }}
    group by 1, 2
    having count(*) >= {{ var('min_plots') }}
),

params as (
    select * from {{ ref('stg_registry__carbon_densities') }}
),

keys as (
    select class_code, pool from params
    union
    select class_code, pool from plots
)

select
    k.class_code,
    k.pool,
    coalesce(pl.mean_t_per_ha, pa.carbon_t_per_ha) as carbon_t_per_ha,
    case when pl.class_code is not null
         then 196.0 * pl.se_t_per_ha / nullif(pl.mean_t_per_ha, 0)
         else pa.uncertainty_pct end as uncertainty_pct,
    case when pl.class_code is not null then 'plots' else pa.tier end as tier,
    pl.n as plot_count,
    pa.parameter_set_id,
    pa.parameter_set_name,
    pa.parameter_set_version,
    case when pl.class_code is not null
         then 'mean of ' || pl.n || ' survey plots (Tier 2)'
         else pa.source end as source
from keys as k
left join plots as pl on pl.class_code = k.class_code and pl.pool = k.pool
left join params as pa on pa.class_code = k.class_code and pa.pool = k.pool
