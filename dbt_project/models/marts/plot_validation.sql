{{ config(pre_hook="{{ delete_this_run() }}") }}
-- modelled vs measured density at every plot, pool and observed land-cover epoch (one
-- measurement per plot, pool and epoch: int_plot_classes). Where plots also calibrated the
-- density (Tier 2), the modelled value is cross-validated: the mean of the class's other plots
-- in the other folds (one value per plot, as in the Tier 2 mean), so that no plot validates
-- itself. Every plot is kept: a plot on a pixel without data, or in a class and pool without a
-- density, has no modelled value (and no deviation); with cv_folds = 1 a Tier 2 class is
-- compared in sample (is_cross_validated false).
with pc as (
    select * from {{ ref('int_plot_classes') }}
),

dens as (
    select * from {{ ref('int_carbon_densities') }}
),

plot_values as (
    select class_code, pool, plot_uid, fold, avg(measured_t_per_ha) as t_per_ha
    from pc
    where class_code is not null
    group by 1, 2, 3, 4
),

cv as (
    select a.measurement_id, avg(b.t_per_ha) as cv_t_per_ha, count(*) as cv_plots
    from pc as a
    join plot_values as b
        on b.class_code = a.class_code and b.pool = a.pool and b.fold <> a.fold
    group by a.measurement_id
),

modelled as (
    select pc.*, d.tier,
           d.tier = 'plots' and cv.cv_t_per_ha is not null as is_cross_validated,
           case when d.tier = 'plots' then coalesce(cv.cv_t_per_ha, d.carbon_t_per_ha)
                else d.carbon_t_per_ha end as modelled_t_per_ha
    from pc
    left join dens as d on d.class_code = pc.class_code and d.pool = pc.pool
    left join cv on cv.measurement_id = pc.measurement_id
)

select
    {{ var('run_id') }}::bigint as run_id,
    measurement_id,
    plot_id,
    ecosystem_type,
    measured_date,
    epoch_measurements,
    pool,
    class_code,
    epoch_label,
    tier,
    coalesce(is_cross_validated, false) as is_cross_validated,
    fold,
    measured_t_per_ha,
    modelled_t_per_ha,
    100.0 * (modelled_t_per_ha - measured_t_per_ha) / nullif(measured_t_per_ha, 0)
        as deviation_pct,
    abs(modelled_t_per_ha - measured_t_per_ha) <= 0.1 * measured_t_per_ha as is_within_10pct
from modelled
