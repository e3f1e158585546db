{{ config(pre_hook="{{ delete_this_run() }}") }}
-- plot validation per run, ecosystem type and pool (METHODS §6): distinct plots, comparisons
-- (plot x observed epoch with a modelled value), share of comparisons within +-10 %, mean
-- relative error MRE = mean |d|, bias = mean d, RMSE (t C/ha), REE (HJ 1176:
-- sqrt(mean(((measured - modelled) / modelled)^2))) and whether the aggregate deviation (bias)
-- is within +-10 %. Plots without a modelled value count in plots, not in the statistics.
select
    {{ var('run_id') }}::bigint as run_id,
    coalesce(ecosystem_type, 'unknown') as ecosystem_type,
    pool,
    count(distinct plot_id) as plots,
    count(modelled_t_per_ha) as comparisons,
    bool_or(is_cross_validated) as is_cross_validated,
    avg(measured_t_per_ha) filter (where modelled_t_per_ha is not null)
        as mean_measured_t_per_ha,
    avg(modelled_t_per_ha) as mean_modelled_t_per_ha,
    (100.0 * avg(case when is_within_10pct then 1 else 0 end)
        filter (where modelled_t_per_ha is not null))::float8 as within_10pct_share_pct,
    avg(abs(deviation_pct)) as mre_pct,
    avg(deviation_pct) as bias_pct,
    sqrt(avg((modelled_t_per_ha - measured_t_per_ha) ^ 2)) as rmse_t_per_ha,
    100.0 * sqrt(avg(((measured_t_per_ha - modelled_t_per_ha)
                      / nullif(modelled_t_per_ha, 0)) ^ 2)) as ree_pct,
    abs(avg(deviation_pct)) <= 10 as bias_within_10pct
from {{ ref('plot_validation') }}
where run_id = {{ var('run_id') }}
group by coalesce(ecosystem_type, 'unknown'), pool
