-- the density used for every class and pool, by tier: plot-derived (Tier 2: mean and standard
-- error of at least min_plots plots of the class; the region is the stratum: one IPCC climate
-- zone and soil type) else the active parameter set else the IPCC Tier 1 default for the
-- region's climate and soil (int_ipcc_default_densities)
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

defaults as (
    select * from {{ ref('int_ipcc_default_densities') }}
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
         then 196.0 * pl.se_t_per_ha / nullif(pl.mean_t_per_ha, 0)
         when pa.class_code is not null then pa.uncertainty_pct
         else df.uncertainty_pct end as uncertainty_pct,
    case when pl.class_code is not null then 'plots'
         when pa.class_code is not null then pa.tier
         else df.tier end as tier,
    pl.n as plot_count,
    pa.parameter_set_id,
    pa.parameter_set_name,
    pa.parameter_set_version,
    case when pl.class_code is not null
         then 'mean of ' || pl.n || ' survey plots (Tier 2)'
         when pa.class_code is not null then pa.source
         else df.source || ' [IPCC ' || '{{ var("ipcc_edition") }}' || ' Tier 1]' end as source
from keys as k
left join plots as pl on pl.class_code = k.class_code and pl.pool = k.pool
left join params as pa on pa.class_code = k.class_code and pa.pool = k.pool
left join defaults as df on df.class_code = k.class_code and df.pool = k.pool
